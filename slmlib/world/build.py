"""Build the speech world: texts per split, voices, utterance specs, rendering in cached shards.

Stages (each cached by :class:`slmlib.cache.StageCache`):

1. ``world.lexicon`` per language: open-class words, every generator word phonemised and
   checked against what espeak-ng says.
2. ``world.texts`` per language: unique template sentences, partitioned into disjoint text
   pools (real train, synthetic train, dev, test, judge).
3. ``world.render`` per shard of utterances: FLAC files plus one manifest row each.

Splits: ``train`` (training speakers and systems), ``dev`` (same voices, new texts),
``test`` (held-out real speakers and clean synthetic renderings of new texts) and ``judge``
(texts of their own, said by the synthetic systems and by real "judge speakers" who appear
nowhere else, for training the ASR and emotion judges).
"""
from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from slmlib.cache import StageCache
from slmlib.data.corpora import with_corpora
from slmlib.data.manifest import SAMPLE_RATE
from slmlib.parallel import map_chunks, process_pool
from slmlib.paths import project_root
from slmlib.text.lexicon import open_class_words
from slmlib.text.sentences import CLOSED_CLASSES, SentenceGenerator
from slmlib.world.config import WorldConfig
from slmlib.world.lexicon_check import WordCheck, check_words
from slmlib.world.render import FAULTS, UtteranceSpec, render, write_flac
from slmlib.world.voices import Voice, real_speakers, synthetic_systems

SHARD_SIZE = 96
RENDER_VERSION = 3   # bump when rendering code changes what a spec sounds like
TEXT_POOLS = ("real_train", "syn_train", "dev", "test", "judge")


@dataclass
class World:
    manifest: pd.DataFrame          # one row per utterance (see slmlib.data.manifest)
    lexicon: pd.DataFrame           # one row per checked word
    voices: pd.DataFrame            # one row per speaker / system


# --- 1. lexicon ---------------------------------------------------------------------------
def build_lexicon(lang: str, cfg: WorldConfig, cache: StageCache, workers: int
                  ) -> tuple[pd.DataFrame, str]:
    """The checked lexicon of one language and its cache key."""
    params = {"lang": lang, "vocab_per_class": cfg.vocab_per_class,
              "closed": CLOSED_CLASSES[lang]}

    def compute(folder: Path) -> pd.DataFrame:
        open_class = open_class_words(lang, cfg.vocab_per_class)
        pos_of = {w: pos for pos, ws in CLOSED_CLASSES[lang].items() for w in ws}
        pos_of.update({w: pos for pos, ws in open_class.items() for w in ws})
        weight = {w: f for ws in open_class.values() for w, f in ws.items()}
        words = sorted(pos_of)
        checks: list[WordCheck] = map_chunks(check_words, words, workers, lang)
        df = pd.DataFrame([dataclasses.asdict(c) for c in checks])
        df["pos"] = df["word"].map(pos_of)
        df["weight"] = df["word"].map(weight).fillna(0.0)
        df["closed_class"] = df["pos"].isin(list(CLOSED_CLASSES[lang]))
        return df.sort_values("word").reset_index(drop=True)

    step = cache.run("world.lexicon", params, compute)
    lexicon = step.value
    broken = lexicon[lexicon.closed_class & lexicon.error.notna()]
    if len(broken):
        raise RuntimeError(f"{lang}: closed-class words cannot be rendered: "
                           f"{broken[['word', 'error']].to_dict('records')}")
    return lexicon, step.key


# --- 2. texts -----------------------------------------------------------------------------
def pool_sizes(lang: str, cfg: WorldConfig) -> dict[str, int]:
    real = lang in cfg.real_languages
    n_real = cfg.n_real_speakers * cfg.utts_per_real_speaker if real else 0
    ratio = cfg.synthetic_to_real if lang == cfg.scaling_language else cfg.synthetic_to_real_other
    n_syn = round(ratio * n_real) if real else cfg.utts_synthetic_only
    return {"real_train": n_real, "syn_train": n_syn, "dev": cfg.n_dev_texts,
            "test": cfg.n_test_texts, "judge": cfg.n_judge_texts}


def build_texts(lang: str, cfg: WorldConfig, seed: int, lexicon: pd.DataFrame,
                cache: StageCache, lexicon_key: str) -> dict[str, list[tuple[str, ...]]]:
    sizes = pool_sizes(lang, cfg)
    params = {"lang": lang, "seed": seed, "sizes": sizes, "min_words": cfg.min_words,
              "max_words": cfg.max_words}

    def compute(folder: Path) -> dict:
        ok = lexicon[lexicon.error.isna() & ~lexicon.closed_class]
        open_class = {pos: dict(zip(g.word, g.weight)) for pos, g in ok.groupby("pos")}
        gen = SentenceGenerator(lang, open_class)
        rng = np.random.default_rng([seed, 101, sum(map(ord, lang))])
        sentences = gen.unique_sentences(sum(sizes.values()), rng, cfg.min_words, cfg.max_words)
        out, start = {}, 0
        for pool_name in TEXT_POOLS:
            out[pool_name] = [s.words for s in sentences[start:start + sizes[pool_name]]]
            start += sizes[pool_name]
        return out

    return cache.run("world.texts", params, compute, inputs=[lexicon_key]).value


# --- 3. utterance specs -------------------------------------------------------------------
def world_voices(lang: str, cfg: WorldConfig, seed: int) -> dict[str, list[Voice]]:
    real = lang in cfg.real_languages
    return {
        "train": real_speakers(lang, cfg.n_real_speakers, cfg.real_rate_wpm, seed) if real else [],
        "heldout": real_speakers(lang, cfg.n_heldout_speakers, cfg.real_rate_wpm, seed, prefix="H"),
        # Judge speakers say only the judge texts and never reach a spoken language model. A
        # judge must read voices it has not met (P1's Whisper has heard millions), and a
        # language without real training speech (Lao) still needs real speech for its judges.
        "judge": real_speakers(lang, cfg.n_judge_speakers, cfg.real_rate_wpm, seed, prefix="J"),
        "systems": synthetic_systems(lang, cfg.n_synthetic_systems, cfg.synthetic_rate_wpm,
                                     cfg.fault_scale, seed),
    }


def _utt_seed(seed: int, utt_id: str) -> int:
    return int(hashlib.sha256(f"{seed}:{utt_id}".encode()).hexdigest()[:12], 16)


def make_specs(lang: str, cfg: WorldConfig, seed: int, texts: dict, spelling: dict[str, str]
               ) -> list[UtteranceSpec]:
    """Every utterance of a language: who says which text, with which emotion and faults."""
    voices = world_voices(lang, cfg, seed)
    specs: list[UtteranceSpec] = []

    def add(split: str, words: tuple[str, ...], voice: Voice, k: int, faulty: bool,
            turn: int | None = None) -> None:
        """``turn``: in splits that rotate over speakers, how many times the rotation came back
        to this voice; the voice's emotions cycle with it (cycling with ``k`` there would give
        each speaker only the emotions that k = i mod n speakers hits)."""
        utt_id = f"{split}-{voice.name}-{k:05d}"
        useed = _utt_seed(seed, utt_id)
        rng = np.random.default_rng(useed)
        cycle = k if turn is None else turn
        emotion = cfg.emotions[(cycle + int(voice.name[-2:], 36)) % len(cfg.emotions)] \
            if voice.is_real else "neutral"
        faults = tuple(f for f, p in voice.faults if faulty and rng.random() < p)
        specs.append(UtteranceSpec(utt_id, split, tuple(words),
                                   tuple(spelling[w] for w in words), voice, emotion,
                                   useed, faults))

    per = cfg.utts_per_real_speaker
    for i, voice in enumerate(voices["train"]):
        for k, words in enumerate(texts["real_train"][i * per:(i + 1) * per]):
            add("train", words, voice, k, False)
    for k, words in enumerate(texts["syn_train"]):
        add("train", words, voices["systems"][k % len(voices["systems"])], k, True)
    for split, faulty in (("dev", True), ("judge", True)):
        speakers = voices["judge"] if split == "judge" else voices["train"]
        for k, words in enumerate(texts[split]):
            if speakers:
                add(split, words, speakers[k % len(speakers)], k, False, k // len(speakers))
            add(split, words, voices["systems"][k % len(voices["systems"])], k, faulty)
    for k, words in enumerate(texts["test"]):
        if voices["heldout"]:
            n = len(voices["heldout"])
            add("test", words, voices["heldout"][k % n], k, False, k // n)
        add("test", words, voices["systems"][k % len(voices["systems"])], k, False)
    return specs


# --- 4. rendering ---------------------------------------------------------------------------
def render_rows(specs: list[UtteranceSpec], folder: Path) -> list[dict]:
    """Render specs into ``folder``; one manifest row each (``path`` relative to ``folder``,
    which is a temporary folder until the cache renames it into place)."""
    rows = []
    for spec in specs:
        result = render(spec)
        path = folder / f"{spec.id}.flac"
        digest = write_flac(path, result.audio)
        sep = "" if spec.voice.lang in ("th", "lo") else " "
        spoken_words = [_word_of(spec, s) for s in result.spoken]
        rows.append({
            "id": f"{spec.voice.lang}-{spec.id}", "path": path.name, "lang": spec.voice.lang,
            "text": sep.join(spec.words), "words": list(spec.words),
            "spoken_text": sep.join(spoken_words), "speaker": spec.voice.name,
            "system": "real" if spec.voice.is_real else spec.voice.name,
            "is_real": spec.voice.is_real, "emotion": spec.emotion, "split": spec.split,
            "faults": list(spec.faults), **{f"fault_{f}": f in spec.faults for f in FAULTS},
            "duration": len(result.audio) / SAMPLE_RATE, "n_words": len(spec.words),
            "word_times": result.word_times, "words_missing": result.words_missing,
            "phrasing_attempts": result.fault_detail.get("phrasing_attempts", 1),
            "audio_sha": digest,
        })
    return rows


def _word_of(spec: UtteranceSpec, spelling: str) -> str:
    """Map a spoken espeak spelling back to its word; '?' for a mispronounced one."""
    try:
        return spec.words[spec.phonemes.index(spelling)]
    except ValueError:
        return "?"


def _render_shard(args: tuple) -> list[dict]:
    cache_root, version, specs = args
    cache = StageCache(cache_root, version)
    params = {"render_version": RENDER_VERSION, "specs": [dataclasses.asdict(s) for s in specs]}
    step = cache.run("world.render", params, lambda folder: render_rows(specs, folder))
    return [{**row, "path": str(step.path / row["path"])} for row in step.value]


def build_world(cfg: WorldConfig, seed: int, cache: StageCache, workers: int = 2,
                progress: bool = True) -> World:
    """Build (or load from the cache) the whole world described by ``cfg``."""
    from tqdm.auto import tqdm

    unknown = sorted(set(cfg.languages) - set(CLOSED_CLASSES))
    if unknown:
        raise ValueError(f"unsupported languages {unknown}; supported: {', '.join(CLOSED_CLASSES)}")
    lexicons, specs, voice_rows = [], [], []
    for lang in cfg.languages:
        lexicon, lexicon_key = build_lexicon(lang, cfg, cache, workers)
        texts = build_texts(lang, cfg, seed, lexicon, cache, lexicon_key)
        spelling = dict(zip(lexicon.word, lexicon.spelling))
        specs += make_specs(lang, cfg, seed, texts, spelling)
        lexicons.append(lexicon)
        for role, voices in world_voices(lang, cfg, seed).items():
            voice_rows += [{**dataclasses.asdict(v), "role": role} for v in voices]
    shards = [specs[i:i + SHARD_SIZE] for i in range(0, len(specs), SHARD_SIZE)]
    rows: list[dict] = []
    jobs = [(str(cache.root), cache.version, shard) for shard in shards]
    with process_pool(workers) as pool:
        for part in tqdm(pool.map(_render_shard, jobs), total=len(jobs), desc="rendering shards",
                         disable=not progress):
            rows += part
    manifest = pd.DataFrame(rows)
    if cfg.corpora:
        root = project_root()
        manifest = with_corpora(manifest, [p if Path(p).is_absolute() else root / p for p in cfg.corpora])
    return World(manifest, pd.concat(lexicons, ignore_index=True), pd.DataFrame(voice_rows))
