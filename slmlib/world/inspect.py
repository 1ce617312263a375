"""Measurements of a built world, for notebook 00: prosody, tones, faults, speed."""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pandas as pd

from slmlib.cache import StageCache
from slmlib.data.filter import filter_quality, filter_synthetic
from slmlib.data.manifest import load_audio
from slmlib.prosody import f0_contour, prosody_features
from slmlib.stats import ratio_ci
from slmlib.text.g2p import THAI_TONE_NAMES
from slmlib.world.config import WorldConfig
from slmlib.world.render import FAULTS, UtteranceSpec, render, voice_reference_hz
from slmlib.world.voices import real_speakers, synthetic_systems


def f0_table(manifest: pd.DataFrame, cache: StageCache, per_group: int = 150, seed: int = 0
             ) -> pd.DataFrame:
    """Prosody measures (F0, energy) of up to ``per_group`` training utterances per language x
    real/synthetic."""
    train = manifest[manifest.split == "train"]
    sample = train.sample(frac=1.0, random_state=seed).groupby(["lang", "is_real"]).head(per_group)
    params = {"ids": sorted(sample.id), "sha": sorted(sample.audio_sha), "measures": 2}

    def compute(folder) -> pd.DataFrame:
        stats = [prosody_features(load_audio(p)) for p in sample.path]
        return pd.concat([sample[["id", "lang", "is_real", "system", "speaker", "emotion"]]
                          .reset_index(drop=True), pd.DataFrame(stats)], axis=1)

    return cache.run("world.f0_table", params, compute).value


def real_vs_synthetic(f0: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Per language: mean per-utterance F0 std (st) of real and synthetic speech and their ratio."""
    rows = []
    for lang, g in f0.groupby("lang"):
        real, syn = g[g.is_real].f0_std_st, g[~g.is_real].f0_std_st
        row = {"lang": lang, "n_real": len(real), "n_synthetic": len(syn),
               "real_f0_std_st": real.mean(), "synthetic_f0_std_st": syn.mean()}
        if len(real) and len(syn):
            row["ratio"], row["ratio_low"], row["ratio_high"] = ratio_ci(real, syn, seed=seed)
        rows.append(row)
    return pd.DataFrame(rows)


def tone_contours(cfg: WorldConfig, seed: int, lexicon: pd.DataFrame, cache: StageCache,
                  words_per_tone: int = 12, points: int = 20) -> pd.DataFrame:
    """Thai monosyllables said in isolation by one real speaker and one synthetic system:
    time-normalised F0 (semitones re the voice's median over all words) per tone."""
    th = lexicon[(lexicon.lang == "th") & lexicon.spelling.notna()]
    mono = th[th.spelling.str.fullmatch(r"[^0-9]+[1-6]")]
    mono = mono.assign(tone=mono.spelling.str[-1].astype(int).map(THAI_TONE_NAMES)).dropna(subset=["tone"])
    chosen = mono.sample(frac=1.0, random_state=seed).groupby("tone").head(words_per_tone)
    voices = [real_speakers("th", 1, cfg.real_rate_wpm, seed)[0],
              synthetic_systems("th", 1, cfg.synthetic_rate_wpm, 0.0, seed)[0]]
    params = {"words": sorted(chosen.word), "voices": [dataclasses.asdict(v) for v in voices],
              "points": points}

    def compute(folder) -> pd.DataFrame:
        rows = []
        for voice in voices:
            contours = []
            for k, (word, spelling, tone) in enumerate(zip(chosen.word, chosen.spelling, chosen.tone)):
                spec = UtteranceSpec(f"tone-{k}", "dev", (word,), (spelling,), voice, "neutral",
                                     seed + k)
                reference = voice_reference_hz(voice) * voice.f0_ratio
                _, f0 = f0_contour(render(spec).audio, reference_hz=reference)
                voiced = f0[f0 > 0]
                if len(voiced) >= 4:
                    grid = np.linspace(0, len(voiced) - 1, points)
                    contours.append((tone, np.interp(grid, np.arange(len(voiced)), voiced)))
            median = np.median(np.concatenate([c for _, c in contours]))
            kind = "real speaker" if voice.is_real else "synthetic system"
            for i, (tone, hz) in enumerate(contours):
                rows += [{"voice": kind, "tone": tone, "word": i, "position": j / (points - 1),
                          "semitones": 12 * np.log2(h / median)} for j, h in enumerate(hz)]
        return pd.DataFrame(rows)

    return cache.run("world.tone_contours", params, compute).value


def tone_separation(contours: pd.DataFrame) -> pd.DataFrame:
    """Mean level and onset-to-offset movement per tone (semitones), per voice."""
    g = contours.groupby(["voice", "tone", "word"])
    per_word = pd.DataFrame({
        "level": g.semitones.mean(),
        "movement": g.apply(lambda d: d.sort_values("position").semitones.iloc[-3:].mean()
                            - d.sort_values("position").semitones.iloc[:3].mean()),
    }).reset_index()
    return per_word.groupby(["voice", "tone"])[["level", "movement"]].agg(["mean", "std"]).round(2)


def fault_rates(manifest: pd.DataFrame, voices: pd.DataFrame) -> pd.DataFrame:
    """Planned vs realised fault rates per synthetic system (splits with faults)."""
    syn = manifest[~manifest.is_real & manifest.split.isin(["train", "dev", "judge"])]
    rows = []
    for name, g in syn.groupby("system"):
        planned = dict(voices.loc[voices.name == name, "faults"].iloc[0])
        row = {"system": name, "utterances": len(g)}
        for f in FAULTS:
            row[f"{f} planned"] = planned.get(f, 0.0)
            row[f"{f} realised"] = round(float(g[f"fault_{f}"].mean()), 4)
        row["any fault"] = round(float((g.faults.map(len) > 0).mean()), 4)
        rows.append(row)
    return pd.DataFrame(rows)


def coverage(lexicon: pd.DataFrame, manifest: pd.DataFrame) -> pd.DataFrame:
    """Share of candidate words that cannot be rendered, and of rendered words for which espeak
    reported no word event: an upper bound on silently dropped words (espeak's English front
    end sometimes reports two words as one event although both are spoken)."""
    rows = []
    manifest = rendered(manifest)
    for lang, lex in lexicon.groupby("lang"):
        m = manifest[manifest.lang == lang]
        n_words = int(m.n_words.sum())
        rows.append({
            "lang": lang, "candidate words": len(lex),
            "unrenderable (g2p)": int(lex.error.str.startswith("g2p", na=False).sum()),
            "unrenderable (espeak check)": int(lex.error.str.startswith("espeak", na=False).sum()),
            "unrenderable share": round(float(lex.error.notna().mean()), 4),
            "words rendered": n_words,
            "word events missing": int(m.words_missing.sum()),
            "missing share": round(float(m.words_missing.sum() / max(n_words, 1)), 5),
        })
    return pd.DataFrame(rows)


def oracle_filter(manifest: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """P1's filter with a perfect ASR (the words actually spoken) on faulty splits: an upper
    bound on what the filter can catch. The judge-based version needs notebook 00's ASR."""
    syn = manifest[~manifest.is_real & manifest.split.isin(["dev", "judge"])].reset_index(drop=True)
    hyp = syn.spoken_text.map(lambda t: re.sub(r"\?", " ", t))
    scored = filter_synthetic(syn, hyp)
    return scored, filter_quality(scored)


def rendered(manifest: pd.DataFrame) -> pd.DataFrame:
    """The rows the world rendered (not those of real corpora added with ``world.corpora``)."""
    return manifest[manifest.corpus == "world"] if "corpus" in manifest else manifest


def render_speed(cache: StageCache, manifest: pd.DataFrame) -> dict[str, float]:
    """Rendering throughput from the cache's own timings (compute seconds per shard)."""
    manifest = rendered(manifest)
    shards = {Path(p).parent.name for p in manifest.path}
    t = cache.timings()
    t = t[(t.name == "world.render") & t.key.isin(shards)]
    seconds = float(t.seconds.sum()) if len(t) else float("nan")
    return {"utterances": len(manifest), "audio_hours": round(float(manifest.duration.sum()) / 3600, 3),
            "render_cpu_seconds": round(seconds, 1),
            "utterances_per_cpu_second": round(len(manifest) / seconds, 2) if seconds else float("nan")}


def findings(ratios: pd.DataFrame, cov: pd.DataFrame, tones: pd.DataFrame, faults: pd.DataFrame,
             speed: dict) -> str:
    """The notebook's closing paragraph, written from this run's numbers."""
    lines = []
    for r in ratios.itertuples():
        if np.isnan(getattr(r, "ratio", np.nan)):
            lines.append(f"- **{r.lang}**: no real training speech (by design), synthetic F0 std "
                         f"{r.synthetic_f0_std_st:.2f} st.")
            continue
        verdict = "clearly above" if r.ratio_low >= 3 else ("above" if r.ratio_low > 1 else "NOT above")
        lines.append(f"- **{r.lang}**: real speech varies its pitch {r.ratio:.1f}x as much as synthetic "
                     f"speech (per-utterance F0 std {r.real_f0_std_st:.2f} vs {r.synthetic_f0_std_st:.2f} st; "
                     f"95 % CI of the ratio {r.ratio_low:.1f}-{r.ratio_high:.1f}), {verdict} the 3x target.")
    worst = cov.sort_values("unrenderable share").iloc[-1]
    lines.append(f"- Lexicon: at most {100 * worst['unrenderable share']:.1f} % of candidate words "
                 f"({worst.lang}) could not be rendered and were left out of the texts; espeak "
                 f"reported no word event for {int(cov['word events missing'].sum())} of "
                 f"{int(cov['words rendered'].sum())} rendered words (an upper bound on dropped words).")
    if len(tones):
        lv = tones.xs("real speaker", level="voice")[("level", "mean")]
        lines.append(f"- Thai tones (real speaker, isolated words): mean levels span "
                     f"{lv.min():+.1f} ({lv.idxmin()}) to {lv.max():+.1f} st ({lv.idxmax()}).")
    if len(faults):
        lines.append(f"- Synthetic systems: {100 * faults['any fault'].min():.0f}-"
                     f"{100 * faults['any fault'].max():.0f} % of their utterances carry a fault.")
    lines.append(f"- Rendering: {speed['utterances']} utterances ({speed['audio_hours']} h) at "
                 f"{speed['utterances_per_cpu_second']} utterances per CPU-second.")
    return "\n".join(lines)


def speaking_rates(manifest: pd.DataFrame) -> pd.DataFrame:
    """Words per second of fault-free training speech, per language and kind (target 2.5-3.5)."""
    clean = manifest[(manifest.split == "train") & (manifest.faults.map(len) == 0)]
    rate = clean.n_words / clean.duration
    kind = np.where(clean.is_real, "real", "synthetic")
    return (pd.DataFrame({"lang": clean.lang, "kind": kind, "words_per_s": rate,
                          "duration_s": clean.duration})
              .groupby(["lang", "kind"]).mean().round(2).reset_index())
