"""Notebook 01: one SFT model per (alpha, seed), each judged on held-out texts spoken with
held-out real speakers' timbres.

Each model is two cached stages, run in a worker process (one torch thread; two models train
side by side on a 2-core machine, which measured faster than one model on two threads):

* ``slm.sft``  -- training (resumable: checkpoints under ``<cache>/_resume/<key>``);
* ``slm.eval`` -- generation (style prefix off, sampled) and the judges (``slmlib.evaluate``).

Adding an alpha or a seed to the grid trains only the new models.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from slmlib.cache import StageCache
from slmlib.codec.analysis import SpeakerStats
from slmlib.codec.pipeline import FittedCodec, heldout_timbres
from slmlib.config import Config
from slmlib.evaluate import judge_tokens, summarise
from slmlib.metrics import token_entropy
from slmlib.judges.pipeline import ASRJudges
from slmlib.model.config import SLMConfig
from slmlib.model.data import Utterance, encode_examples, promptable, with_prompts
from slmlib.model.generate import Request
from slmlib.model.train import epochs
from slmlib.model import vocab as vocab_mod
from slmlib.model.vocab import SpeechVocab
from slmlib.parallel import process_pool
from slmlib.scaling.data import encode_clips, filtered_pool, mixtures
from slmlib.generate import speak
from slmlib.train import fit_slm

SFT_VERSION = 1        # bump when training changes what a stage produces
EVAL_VERSION = 1


def ordered_digest(values: list) -> str:
    """Short hash of a JSON-able list, order kept (e.g. the prompt of each item, in item order):
    keeps stage parameters small."""
    return hashlib.sha256(json.dumps(values).encode()).hexdigest()[:16]


def digest(values) -> str:
    """:func:`ordered_digest` of a set of strings (clip hashes), whatever their order."""
    return ordered_digest(sorted(values))


def tokens_digest(sequences) -> str:
    """Ordered hash of token sequences: which prompt goes with which item is part of the key."""
    return ordered_digest([np.asarray(t).tolist() for t in sequences])


@dataclass
class ScalingData:
    lang: str
    vocab: SpeechVocab
    utterances: pd.DataFrame              # training candidates: id, lang, text, speaker, is_real
    tokens: dict[str, np.ndarray]         # codec tokens by utterance id (training and test clips)
    pool: pd.DataFrame                    # synthetic clips with P1's filter scores
    sets: dict[float, list[str]]          # training ids per alpha
    sizes: pd.DataFrame                   # sizes per alpha
    items: pd.DataFrame                   # evaluation items (slmlib.evaluate.ITEM_COLUMNS)
    timbres: dict[str, SpeakerStats]      # held-out speakers' timbres (decoding)
    codec_key: str
    codec_folder: str


def build_vocab(manifest: pd.DataFrame, fitted: FittedCodec, slm: SLMConfig) -> SpeechVocab:
    """Characters of every text in the world (all languages), or a pretrained backbone's own
    tokenizer (``slm.model_name_or_path``), and the codec's speech tokens (with their
    (content, pitch) layout when ``slm.speech_head`` is factorised)."""
    codec = fitted.codec.config
    factorised = slm.speech_head == "factorised" and not slm.model_name_or_path
    return vocab_mod.build_vocab(manifest.text, sorted(manifest.lang.unique()), codec.vocab_size,
                                 slm.model_name_or_path, codec.n_pitch_codes if factorised else 1)


def evaluation_items(manifest: pd.DataFrame, fitted: FittedCodec, lang: str, limit: int
                     ) -> tuple[pd.DataFrame, dict[str, SpeakerStats]]:
    """Test texts of held-out real speakers: each item keeps its speaker's timbre, a reference
    clip of that speaker (for similarity; one of the clips the timbre came from, never the
    target) and the real recording of the same text (for calibrated CER and F0 agreement)."""
    stats, rest = heldout_timbres(manifest, fitted.codec)
    test = manifest[(manifest.split == "test") & manifest.is_real & (manifest.lang == lang)]
    first_ref = test.groupby("speaker").path.first()
    rows = rest[rest.lang == lang]
    rows = rows[promptable(list(rows.speaker), "evaluation leaves out {n} " + lang + " test clips")]
    if limit:
        rows = rows.groupby("speaker").head(int(np.ceil(limit / rows.speaker.nunique()))).head(limit)
    items = rows.assign(reference_path=rows.speaker.map(first_ref), recording_path=rows.path)
    return items[["id", "lang", "text", "speaker", "reference_path", "recording_path",
                  "emotion", "audio_sha"]].reset_index(drop=True), stats


def prepare(manifest: pd.DataFrame, fitted: FittedCodec, judges: ASRJudges, cfg: Config,
            cache: StageCache, lang: str | None = None) -> ScalingData:
    """Filter the synthetic pool, encode every clip the study uses, build the mixtures of
    ``lang`` (default: the world's scaling language; TDSC passes Lao with alphas (1.0,))."""
    lang = lang or cfg.world.scaling_language
    pool = filtered_pool(manifest, lang, judges, cache, cfg.num_workers, cfg.scaling.filter,
                         cfg.scaling.filter_max_wer)
    real = manifest[(manifest.lang == lang) & (manifest.split == "train") & manifest.is_real]
    kept = pool[pool.keep]
    sets, sizes = mixtures(list(real.id), list(kept.id), cfg.scaling.alphas,
                           cfg.scaling.syn_at_100, cfg.seed)
    used = set().union(*sets.values())
    train = pd.concat([real, kept])
    train = train[train.id.isin(used)]
    items, heldout = evaluation_items(manifest, fitted, lang, cfg.scaling.eval_utterances)
    tokens = encode_clips(train, fitted, fitted.timbres, cache, cfg.num_workers)
    test_rows = manifest[manifest.id.isin(items.id)]
    tokens.update(encode_clips(test_rows, fitted, heldout, cache, cfg.num_workers))
    return ScalingData(lang, build_vocab(manifest, fitted, cfg.slm),
                       train[["id", "lang", "text", "speaker", "is_real", "audio_sha"]],
                       tokens, pool, sets, sizes, items, heldout, fitted.key, str(fitted.folder))


def _model_job(job: dict) -> dict:
    """Worker: the cached training and evaluation stages of one (alpha, seed)."""
    import torch

    torch.set_num_threads(1)
    cache = StageCache(job["cache_root"], job["cache_version"])
    slm: SLMConfig = job["slm"]
    train_params = {"version": SFT_VERSION, "slm": slm.training_part(), "seed": job["seed"],
                    "clips": job["clips"], "vocab": job["vocab"]}
    train_inputs = [job["codec_key"]]
    resume = cache.root / "_resume" / cache.key("slm.sft", train_params, train_inputs)

    def train(folder: Path) -> dict:
        utts = job["utterances"]
        examples = encode_examples(job["vocab"], with_prompts(
            utts, slm.prompt_prob, int(slm.prompt_seconds * job["tokens_per_second"]), job["seed"]))
        log = fit_slm(examples, job["vocab"], slm, job["seed"], folder / "model", resume,
                      device=job["device"])
        return {"log": log, "examples": len(examples), "epochs": epochs(slm, len(examples))}

    sft = cache.run("slm.sft", train_params, train, inputs=train_inputs)
    table, ev = evaluate_model(job, cache, sft.path / "model", sft.key)
    return {"alpha": job["alpha"], "seed": job["seed"], "model": str(sft.path / "model"),
            "sft_key": sft.key, "train_seconds": sft.seconds, "eval_seconds": ev.seconds,
            "log": sft.value["log"], "examples": sft.value["examples"],
            "epochs": sft.value["epochs"], "table": table}


def evaluate_model(job: dict, cache: StageCache, model_folder: Path, model_key: str,
                   prompts: list[np.ndarray] | None = None, sample_seed: int | None = None,
                   references: list[str] | None = None):
    """The cached ``slm.eval`` stage of one model: speak ``job["items"]`` (with the style
    prefix off, or on with one prompt per item), judge it; returns (table, step). ``job`` is a
    :func:`model_jobs` job (items, decoding settings, codec and judges). ``references``
    replaces each item's speaker-similarity reference clip (voice cloning: the prompt's clip)."""
    slm: SLMConfig = job["slm"]
    items: pd.DataFrame = job["items"]
    if references is not None:
        items = items.assign(reference_path=references)
    seed = job["sample_seed"] if sample_seed is None else sample_seed

    def evaluate(folder: Path) -> pd.DataFrame:
        requests = [Request(r.lang, r.text, None if prompts is None else prompts[i])
                    for i, r in enumerate(items.itertuples())]
        tokens = speak(model_folder, requests, slm, seed)
        table = judge_tokens(items, tokens, job["codec_folder"], job["asr_folders"],
                             job["timbres"], folder / "audio", workers=1,
                             speaker_model=job.get("speaker_model", ""))
        table["path"] = [str(Path(p).relative_to(folder)) if isinstance(p, str) else None
                         for p in table.path]
        return table

    params = {"version": EVAL_VERSION, "items": digest(items.audio_sha), "sample_seed": seed,
              **slm.sampling(), "style": "off" if prompts is None else tokens_digest(prompts)}
    if references is not None:
        params["references"] = ordered_digest([Path(p).name for p in references])
    ev = cache.run("slm.eval", params, evaluate, inputs=[model_key, *job["judge_keys"]])
    table = ev.value.copy()
    table["path"] = [str(ev.path / p) if isinstance(p, str) else None for p in table.path]
    return table, ev


@dataclass
class GridResult:
    models: pd.DataFrame          # one row per (alpha, seed): folder, key, seconds, epochs
    per_utterance: pd.DataFrame   # every judged utterance of every model
    logs: dict[str, list[dict]]   # training logs by "alpha=.. seed=.."


def training_utterances(data: ScalingData, alpha: float, real_only: bool = False) -> list[Utterance]:
    """The utterances of alpha's training set in set order (only the real ones with
    ``real_only``: DGSA's chosen side)."""
    rows = data.utterances.set_index("id").loc[data.sets[alpha]]
    if real_only:
        rows = rows[rows.is_real]
    return [Utterance(r.lang, r.text, r.speaker, data.tokens[i]) for i, r in zip(rows.index, rows.itertuples())]


def model_jobs(data: ScalingData, judges: ASRJudges, cfg: Config, cache: StageCache) -> list[dict]:
    """One job (the inputs of :func:`_model_job`) per (alpha, seed) of ``cfg.scaling``."""
    by_id = data.utterances.set_index("id")
    jobs = []
    for alpha in cfg.scaling.alphas:
        rows = by_id.loc[data.sets[alpha]]
        utts = training_utterances(data, alpha)
        for seed in cfg.scaling.seeds:
            jobs.append({"alpha": alpha, "seed": seed, "slm": cfg.slm, "vocab": data.vocab,
                         "utterances": utts, "clips": digest(rows.audio_sha),
                         "tokens_per_second": cfg.codec.tokens_per_second, "device": cfg.device,
                         "items": data.items, "timbres": data.timbres,
                         "codec_key": data.codec_key, "codec_folder": data.codec_folder,
                         "asr_folders": {data.lang: judges.folders[data.lang]},
                         "speaker_model": judges.speaker_model,
                         "judge_keys": judges.judge_keys(data.lang),
                         "sample_seed": cfg.scaling.sample_seed,
                         "cache_root": str(cache.root), "cache_version": cache.version})
    return jobs


def run_grid(data: ScalingData, judges: ASRJudges, cfg: Config, cache: StageCache) -> GridResult:
    """Train and judge every (alpha, seed) of ``cfg.scaling`` on ``cfg.num_workers`` processes."""
    with process_pool(cfg.training_workers) as pool:
        results = list(pool.map(_model_job, model_jobs(data, judges, cfg, cache)))
    models = pd.DataFrame([{k: v for k, v in r.items() if k not in ("log", "table")} for r in results])
    per_utt = pd.concat([r["table"].assign(alpha=r["alpha"], seed=r["seed"]) for r in results],
                        ignore_index=True)
    logs = {f"alpha={r['alpha']:.2f} seed={r['seed']}": r["log"] for r in results}
    return GridResult(models, per_utt, logs)


def budget_curve(data: ScalingData, judges: ASRJudges, cfg: Config, cache: StageCache,
                 alpha: float, steps: tuple[int, ...], seed: int = 0) -> pd.DataFrame:
    """The (alpha, seed) model trained with each step budget and with the grid's own
    ``slm.steps`` (its own cosine schedule each, so a point is what that budget buys, not a
    checkpoint of a longer run): CER and H_p with CIs. Answers whether a grid's models are
    limited by the step budget; cached like the grid. ``ceiling_cer`` is the codec ceiling
    (:func:`reference_systems`): the CER of the real recordings' own tokens, which the models imitate."""
    steps = tuple(sorted({cfg.slm.steps, *steps}))
    jobs = []
    for n in steps:
        grid = dataclasses.replace(cfg, slm=dataclasses.replace(cfg.slm, steps=n),
                                   scaling=dataclasses.replace(cfg.scaling, alphas=(alpha,), seeds=(seed,)))
        jobs += model_jobs(data, judges, grid, cache)
    with process_pool(cfg.training_workers) as pool:
        results = list(pool.map(_model_job, jobs))
    rows = []
    for n, r in zip(steps, results):
        s = summarise(r["table"])
        rows.append({"alpha": alpha, "steps": n, "epochs": r["epochs"], "final_loss": r["log"][-1]["loss"],
                     **{k: s[k] for k in ("cer", "cer_low", "cer_high", "cer_chance", "H_p",
                                          "f0_std_st", "repetition")}})
    ceiling = summarise(reference_systems(data, judges, cache, cfg.num_workers))["cer"]
    return pd.DataFrame(rows).assign(ceiling_cer=ceiling)


def reference_systems(data: ScalingData, judges: ASRJudges, cache: StageCache, workers: int
                      ) -> pd.DataFrame:
    """The evaluation items judged as ground-truth tokens (the real recording through the
    codec: the ceiling any SLM on this codec can reach), cached."""
    def compute(folder: Path) -> pd.DataFrame:
        tokens = [data.tokens[i] for i in data.items.id]
        table = judge_tokens(data.items, tokens, data.codec_folder,
                             {data.lang: judges.folders[data.lang]}, data.timbres,
                             folder / "audio", workers, judges.speaker_model)
        table["path"] = [str(Path(p).relative_to(folder)) for p in table.path]
        return table

    step = cache.run("slm.reference", {"version": EVAL_VERSION, "items": digest(data.items.audio_sha)},
                     compute, inputs=[data.codec_key, *judges.judge_keys(data.lang)])
    table = step.value.copy()
    table["path"] = [str(step.path / p) for p in table.path]
    return table


def scaling_table(per_utt: pd.DataFrame, recording_cer: pd.Series, seed: int = 0) -> pd.DataFrame:
    """P1 Table 1's shape: one row per alpha (all seeds' utterances pooled), with CIs, plus the
    between-seed spread of CER and H_p."""
    rows = []
    for alpha, g in per_utt.groupby("alpha"):
        s = summarise(g, recording_cer, seed)
        # the spread needs only each seed's two point estimates, not its bootstrap CIs
        seeds = g.groupby("seed")
        cer = seeds.cer.mean()
        h_p = seeds.tokens.apply(lambda t: token_entropy([x for x in t if len(x)]))
        rows.append({"alpha": alpha, **s, "seeds": len(cer),
                     "cer_seed_sd": float(cer.std()) if len(cer) > 1 else np.nan,
                     "H_p_seed_sd": float(h_p.std()) if len(h_p) > 1 else np.nan})
    return pd.DataFrame(rows)


def beside_paper(table: pd.DataFrame) -> pd.DataFrame:
    """Our Table-1 rows beside P1's at the same alpha (P1 has no alpha = 0 row; its WER and Rep
    are in %, ours are fractions: compare directions and shapes, not levels, since P1 used
    Whisper-large-v3 on real Thai and we use a small CTC judge on a synthetic world)."""
    from slmlib.paper_numbers import paper_table

    p1 = paper_table("P1_table1")[["alpha", "wer", "H_p", "rep", "nmos", "smos"]]
    p1 = p1.rename(columns={c: f"P1_{c}" for c in p1.columns if c != "alpha"})
    ours = table[["alpha", "wer", "cer", "H_p", "repetition", "f0_std_st", "speaker_sim"]].copy()
    ours["alpha"] = ours.alpha.round(2)
    return (ours.merge(p1.assign(alpha=p1.alpha.round(2)), on="alpha", how="outer")
            .sort_values("alpha").reset_index(drop=True).round(3))


def findings(table: pd.DataFrame, reference: dict, recording_cer: float, sizes: pd.DataFrame,
             models: pd.DataFrame) -> str:
    """Closing lines of notebook 01, from this run's numbers."""
    t = table.set_index("alpha")
    best = t.cer.idxmin()
    lines = [
        f"- Training sets: {int(sizes.n_real.max())} real clips fixed, synthetic "
        f"{int(sizes.n_synthetic.min())}-{int(sizes.n_synthetic.max())}; every model "
        f"{int(models.epochs.min()) if len(models) else 0}-{int(models.epochs.max()) if len(models) else 0} "
        f"epochs under the equal-steps rule.",
        f"- CER falls from {t.cer.iloc[0]:.3f} [{t.cer_low.iloc[0]:.3f}, {t.cer_high.iloc[0]:.3f}] "
        f"at alpha = {100 * t.index[0]:.0f} % to {t.cer.iloc[-1]:.3f} [{t.cer_low.iloc[-1]:.3f}, "
        f"{t.cer_high.iloc[-1]:.3f}] at {100 * t.index[-1]:.0f} %; best alpha "
        f"{100 * best:.0f} % (CER {t.cer[best]:.3f}).",
        f"- Chance (the same transcripts scored against other texts): CER "
        f"{', '.join(f'{100 * a:.0f}%: {r.cer_chance:.3f}' for a, r in t.iterrows())}; a model "
        "talks only as far as its CER lies below its chance level.",
        f"- Ceiling: the real recordings' own tokens through the codec give CER "
        f"{reference['cer']:.3f}; the recordings themselves {recording_cer:.3f}. The best model is "
        f"{t.cer[best] - reference['cer']:+.3f} from the codec ceiling (the issue's bar: within 0.15).",
        f"- H_p of generated speech: {', '.join(f'{100 * a:.0f}%: {r.H_p:.2f}' for a, r in t.iterrows())} "
        f"bits (ground-truth tokens {reference['H_p']:.2f}).",
        f"- F0 std (semitones): {', '.join(f'{100 * a:.0f}%: {r.f0_std_st:.2f}' for a, r in t.iterrows())} "
        f"(ground truth {reference['f0_std_st']:.2f}).",
        f"- Repetition (runs of 5 identical tokens): "
        f"{', '.join(f'{100 * a:.0f}%: {r.repetition:.4f}' for a, r in t.iterrows())}.",
    ]
    return "\n".join(lines)
