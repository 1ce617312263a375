"""Notebook 05: SASLM's systems on the dialogue world, judged on held-out dialogues.

Systems (P2 Tab. 2-4's rows at the world's scale):

* Base TTS: the plain English TTS every bridge starts from (P2: CosyVoice2), no context;
* Plain TTS / Naive addition / AdaLN (no VIB) / VIB + AdaLN: the same stages 1-2 from the base
  with the bridge of each mode (P2 Tab. 3); "Plain TTS" fine-tunes on the same expressive
  replies without any context, so it is the fair no-intent baseline;
* True-label oracle: VIB + AdaLN whose thinker reads the true emotion label in the dialogue;
* Label via addition / Label via AdaLN: the naive-addition and AdaLN bridges fed the true label's
  one-hot at every reply token instead of h (a diagnostic, not in P2): can the pathway carry
  the emotion when the input holds nothing else?
* Reply-mean h via addition: naive addition fed the reply's mean h at every reply token (a
  diagnostic): is the emotion lost because one token's h carries it weakly?
* Context critic via addition: naive addition fed the context critic's emotion probabilities (a
  linear head on the thinker's context states, trained on the labels; detached) at every reply
  token (a diagnostic): does the bridge pass the emotion once something supervised extracts it?
* Emotion tag (direct label): the base TTS told the label itself, an embedding per emotion added
  at its language tag (no thinker, no bridge; :mod:`slmlib.saslm.tagged`): the ceiling of direct
  conditioning with this speech LM and these replies;
* + Self-reward / + Oracle reward: stage 3 from VIB + AdaLN with the model's own critic or the
  evaluation emotion judge as the emotion reward (P2 Tab. 4);
* Real (resynthesised): the target recordings through the codec, the ceiling of this codec.

Every system speaks the test dialogues' replies (held-out speakers, unseen contexts) with the
reply speaker's timbre and the SLM's decoding settings; EmoAlign is the evaluation emotion
judge's agreement with the hidden intended emotion.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from slmlib.align import pipeline as dgsa
from slmlib.cache import StageCache
from slmlib.codec.pipeline import FittedCodec
from slmlib.config import Config
from slmlib.evaluate import EMOTION_PREFIX, judge_tokens, listen_tokens, summarise
from slmlib.judges.emotion import EmotionJudge, stored_features
from slmlib.judges.pipeline import ASRJudges, emotion_feature_table
from slmlib.judges.proxies import naturalness_proxy
from slmlib.model.generate import Request, generate_speech
from slmlib.model.train import load_slm
from slmlib.parallel import process_pool
from slmlib.saslm import probing, reward
from slmlib.saslm.config import SASLMConfig
from slmlib.saslm.dialogues import build_dialogues
from slmlib.saslm.tagged import EmotionTagTTS, nats_per_token, speak_tagged, train_tagged
from slmlib.saslm.model import (READS, SASLM, Dialogue, assemble, critic_probs, probe_features,
                                sequence_logprobs, speak, token_features, train_stage)
from slmlib.saslm.thinker import pretrain_thinker
from slmlib.scaling import pipeline as scaling
from slmlib.scaling.data import encode_clips
from slmlib.stats import bootstrap_ci, paired_difference_ci

LANG = "en"
VERSION = 2
# name -> (bridge mode, what the bridge reads): "context" = the thinker's h over the dialogue,
# "oracle" = h over the dialogue with the true label written in it, "label" = the label's one-hot,
# "mean" = the reply's mean h at every reply token, "critic" = the context critic's emotion
# probabilities (slmlib.saslm.model.READS)
VARIANTS: dict[str, tuple[str, str]] = {
    "Plain TTS": ("plain", "context"),
    "Naive addition": ("add", "context"),
    "AdaLN (no VIB)": ("adaln", "context"),
    "VIB + AdaLN": ("vib", "context"),
    "True-label oracle": ("vib", "oracle"),
    "Label via addition": ("add", "label"),
    "Label via AdaLN": ("adaln", "label"),
    "Reply-mean h via addition": ("add", "mean"),
    "Context critic via addition": ("add", "critic"),
}


def _inputs(name: str) -> dict:
    """A variant's job fields from what its bridge reads: ``oracle`` (the thinker's dialogue holds
    the true label) and ``reads`` (the model's :data:`~slmlib.saslm.model.READS` value)."""
    source = VARIANTS[name][1]
    return {"oracle": source == "oracle", "reads": source if source in READS else "tokens"}


# The SASLMConfig fields each training stage reads. Its cache key holds these, the others at
# their defaults, so that changing one setting (stage 3's rollouts, the VIB's beta) retrains only
# the models that read it; at the defaults the keys are the ones these stages always had. A field
# a stage starts to read must be added here, or a changed value would find the old model.
STAGES_12_READS = ("seed", "stage1_steps", "stage2_steps", "batch_size", "lr", "critic_lr", "critic_weight",
                   "text_weight", "stage2_thinker_lr", "stage2_lora_rank", "stage2_lora_alpha")
BRIDGE_READS = {"plain": STAGES_12_READS, "add": (*STAGES_12_READS, "bridge_lr"),
                "adaln": (*STAGES_12_READS, "bridge_lr", "latent"),
                "vib": (*STAGES_12_READS, "bridge_lr", "latent", "vib_logvar_init", "prior_a", "prior_sigma",
                        "beta_max", "beta_warm_share")}
TAGGED_READS = ("seed", "stage1_steps", "stage2_steps", "batch_size", "lr")
REWARDS = {"+ Self-reward": "self", "+ Oracle reward": "oracle"}
TAGGED = "Emotion tag (direct label)"
BASE, REAL = "Base TTS", "Real (resynthesised)"


@dataclass
class SASLMData:
    data: scaling.ScalingData             # English tokens, test items, held-out timbres, codec
    dialogues: pd.DataFrame               # every dialogue (build_dialogues)
    emotions: list[str]
    train: pd.DataFrame                   # training dialogues with tokens
    test: pd.DataFrame                    # evaluation items (ITEM_COLUMNS) with context and emotion
    timbres: dict                         # every English speaker's timbre (training and held-out)
    registers: dict[str, float]           # typical F0 per speaker (emotion features)
    pitch_centres: np.ndarray

    def items(self, frame: pd.DataFrame, oracle: bool = False, tokens: bool = True) -> list[Dialogue]:
        index = {e: i for i, e in enumerate(self.emotions)}
        return [Dialogue.of(r.context, r.text, self.data.tokens[r.id] if tokens else np.zeros(0),
                            index[r.emotion], r.emotion if oracle else None) for r in frame.itertuples()]


def _grid(cfg: Config) -> Config:
    slm = dataclasses.replace(cfg.slm, steps=cfg.saslm.base_steps, prompt_prob=0.0)
    return dataclasses.replace(cfg, slm=slm, scaling=dataclasses.replace(
        cfg.scaling, alphas=(cfg.saslm.base_alpha,), seeds=(cfg.saslm.seed,)))


def prepare(manifest: pd.DataFrame, fitted: FittedCodec, judges: ASRJudges, registers: dict[str, float],
            cfg: Config, cache: StageCache) -> SASLMData:
    """Dialogues over the English world's real replies, their codec tokens and the test items."""
    data = scaling.prepare(manifest, fitted, judges, _grid(cfg), cache, lang=LANG)
    dialogues = build_dialogues(manifest, cfg.saslm.seed, LANG)
    real = manifest[manifest.id.isin(dialogues.id[dialogues.split == "train"])]
    data.tokens.update(encode_clips(real, fitted, fitted.timbres, cache, cfg.num_workers))
    by_id = dialogues.set_index("id")
    train = dialogues[dialogues.split == "train"].rename(columns={"reply": "text"}).assign(lang=LANG)
    test = data.items.assign(context=data.items.id.map(by_id.context)).dropna(subset=["context"])
    return SASLMData(data, dialogues, sorted(dialogues.emotion.unique()), train.reset_index(drop=True),
                     test.reset_index(drop=True), {**fitted.timbres, **data.timbres}, registers,
                     fitted.codec.pitch_centres)


def base_tts(sd: SASLMData, judges: ASRJudges, cfg: Config, cache: StageCache) -> dict:
    """The plain TTS (notebook 01's SLM, no style prompt) on alpha = ``base_alpha``."""
    return dgsa.sft_job(sd.data, judges, _grid(cfg), cache, cfg.saslm.base_alpha, seed=cfg.saslm.seed)


def thinker_stage(sd: SASLMData, cfg: SASLMConfig, cache: StageCache) -> tuple[str, str, list[dict]]:
    """The pre-trained thinker (folder, key, loss log): a language model of the training
    dialogues, each once without and once with its emotion label (so the oracle's label is
    text it has read)."""
    texts = [d.text for d in sd.items(sd.train, tokens=False)] + \
            [d.text for d in sd.items(sd.train, oracle=True, tokens=False)]
    fields = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg) if f.name.startswith("thinker")}

    def compute(folder: Path) -> dict:
        if cfg.thinker_path:
            return {"log": [], "path": cfg.thinker_path}
        thinker, log = pretrain_thinker(texts, cfg, cfg.seed)
        thinker.save_pretrained(folder / "thinker")
        return {"log": log, "path": ""}

    step = cache.run("saslm.thinker", {"version": VERSION, "texts": scaling.digest(texts), **fields,
                                       "seed": cfg.seed}, compute)
    folder = step.value["path"] or str(step.path / "thinker")
    return folder, step.key, step.value["log"]


def emotion_judge(sd: SASLMData, cfg: Config, cache: StageCache) -> tuple[EmotionJudge, str, dict]:
    """The evaluation emotion judge: notebook 00's classifier (same features, same model),
    trained on the training replies *through the codec* (training speakers and texts, disjoint
    from the test dialogues). Generated speech is codec audio; notebook 00's judge, trained on
    original recordings, reads codec resynthesis of held-out real speech near chance (shown by
    :func:`judge_validity`), so it cannot judge it."""
    rows = sd.train

    def compute(folder: Path) -> dict:
        heard = listen_tokens(rows, [sd.data.tokens[i] for i in rows.id], sd.data.codec_folder, None,
                              sd.timbres, sd.registers, cfg.num_workers)
        features = stored_features(heard, EMOTION_PREFIX)
        judge = EmotionJudge.fit(features, list(rows.emotion), cfg.judges.emotion_max_iter, cfg.seed)
        judge.save_pretrained(folder / "emotion")
        return {"clips": len(rows), "train_accuracy": float(np.mean(judge.predict(features) == rows.emotion))}

    params = {"version": VERSION, "clips": scaling.digest(rows.audio_sha), "max_iter": cfg.judges.emotion_max_iter,
              "seed": cfg.seed}
    step = cache.run("saslm.emotion_judge", params, compute, inputs=[sd.data.codec_key])
    return EmotionJudge.from_pretrained(step.path / "emotion"), step.key, step.value


def read_emotions(table: pd.DataFrame, judge: EmotionJudge) -> pd.DataFrame:
    """``table`` with the judge's ``predicted_emotion`` (None for silent outputs) and
    ``emo_match`` (1 where it is the intended emotion) from its stored features."""
    features = stored_features(table, EMOTION_PREFIX)
    heard = features.notna().all(axis=1).to_numpy()
    predicted = np.full(len(table), None, dtype=object)
    if heard.any():
        predicted[heard] = judge.predict(features[heard])
    return table.assign(predicted_emotion=predicted, emo_match=(predicted == table.emotion.to_numpy()).astype(float))


def judge_validity(real: pd.DataFrame, original_judge: EmotionJudge, judge: EmotionJudge,
                   original_scores: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Which judge can read emotion in codec audio: agreement with the intended emotion on the
    held-out test recordings, original audio vs through the codec (bootstrap 95 % CIs)."""
    rows = []
    originals = original_scores[original_scores.id.isin(real.id)]
    cases = [("notebook 00 judge (original recordings)", "original recordings",
              (originals.predicted == originals.emotion).astype(float)),
             ("notebook 00 judge (original recordings)", "through the codec",
              read_emotions(real, original_judge).emo_match),
             ("this notebook's judge (training replies through the codec)", "through the codec",
              read_emotions(real, judge).emo_match)]
    for name, audio, hits in cases:
        est, lo, hi = bootstrap_ci(pd.Series(hits).reset_index(drop=True), seed=seed)
        rows.append({"judge": name, "audio": audio, "emo_align": est, "low": lo, "high": hi, "clips": len(hits)})
    return pd.DataFrame(rows)


# --- workers --------------------------------------------------------------------------------
def _evaluate(job: dict, cache: StageCache, name: str, model_folder: str | None, model_key: str) -> pd.DataFrame:
    """The test items spoken by one system with each of ``saslm.eval_seeds`` sampling seeds
    (column ``sample``; the real recordings once), judged."""
    cfg: Config = job["cfg"]
    samples = range(cfg.saslm.eval_seeds if model_folder is not None else 1)
    tables = [_evaluate_sample(job, cache, model_folder, model_key, cfg.saslm.seed + k).assign(sample=k)
              for k in samples]
    return pd.concat(tables, ignore_index=True).assign(system=name, style="off")


def _evaluate_sample(job: dict, cache: StageCache, model_folder: str | None, model_key: str,
                     seed: int) -> pd.DataFrame:
    """The cached ``saslm.eval`` stage: speak the test items with sampling ``seed`` (or, without
    a model, take the real recordings' tokens), judge them and keep the emotion judge's
    features of each clip (the judge itself is applied outside the cache, :func:`read_emotions`)."""
    cfg: Config = job["cfg"]
    test: pd.DataFrame = job["test"]
    sd: SASLMData = job["sd"]

    def compute(folder: Path) -> pd.DataFrame:
        if model_folder is None:
            tokens = [sd.data.tokens[i] for i in test.id]
        elif job.get("tagged"):
            told = sd.items(test, tokens=False)
            tokens = speak_tagged(EmotionTagTTS.from_pretrained(model_folder), [d.reply for d in told],
                                  [d.emotion for d in told], temperature=cfg.slm.temperature, top_p=cfg.slm.top_p,
                                  tokens_per_char=cfg.slm.tokens_per_char, batch_size=cfg.slm.generate_batch,
                                  seed=seed)
        elif job.get("plain_lm"):
            lm, vocab = load_slm(model_folder)
            tokens = generate_speech(lm, vocab, [Request(LANG, t) for t in test.text], temperature=cfg.slm.temperature,
                                     top_p=cfg.slm.top_p, tokens_per_char=cfg.slm.tokens_per_char,
                                     batch_size=cfg.slm.generate_batch, seed=seed)
        else:
            model = SASLM.from_pretrained(model_folder)
            tokens = speak(model, sd.items(test, oracle=job["oracle"], tokens=False),
                           temperature=cfg.slm.temperature, top_p=cfg.slm.top_p,
                           tokens_per_char=cfg.slm.tokens_per_char, batch_size=cfg.slm.generate_batch,
                           seed=seed)
        table = judge_tokens(test, tokens, sd.data.codec_folder, {LANG: job["asr_folder"]}, sd.timbres,
                             folder / "audio", workers=1, speaker_model=cfg.judges.speaker_model)
        spoken = table[~table.silent.astype(bool)]
        if len(spoken):
            features = emotion_feature_table(spoken, sd.registers, 1)
            for c in features:
                table.loc[spoken.index, EMOTION_PREFIX + c] = features[c].to_numpy()
        table["path"] = [str(Path(p).relative_to(folder)) if isinstance(p, str) else None for p in table.path]
        return table

    params = {"version": VERSION, "items": scaling.digest(test.audio_sha), **cfg.slm.sampling(), "seed": seed,
              "oracle": job.get("oracle", False), **({"contexts": "swapped"} if job.get("swapped") else {})}
    step = cache.run("saslm.eval", params, compute, inputs=[model_key, *job["judge_keys"]])
    table = step.value.copy()
    table["path"] = [str(step.path / p) if isinstance(p, str) else None for p in table.path]
    return table


def _open(job: dict) -> tuple[StageCache, Config]:
    """A training worker's start: its thread count, its view of the stage cache, the run's config."""
    import torch

    torch.set_num_threads(job.get("threads", 1))
    return StageCache(job["cache_root"], job["cache_version"]), job["cfg"]


def _trained_and_judged(job: dict, cache: StageCache, stage: str, params: dict,
                        compute: Callable[[Path], dict], inputs: list[str]) -> dict:
    """One model trained by ``compute`` into ``folder / "model"`` (cached as ``stage``), then judged:
    what every training worker returns."""
    step = cache.run(stage, params, compute, inputs=inputs)
    table = _evaluate(job, cache, job["name"], str(step.path / "model"), step.key)
    return {"name": job["name"], "folder": str(step.path / "model"), "key": step.key,
            "log": step.value["log"], "seconds": step.seconds, "table": table}


def keyed(s: SASLMConfig, reads: tuple[str, ...]) -> SASLMConfig:
    """``s`` with every field but ``reads`` at its default: the part of it a stage's key holds."""
    return SASLMConfig(**{f: getattr(s, f) for f in reads})


def _variant_job(job: dict) -> dict:
    """Worker: stages 1-2 of one bridge from the base TTS (cached), then its evaluation."""
    cache, cfg = _open(job)
    sd: SASLMData = job["sd"]
    mode, oracle, reads = job["mode"], job["oracle"], job.get("reads", "tokens")
    items = sd.items(sd.train, oracle=oracle)

    def compute(folder: Path) -> dict:
        model = assemble(Path(job["thinker"]), Path(job["base"]), mode, cfg.saslm.latent, sd.emotions,
                         cfg.saslm.vib_logvar_init, seed=cfg.saslm.seed, reads=reads)
        log = train_stage(model, items, cfg.saslm, 1, cfg.saslm.stage1_steps, cfg.saslm.seed, cfg.device)
        log += train_stage(model, items, cfg.saslm, 2, cfg.saslm.stage2_steps, cfg.saslm.seed, cfg.device)
        model.save_pretrained(folder / "model")
        return {"log": log}

    # "init": bridges cached without it drew their initial weights from torch's generator unseeded,
    # in whatever state the pool worker held it, so they differed run to run
    params = {"version": VERSION, "mode": mode, "oracle": oracle, "saslm": keyed(cfg.saslm, BRIDGE_READS[mode]),
              "init": "seeded", "train": scaling.tokens_digest([d.tokens for d in items]), "device": cfg.device,
              **({"reads": reads} if reads != "tokens" else {})}
    return _trained_and_judged(job, cache, "saslm.train", params, compute, [job["base_key"], job["thinker_key"]])


def _tagged_job(job: dict) -> dict:
    """Worker: the emotion-tag ceiling fine-tuned from the base TTS (cached), then its evaluation."""
    cache, cfg = _open(job)
    sd: SASLMData = job["sd"]
    items = sd.items(sd.train)

    def compute(folder: Path) -> dict:
        import torch

        lm, vocab = load_slm(job["base"])
        torch.manual_seed(cfg.saslm.seed)
        model = EmotionTagTTS(lm, vocab, LANG, len(sd.emotions))
        log = train_tagged(model, [d.reply for d in items], [d.tokens for d in items], [d.emotion for d in items],
                           cfg.saslm, cfg.saslm.stage1_steps + cfg.saslm.stage2_steps, cfg.saslm.seed, cfg.device)
        model.save_pretrained(folder / "model")
        return {"log": log}

    params = {"version": VERSION, "saslm": keyed(cfg.saslm, TAGGED_READS),
              "train": scaling.tokens_digest([d.tokens for d in items]), "device": cfg.device}
    return _trained_and_judged(job, cache, "saslm.tagged", params, compute, [job["base_key"]])


def _align_job(job: dict) -> dict:
    """Worker: stage 3 with one reward from the VIB + AdaLN model, then its evaluation."""
    cache, cfg = _open(job)
    prefs: list[reward.Preference] = job["prefs"]

    def compute(folder: Path) -> dict:
        model = SASLM.from_pretrained(job["start"])
        # no rollout beat or fell below its anchor: nothing to learn, the model stays as it was
        log = reward.train_anchored(model, prefs, cfg.saslm, cfg.saslm.seed, cfg.device) if prefs else []
        model.save_pretrained(folder / "model")
        return {"log": log, "preferences": len(prefs)}

    params = {"version": VERSION, "reward": job["reward"], "saslm": cfg.saslm,
              "prefs": scaling.ordered_digest([[p.sign, round(p.ref_rollout, 3)] for p in prefs])}
    return _trained_and_judged(job, cache, "saslm.align", params, compute, [job["start_key"], job["rollouts_key"]])


def _base_job(job: dict) -> dict:
    cache = StageCache(job["cache_root"], job["cache_version"])
    return {"name": job["name"], "table": _evaluate(job, cache, job["name"], job["folder"], job["key"])}


@dataclass
class Setup:
    """What every worker needs (picklable)."""

    sd: SASLMData
    cfg: Config
    cache: StageCache
    asr_folder: str
    judge_keys: list[str]                 # ASRJudges.judge_keys (evaluations depend on them)
    emotion_judge: EmotionJudge           # the evaluation emotion judge (emotion_judge())
    base: dict
    thinker: str
    thinker_key: str

    def job(self, **extra) -> dict:
        return {"cache_root": str(self.cache.root), "cache_version": self.cache.version, "cfg": self.cfg,
                "sd": self.sd, "test": self.sd.test, "asr_folder": self.asr_folder, "judge_keys": self.judge_keys,
                "base": self.base["model"], "base_key": self.base["sft_key"],
                "thinker": self.thinker, "thinker_key": self.thinker_key, "oracle": False, **extra}


def _run(fn, jobs: list[dict], workers: int) -> list[dict]:
    with process_pool(min(workers, len(jobs))) as pool:
        return list(pool.map(fn, jobs))


def _call(job: dict) -> dict:
    """Worker: the job's own function (one pool for jobs of different kinds)."""
    return job["fn"](job)


def run_bridges(setup: Setup, variants: list[str] | None = None) -> dict[str, dict]:
    """Stages 1-2 of every variant, the emotion-tag ceiling, the base TTS and the real
    recordings, judged."""
    names = variants or list(VARIANTS)
    jobs = [setup.job(name=n, mode=VARIANTS[n][0], **_inputs(n), fn=_variant_job) for n in names]
    jobs.append(setup.job(name=TAGGED, tagged=True, fn=_tagged_job))
    done = {r["name"]: r for r in _run(_call, jobs, setup.cfg.num_workers)}
    extra = [setup.job(name=BASE, folder=setup.base["model"], key=setup.base["sft_key"], plain_lm=True),
             setup.job(name=REAL, folder=None, key=setup.sd.data.codec_key)]
    done.update({r["name"]: r for r in _run(_base_job, extra, setup.cfg.num_workers)})
    return done


# --- stage 3 --------------------------------------------------------------------------------
def rollouts(setup: Setup, start: dict) -> tuple[pd.DataFrame, str]:
    """The cached ``saslm.rollouts`` stage: K samples of the start model per training dialogue
    and one anchor by the base TTS, heard by the ASR and emotion judges and scored by both
    rewards. One row per rollout (k ≥ 0) or anchor (k = −1)."""
    sd, cfg, s = setup.sd, setup.cfg, setup.cfg.saslm
    rng = np.random.default_rng(s.seed)
    rows = sd.train.iloc[np.sort(rng.choice(len(sd.train), size=min(s.rollout_texts, len(sd.train)),
                                            replace=False))].reset_index(drop=True)

    def compute(folder: Path) -> pd.DataFrame:
        model = SASLM.from_pretrained(start["folder"])
        base, vocab = load_slm(setup.base["model"])
        items = sd.items(rows, tokens=False)
        anchors = generate_speech(base, vocab, [Request(LANG, d.reply) for d in items], temperature=s.temperature,
                                  top_p=cfg.slm.top_p, tokens_per_char=cfg.slm.tokens_per_char,
                                  batch_size=cfg.slm.generate_batch, seed=s.seed)
        frames = [rows.assign(k=-1, tokens=anchors)]
        for k in range(s.rollouts):
            frames.append(rows.assign(k=k, tokens=speak(
                model, items, temperature=s.temperature, top_p=cfg.slm.top_p,
                tokens_per_char=cfg.slm.tokens_per_char, batch_size=cfg.slm.generate_batch, seed=s.seed + 1 + k)))
        table = pd.concat(frames, ignore_index=True)
        table["tokens"] = [np.asarray(t) if len(t) else np.zeros(1, dtype=np.int64) for t in table.tokens]
        heard = listen_tokens(table, list(table.tokens), sd.data.codec_folder, {LANG: setup.asr_folder},
                              sd.timbres, sd.registers, cfg.num_workers)
        table["cer"] = heard.cer.to_numpy()
        table = pd.concat([table, heard.filter(like=EMOTION_PREFIX)], axis=1)
        dialogues = [d.with_tokens(t) for d, t in zip(sd.items(table, tokens=False), table.tokens)]
        speech_p, context_p = critic_probs(model, dialogues)
        norms = reward.RubricNorms.fit(sd.items(sd.train), sd.pitch_centres)
        table = pd.concat([table, reward.rubric(dialogues, speech_p, context_p, norms, sd.pitch_centres)], axis=1)
        table["self_score"] = reward.gated_total(table, table.cer, anchor_cers(table), s.gate_cer)
        table["ref_logp"] = reward.reference_logprobs(model, dialogues)
        return table

    params = {"version": VERSION, "saslm": s, "rows": scaling.digest(rows.audio_sha)}
    step = setup.cache.run("saslm.rollouts", params, compute,
                           inputs=[start["key"], setup.base["sft_key"], *setup.judge_keys])
    return oracle_scores(step.value, setup.emotion_judge, s.gate_cer), step.key


def anchor_cers(table: pd.DataFrame) -> np.ndarray:
    """Per row, the CER of its dialogue's anchor."""
    return table.id.map(table[table.k == -1].set_index("id").cer).to_numpy()


def oracle_scores(table: pd.DataFrame, judge: EmotionJudge, gate: float) -> pd.DataFrame:
    """The oracle reward: the rubric with the emotion dimension read by the evaluation judge
    from the decoded audio and compared with the true emotion (P2's 30B judge's role)."""
    probs = judge.probabilities(stored_features(table, EMOTION_PREFIX).fillna(0.0))
    classes = judge.classes
    oracle = [reward.rank_score(p, classes.index(e)) for p, e in zip(probs, table.emotion)]
    table = table.assign(oracle_emotion=oracle, judge_emotion=[classes[int(np.argmax(p))] for p in probs])
    return table.assign(oracle_score=reward.gated_total(table.assign(score_emotion=table.oracle_emotion),
                                                        table.cer, anchor_cers(table), gate))


def preferences(sd: SASLMData, table: pd.DataFrame, score: str) -> list[reward.Preference]:
    """Rollouts above (below) their anchor's ``score`` as preferred (rejected) examples."""
    anchors = table[table.k == -1].set_index("id")
    roll = table[table.k >= 0]
    signs = reward.split_by_anchor(roll[score], roll.id.map(anchors[score]))
    out = []
    for d, r, sign in zip(sd.items(roll, tokens=False), roll.itertuples(), signs):
        if sign:
            a = anchors.loc[r.id]
            out.append(reward.Preference(d.with_tokens(r.tokens), d.with_tokens(a.tokens), int(sign),
                                         float(r.ref_logp), float(a.ref_logp)))
    return out


def run_rewards(setup: Setup, start: dict, table: pd.DataFrame, rollouts_key: str) -> dict[str, dict]:
    jobs = [setup.job(name=name, reward=kind, start=start["folder"], start_key=start["key"],
                      rollouts_key=rollouts_key, prefs=preferences(setup.sd, table, f"{kind}_score"))
            for name, kind in REWARDS.items()]
    return {r["name"]: r for r in _run(_align_job, jobs, setup.cfg.num_workers)}


def rollout_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per reward: how many rollouts beat, tie and fall below their anchor, and the mean scores."""
    roll = table[table.k >= 0]
    anchors = table[table.k == -1].set_index("id")
    rows = []
    for kind in ("self", "oracle"):
        signs = reward.split_by_anchor(roll[f"{kind}_score"], roll.id.map(anchors[f"{kind}_score"]))
        rows.append({"reward": kind, "rollouts": len(roll), "preferred": int((signs > 0).sum()),
                     "tied": int((signs == 0).sum()), "rejected": int((signs < 0).sum()),
                     "mean_rollout": float(roll[f"{kind}_score"].mean()),
                     "mean_anchor": float(anchors[f"{kind}_score"].mean())})
    # how often the self-critic's emotion score agrees with the oracle's
    agree = float((roll.score_emotion == roll.oracle_emotion).mean())
    return pd.DataFrame(rows).assign(self_oracle_emotion_agreement=agree)


# --- probes ---------------------------------------------------------------------------------
def probes(setup: Setup, vib: dict, seed: int = 0) -> pd.DataFrame:
    """Linear emotion probes (P2 Tab. 3 / Fig. 5) on reply-averaged token embeddings e, thinker
    states h (before and after stage 2) and VIB means z (:mod:`slmlib.saslm.probing`)."""
    sd = setup.sd
    test = sd.dialogues[sd.dialogues.split == "test"].rename(columns={"reply": "text"})

    def compute(folder: Path) -> pd.DataFrame:
        trained = SASLM.from_pretrained(vib["folder"])
        before = assemble(Path(setup.thinker), Path(setup.base["model"]), "vib", 1, sd.emotions)
        rows = []
        for frame_name, frame in (("train", sd.train), ("test", test)):
            items = sd.items(frame, tokens=False)
            after = probe_features(trained, items)
            first = probe_features(before, items)
            rows.append({"split": frame_name, "e": after["e"], "h (pre-trained thinker)": first["h"],
                         "h (after stage 2)": after["h"], "z": after["z"],
                         "y": np.array([d.emotion for d in items])})
        train, held = rows
        out = []
        for feat in ("e", "h (pre-trained thinker)", "h (after stage 2)", "z"):
            acc, lo, hi = probing.probe_accuracy(train[feat], train["y"], held[feat], held["y"], seed)
            out.append({"representation": feat, "accuracy": acc, "low": lo, "high": hi,
                        "chance": 1.0 / len(sd.emotions), "test_dialogues": len(held["y"])})
        return pd.DataFrame(out)

    params = {"version": VERSION, "test": scaling.digest(test.audio_sha), "seed": seed}
    return setup.cache.run("saslm.probes", params, compute, inputs=[vib["key"], setup.thinker_key]).value


def token_probes(setup: Setup, vib: dict, seed: int = 0, max_train_tokens: int = 20_000) -> pd.DataFrame:
    """The same question per reply token, where the bridge works: is the context's emotion
    linearly readable from one token's h (what the bridge reads) and from its z (what the bridge
    passes to the speech head)? A probe fit on single training tokens, read on each test token
    and as a vote over each reply (:func:`slmlib.saslm.probing.token_probe`)."""
    sd = setup.sd
    test = sd.dialogues[sd.dialogues.split == "test"].rename(columns={"reply": "text"})

    def compute(folder: Path) -> pd.DataFrame:
        model = SASLM.from_pretrained(vib["folder"])
        split = {}
        for name, frame in (("train", sd.train), ("test", test)):
            items = sd.items(frame, tokens=False)
            split[name] = (token_features(model, items), np.array([d.emotion for d in items]))
        (train, train_y), (held, held_y) = split["train"], split["test"]
        out = []
        for feat in ("h", "z"):
            as_numpy = [[x.cpu().numpy() for x in part[feat]] for part in (train, held)]
            read = probing.token_probe(as_numpy[0], train_y, as_numpy[1], held_y, seed, max_train_tokens)
            for reading, label in (("token", "one reply token"),
                                   ("vote", "token probabilities averaged over the reply")):
                acc, lo, hi = read[reading]
                out.append({"representation": f"{feat} per token", "read from": label, "accuracy": acc,
                            "low": lo, "high": hi, "chance": 1.0 / len(sd.emotions),
                            "train_tokens": read["train_tokens"], "test_dialogues": len(held_y)})
        return pd.DataFrame(out)

    params = {"version": VERSION, "test": scaling.digest(test.audio_sha), "seed": seed,
              "max_train_tokens": max_train_tokens}
    return setup.cache.run("saslm.token_probes", params, compute, inputs=[vib["key"], setup.thinker_key]).value


def intent_use(setup: Setup, results: dict[str, dict], seed: int = 0) -> pd.DataFrame:
    """Does a model use the dialogue at all? Per bridge, the teacher-forced loss (nats per speech
    token) of the test recordings given their own dialogue vs given the context (and, for the
    oracle, the label) of another test dialogue with a different emotion: a model that reads
    intent predicts the real expressive speech better with the right context. Paired bootstrap
    CI of (wrong − right); sampling noise plays no part, so this sees intent use that EmoAlign
    on sampled speech may miss."""
    import torch

    test = setup.sd.test.reset_index(drop=True)
    wrong = swapped(test, seed)
    rows = []
    for name, (mode, _) in VARIANTS.items():
        if name not in results or mode == "plain":
            continue
        model, oracle = SASLM.from_pretrained(results[name]["folder"]), _inputs(name)["oracle"]
        with torch.inference_mode():
            nll = {k: -sequence_logprobs(model, setup.sd.items(f, oracle=oracle)).float().numpy() /
                   np.array([len(setup.sd.data.tokens[i]) + 1 for i in f.id]) for k, f in (("right", test), ("wrong", wrong))}
        rows.append(_use_row(name, nll["right"], nll["wrong"], seed))
    if TAGGED in results:
        model = EmotionTagTTS.from_pretrained(results[TAGGED]["folder"])
        tokens = [setup.sd.data.tokens[i] for i in test.id]
        told = {k: setup.sd.items(f, tokens=False) for k, f in (("right", test), ("wrong", wrong))}
        nll = {k: nats_per_token(model, [d.reply for d in ds], tokens, [d.emotion for d in ds])
               for k, ds in told.items()}
        rows.append(_use_row(TAGGED, nll["right"], nll["wrong"], seed))
    return pd.DataFrame(rows)


def swapped(test: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """``test`` with each dialogue's context and emotion label taken from another test dialogue
    of a different emotion (drawn with ``seed``); ``own_emotion`` keeps the reply's own."""
    test = test.reset_index(drop=True)
    rng = np.random.default_rng(seed)
    donors = [rng.choice(np.flatnonzero(test.emotion.to_numpy() != e)) for e in test.emotion]
    return test.assign(context=test.context.to_numpy()[donors], emotion=test.emotion.to_numpy()[donors],
                       own_emotion=test.emotion.to_numpy())


def context_swap(setup: Setup, results: dict[str, dict], seed: int = 0) -> pd.DataFrame:
    """Does a bridge's speech follow the context it is given? Every test reply spoken after the
    context of another test dialogue with a different emotion (:func:`swapped`, the donors of
    :func:`intent_use`), judged: EmoAlign against the given context's emotion (a model that
    reads the context follows it) and against the reply's own emotion (a model that gets its
    emotion elsewhere, from the reply's words, keeps it). Bootstrap 95 % CIs over dialogues."""
    test = swapped(setup.sd.test, seed)
    names = [n for n, (mode, _) in VARIANTS.items() if n in results and mode != "plain"]
    jobs = [setup.job(name=n, folder=results[n]["folder"], key=results[n]["key"], test=test, swapped=True,
                      oracle=_inputs(n)["oracle"]) for n in names]
    heard = read_emotions(pd.concat([r["table"] for r in _run(_base_job, jobs, setup.cfg.num_workers)],
                                    ignore_index=True), setup.emotion_judge)
    rows = []
    for name, g in heard.groupby("system", sort=False):
        given = bootstrap_ci(g.emo_match, seed=seed, groups=g.id)
        own = bootstrap_ci((g.predicted_emotion == g.own_emotion).astype(float), seed=seed, groups=g.id)
        rows.append({"system": name, "follows_given_context": given[0], "given_low": given[1],
                     "given_high": given[2], "keeps_own_emotion": own[0], "own_low": own[1], "own_high": own[2],
                     "test_dialogues": g.id.nunique(), "samples": g["sample"].nunique()})
    return pd.DataFrame(rows)


def _use_row(system: str, right: np.ndarray, wrong: np.ndarray, seed: int) -> dict:
    d, lo, hi = paired_difference_ci(wrong, right, seed=seed)
    return {"system": system, "nll_right_context": float(right.mean()), "nll_wrong_context": float(wrong.mean()),
            "delta": d, "low": lo, "high": hi}


# --- tables ---------------------------------------------------------------------------------
ORDER = [BASE, *VARIANTS, TAGGED, *REWARDS, REAL]


def per_utterance(results: dict[str, dict], judge: EmotionJudge) -> pd.DataFrame:
    """Every judged test utterance of every system, with the evaluation judge's emotion."""
    frames = [results[n]["table"] for n in ORDER if n in results]
    return read_emotions(pd.concat(frames, ignore_index=True), judge)


def system_table(per_utt: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """One row per system: WER/CER, F0 spread, EmoAlign, speaker similarity, repetition, H_p with
    95 % CIs, and the naturalness proxy against the real recordings through the codec."""
    real = per_utt[per_utt.system == REAL]
    rows = []
    for system, g in per_utt.groupby("system", sort=False):
        s = summarise(g, seed=seed, groups="id")
        e, lo, hi = bootstrap_ci(g.emo_match, seed=seed, groups=g.id)
        s.update({"emo_align": e, "emo_align_low": lo, "emo_align_high": hi,
                  "f0_var_hz2": float(np.nanmean(g.f0_std_hz ** 2))})
        if len(real):
            s.update(naturalness_proxy(g, real, s["cer"]))
        rows.append({"system": system, "style": "off", **s})
    return pd.DataFrame(rows)


def deltas(per_utt: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """The paired comparisons the findings rest on (system minus baseline on the same items):
    each system's measures averaged per dialogue over its sampling seeds, then paired."""
    pairs = [("VIB + AdaLN", "Plain TTS"), ("VIB + AdaLN", "AdaLN (no VIB)"), ("VIB + AdaLN", "Naive addition"),
             ("AdaLN (no VIB)", "Plain TTS"), ("Naive addition", "Plain TTS"),
             ("+ Self-reward", "VIB + AdaLN"), ("+ Oracle reward", "VIB + AdaLN"),
             ("True-label oracle", "VIB + AdaLN"), ("Plain TTS", BASE), (TAGGED, "Plain TTS"),
             ("Label via addition", "Plain TTS"), ("Label via AdaLN", "Plain TTS"),
             ("Label via addition", "Naive addition"), ("Label via AdaLN", "AdaLN (no VIB)"),
             ("Reply-mean h via addition", "Naive addition"), ("Reply-mean h via addition", "Plain TTS"),
             ("Label via addition", "Reply-mean h via addition"),
             ("Context critic via addition", "Naive addition"), ("Context critic via addition", "Plain TTS"),
             ("Label via addition", "Context critic via addition")]
    metrics = ["emo_match", "wer", "cer", "f0_std_hz", "speaker_sim"]
    per_dialogue = per_utt.groupby(["system", "id"], sort=False)[metrics].mean()
    systems = set(per_dialogue.index.get_level_values("system"))
    rows = []
    for system, baseline in pairs:
        if system not in systems or baseline not in systems:
            continue
        b = per_dialogue.loc[baseline]
        a = per_dialogue.loc[system].reindex(b.index)
        for m in metrics:
            ok = a[m].notna() & b[m].notna()
            if ok.sum() < 2:
                continue
            d, lo, hi = paired_difference_ci(a[m][ok].to_numpy(float), b[m][ok].to_numpy(float), seed=seed)
            rows.append({"system": system, "baseline": baseline, "metric": m, "delta": d, "low": lo, "high": hi,
                         "n": int(ok.sum())})
    return pd.DataFrame(rows)


def emo_align_by_sample(per_utt: pd.DataFrame) -> pd.DataFrame:
    """Each system's EmoAlign at each sampling seed (``sample`` k = seed ``saslm.seed + k``) and
    the range between them: how far one model's score moves with the sampler alone."""
    spoken = per_utt[per_utt.system != REAL]
    wide = spoken.pivot_table(index="system", columns="sample", values="emo_match", aggfunc="mean")
    wide = wide.reindex([n for n in ORDER if n in wide.index])
    wide.columns = [f"sample {k}" for k in wide.columns]
    return wide.assign(range=wide.max(axis=1) - wide.min(axis=1)).rename_axis("system").reset_index()


def beside_paper(table: pd.DataFrame) -> pd.DataFrame:
    """Our rows beside P2 Tab. 2-4 (P2: WER %, F0-Var, EmoAlign %, Ovr 1-5; ours: WER and
    EmoAlign as fractions, F0 std in Hz, the naturalness proxy; compare directions)."""
    from slmlib.paper_numbers import paper_table

    paper = paper_table("P2_tables")
    ours = table.set_index("system")
    rows = []
    for r in paper.itertuples():
        o = ours.loc[r.ours] if isinstance(r.ours, str) and r.ours in ours.index else None
        rows.append({"paper_table": r.table, "paper_row": r.row, "paper_wer_pct": r.wer_pct,
                     "paper_f0_var": r.f0_var, "paper_emoalign_pct": r.emoalign_pct, "paper_ovr": r.ovr,
                     "our_system": r.ours if o is not None else "",
                     "our_wer": o["wer"] if o is not None else np.nan,
                     "our_f0_std_hz": o["f0_std_hz"] if o is not None else np.nan,
                     "our_emo_align": o["emo_align"] if o is not None else np.nan,
                     "our_naturalness_proxy": o.get("naturalness_proxy", np.nan) if o is not None else np.nan})
    return pd.DataFrame(rows)


def signed(v: float, digits: int = 3) -> str:
    """``v`` with its sign at ``digits`` decimals; what rounds to zero prints +0.0, never -0.0."""
    return f"{round(v, digits) + 0.0:+.{digits}f}"


def findings(table: pd.DataFrame, paired: pd.DataFrame, probe: pd.DataFrame,
             validity: pd.DataFrame | None = None, use: pd.DataFrame | None = None,
             tokens: pd.DataFrame | None = None, swap: pd.DataFrame | None = None,
             by_sample: pd.DataFrame | None = None) -> str:
    """What this run's numbers say about P2's claims, in words written from them."""
    t = table.set_index("system")

    def d(system: str, baseline: str, metric: str) -> pd.Series | None:
        m = paired[(paired.system == system) & (paired.baseline == baseline) & (paired.metric == metric)]
        return None if m.empty else m.iloc[0]

    def says(x: pd.Series | None, unit: float = 100.0, what: str = " pt") -> str:
        if x is None:
            return "not measured"
        sig = "significant" if x.low > 0 or x.high < 0 else "not significant"
        n = 1 if unit == 100.0 else 3
        return f"{signed(unit * x.delta, n)}{what} [{signed(unit * x.low, n)}, {signed(unit * x.high, n)}], {sig}"

    def better(x: pd.Series | None) -> bool:
        return x is not None and x.low > 0

    def no_worse_wer(x: pd.Series | None) -> bool:
        return x is not None and x.low <= 0          # WER not significantly higher

    lines = []
    ceiling = t.loc[REAL, "emo_align"] if REAL in t.index else np.nan
    lines.append(f"- EmoAlign of the real recordings through the codec (the ceiling here): {100 * ceiling:.1f} %; "
                 f"chance is {100 * probe.chance.iloc[0]:.1f} %.")
    if validity is not None and len(validity) == 3:
        v = validity.emo_align.to_numpy()
        lines.append(f"- Judge validity: notebook 00's emotion judge is right on {100 * v[0]:.1f} % of the held-out "
                     f"original recordings but on {100 * v[1]:.1f} % of the same recordings through the codec; "
                     f"this notebook's judge (trained on codec audio of the training replies) on {100 * v[2]:.1f} %.")
    samples = [] if by_sample is None else [c for c in by_sample if c.startswith("sample ")]
    if len(samples) > 1:
        widest = by_sample.loc[by_sample.range.idxmax()]
        lines.append(f"- Every system spoke the test replies with {len(samples)} sampling seeds, pooled "
                     f"(CIs resample dialogues with all their seeds); between seeds one model's EmoAlign moves by "
                     f"up to {100 * widest.range:.1f} pt ({widest.system}), by {100 * by_sample.range.median():.1f} pt "
                     f"at the median.")
    for name in [n for n in ORDER if n not in (BASE, REAL)]:
        if name in t.index:
            r = t.loc[name]
            lines.append(f"- {name}: EmoAlign {100 * r.emo_align:.1f} % [{100 * r.emo_align_low:.1f}, "
                         f"{100 * r.emo_align_high:.1f}], WER {r.wer:.3f}, CER {r.cer:.3f}, F0 std {r.f0_std_hz:.1f} Hz.")
    vs_adaln, vs_add = d("VIB + AdaLN", "AdaLN (no VIB)", "emo_match"), d("VIB + AdaLN", "Naive addition", "emo_match")
    w_adaln, w_add = d("VIB + AdaLN", "AdaLN (no VIB)", "wer"), d("VIB + AdaLN", "Naive addition", "wer")
    verdict = "holds" if better(vs_adaln) and better(vs_add) and no_worse_wer(w_adaln) and no_worse_wer(w_add) \
        else "partly holds" if (better(vs_adaln) or better(vs_add)) else "does not hold here"
    lines.append(f"- **P2 Tab. 3 (VIB + AdaLN beats AdaLN alone and naive addition on intent, without losing "
                 f"WER): {verdict}.** EmoAlign vs AdaLN {says(vs_adaln)}; vs naive addition {says(vs_add)}; "
                 f"WER vs AdaLN {says(w_adaln, 1.0, '')}; vs naive addition {says(w_add, 1.0, '')}.")
    plain = d("VIB + AdaLN", "Plain TTS", "emo_match")
    lines.append(f"- Intent at all (VIB + AdaLN minus the context-free plain TTS on EmoAlign): {says(plain)}.")
    tag = d(TAGGED, "Plain TTS", "emo_match")
    if tag is not None:
        reads = use.set_index("system").loc[TAGGED] if use is not None and TAGGED in set(use.system) else None
        used = "" if reads is None else \
            (f"; it {'reads' if reads.low > 0 else 'does not measurably read'} its label (intent use "
             f"{signed(reads.delta)} [{signed(reads.low)}, {signed(reads.high)}] nats per token)")
        if better(tag):
            reach = "a direct label does reach the speech the judge hears, so the bridges fall short of what this " \
                    "speech LM can do"
        else:
            reach = (f"the judge hears no significant change: with this speech LM and these replies even direct "
                     f"conditioning moves EmoAlign by at most {100 * tag.high:+.1f} pt (the CI's upper end), the scale "
                     f"of effect a bridge fed the same information could be expected to show here")
        lines.append(f"- Ceiling of direct conditioning (the base TTS told the label itself, minus the plain TTS on "
                     f"EmoAlign): {says(tag)}{used}; {reach}.")
    lines.extend(label_finding(d, says, better))
    lines.extend(addition_finding(
        "Reply-mean h via addition", "the reply's mean h", d, says, better,
        "the bridge's speech loss does not teach it to pull the emotion out of h, though a linear probe finds it there"))
    lines.extend(addition_finding(
        "Context critic via addition", "the context critic's emotion probabilities", d, says, better,
        "the labels' supervision, routed this way, does not make up for what the bridges miss"))
    sr, orr = d("+ Self-reward", "VIB + AdaLN", "emo_match"), d("+ Oracle reward", "VIB + AdaLN", "emo_match")
    swer = d("+ Self-reward", "VIB + AdaLN", "wer")
    worse_wer = swer is not None and swer.low > 0
    verdict3 = "holds" if better(sr) and no_worse_wer(swer) else \
        "does not hold here" if sr is not None and (sr.high < 0 or (worse_wer and not better(sr))) \
        else "is not shown here"
    lines.append(f"- **P2 Tab. 4 (self-reward alignment helps): {verdict3}.** EmoAlign {says(sr)}, WER "
                 f"{says(swer, 1.0, '')}; the oracle reward: EmoAlign {says(orr)}.")
    if use is not None and len(use):
        parts = [f"{r.system} {signed(r.delta)} [{signed(r.low)}, {signed(r.high)}]" for r in use.itertuples()]
        lines.append("- Intent use (teacher-forced nats per speech token, wrong-emotion context minus the right "
                     "one; > 0 = the model reads the dialogue): " + "; ".join(parts) + ".")
    p = probe.set_index("representation").accuracy
    order = "e < h < z" if p["e"] < p["h (after stage 2)"] < p["z"] else "not e < h < z"
    lines.append(f"- Probes (P2: e 18.1 %, h 41.4 %, z 64.5 %): e {100 * p['e']:.1f} %, h before stage 2 "
                 f"{100 * p['h (pre-trained thinker)']:.1f} %, after {100 * p['h (after stage 2)']:.1f} %, "
                 f"z {100 * p['z']:.1f} % ({order}).")
    if swap is not None and len(swap):
        parts = [f"{r.system} follows it {100 * r.follows_given_context:.1f} % [{100 * r.given_low:.1f}, "
                 f"{100 * r.given_high:.1f}], keeps the reply's own emotion {100 * r.keeps_own_emotion:.1f} % "
                 f"[{100 * r.own_low:.1f}, {100 * r.own_high:.1f}]" for r in swap.itertuples()]
        lines.append("- Another dialogue's context before each test reply (EmoAlign against that context's "
                     "emotion, and agreement with the reply's own): " + "; ".join(parts) + ".")
    if tokens is not None and len(tokens):
        lines.append(token_finding(tokens))
    return "\n".join(lines)


def label_finding(d: Callable, says: Callable, better: Callable) -> list[str]:
    """The line on the label-reading bridges: does a pathway carry the emotion when its input is
    the label itself, and does it carry it from h? (``d``, ``says``, ``better``: see findings)."""
    parts, carried = [], []
    for name, h_name in (("Label via addition", "Naive addition"), ("Label via AdaLN", "AdaLN (no VIB)")):
        vs_plain, vs_h = d(name, "Plain TTS", "emo_match"), d(name, h_name, "emo_match")
        if vs_plain is None:
            continue
        parts.append(f"{name} minus the plain TTS {says(vs_plain)}, minus the same pathway fed h {says(vs_h)}")
        carried.append(better(vs_plain))
    if not parts:
        return []
    if all(carried):
        verdict = ("both pathways carry a clean label to the speech, so the bridges' loss lies in getting the "
                   "emotion out of h")
    elif any(carried):
        verdict = "one pathway carries a clean label to the speech and the other does not"
    else:
        verdict = ("neither pathway carries even the clean label to the speech at this budget, so the pathway "
                   "itself (a zero-initialised change of the reply's text embeddings) is a bottleneck, whatever "
                   "h holds")
    return [f"- The bridges fed the true label instead of h (EmoAlign): {'; '.join(parts)}: {verdict}."]


def addition_finding(name: str, reads: str, d: Callable, says: Callable, better: Callable,
                     below_label: str) -> list[str]:
    """The line on a diagnostic addition bridge ``name`` that ``reads`` something other than h
    per token: does it pass emotion that naive addition on h misses, or less than the label?
    ``below_label`` is what it means when it passes less than the label."""
    vs_tokens, vs_plain = d(name, "Naive addition", "emo_match"), d(name, "Plain TTS", "emo_match")
    if vs_tokens is None:
        return []
    label = d("Label via addition", name, "emo_match")
    if better(vs_tokens):
        verdict = f"{reads} passes emotion that one token's h does not"
    elif better(label):
        verdict = f"{reads} passes less than the label does: {below_label}"
    else:
        verdict = f"these CIs do not tell {reads} from either h per token or the label"
    return [f"- Naive addition fed {reads} at every reply token (EmoAlign): minus the plain TTS {says(vs_plain)}; "
            f"minus naive addition on h per token {says(vs_tokens)}; the label via addition minus it {says(label)}: "
            f"{verdict}."]


def token_finding(tokens: pd.DataFrame) -> str:
    """One line on the per-token probes: does the emotion reach the bridge (h) and leave it (z)?"""
    t = tokens.set_index(["representation", "read from"])

    def pct(r: pd.Series) -> str:
        return f"{100 * r.accuracy:.1f} % [{100 * r.low:.1f}, {100 * r.high:.1f}]"

    one, vote = "one reply token", "token probabilities averaged over the reply"
    h, z = t.loc[("h per token", one)], t.loc[("z per token", one)]
    chance = h.chance
    if h.low <= chance:
        verdict = "not even the bridge's input carries the emotion token by token"
    elif z.low > chance:
        kept = (z.accuracy - chance) / (h.accuracy - chance)
        verdict = (f"the emotion reaches the bridge and leaves it (z keeps {100 * kept:.0f} % of h's margin "
                   f"over chance)")
    else:
        verdict = ("the emotion reaches the bridge token by token but does not leave it: the loss is in the "
                   "bridge, not in the thinker")
    return (f"- Per reply token (what the bridge reads and writes; chance {100 * chance:.1f} %): h "
            f"{pct(h)}, z {pct(z)}; voting over the reply, h {pct(t.loc[('h per token', vote)])}, z "
            f"{pct(t.loc[('z per token', vote)])}: {verdict}.")
