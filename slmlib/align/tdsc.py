"""TDSC (P1 §4, Fig. 3): temperature-driven self-critique for a language with no real speech.

One round k (every step a choice documented in :class:`slmlib.align.config.TDSCConfig`):

1. sample: for each text of the round's pool, ``per_temperature`` candidates at each
   temperature of :func:`round_temperatures` (nucleus sampling, p = ``top_p``);
2. judge: the ASR judge's transcript of each candidate, its error (CER or WER), repetition rate
   (P1 Eq. 25) and length ratio; a candidate is accepted iff all three pass (P1 Eq. 16);
3. pairs: per text, the lowest-error accepted candidate beats the highest-error candidate that
   passes the length and repetition filters with error >= ``loser_min_error``, so the pair
   differs in content, not in length or looping;
4. update: SFT on every accepted candidate (P1 Eq. 17), then DPO on the pairs (Eq. 18-19).

Both stages are cached (``tdsc.candidates`` per model and round texts, ``tdsc.update`` per
model and round outcome): an ablation that shares a round with another run reuses it, and an
interrupted run resumes at the round it was in. The filters run after the cache, so changing
a threshold re-judges nothing.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from slmlib.align.config import AlignConfig, TDSCConfig
from slmlib.align.dpo import Pair
from slmlib.align.dpo_job import fit_dpo
from slmlib.cache import StageCache
from slmlib.codec.analysis import SpeakerStats
from slmlib.evaluate import transcribe_tokens
from slmlib.metrics import characters, error_rates, repetition_rate
from slmlib.model.config import SLMConfig
from slmlib.model.data import Utterance
from slmlib.generate import speak
from slmlib.model.generate import Request
from slmlib.model.train import load_slm
from slmlib.scaling.pipeline import ordered_digest, tokens_digest
from slmlib.train import fit_slm

CANDIDATES_VERSION = 1
UPDATE_VERSION = 1
ERRORS = ("cer", "wer")
REFERENCES = ("round", "sft")


def t_max(cfg: TDSCConfig, k: int) -> float:
    """The curriculum's upper temperature of round k (P1 App. D.2: 0.8 + 0.1 k)."""
    return round(cfg.t_max_start + cfg.t_max_step * k, 6)


def round_temperatures(cfg: TDSCConfig, k: int) -> list[float]:
    """The temperatures of round k's candidate groups (each gets ``per_temperature`` samples)."""
    return [*cfg.temperatures, t_max(cfg, k)]


def round_texts(utts: list[Utterance], cfg: TDSCConfig, k: int) -> list[Utterance]:
    """Round k's text pool: ``pool_texts`` training texts drawn afresh for each round (the same
    draw for every variant, so variants differ only in what they do with the texts)."""
    rng = np.random.default_rng([cfg.seed, k])
    pick = np.sort(rng.choice(len(utts), size=min(cfg.pool_texts, len(utts)), replace=False))
    return [utts[i] for i in pick]


def tokens_per_character(utts: list[Utterance]) -> float:
    """The training speech's rate in speech tokens per text character (CER's characters): the
    unit that turns a text's length |x| into an expected number of tokens."""
    chars = sum(len(characters(u.text, u.lang)) for u in utts)
    if chars == 0:
        raise ValueError("no text characters: cannot measure a speaking rate")
    return sum(len(u.tokens) for u in utts) / chars


@dataclass(frozen=True)
class Judge:
    """What judging a candidate needs: the codec (to decode), the ASR judges, the timbre of
    each text's voice, and the cache keys of codec and judges (for the stage keys)."""

    codec_folder: str
    asr_folders: dict[str, str]
    timbres: dict[str, SpeakerStats]
    keys: tuple[str, ...]


def judge_candidates(candidates: pd.DataFrame, judge: Judge, workers: int = 1) -> pd.DataFrame:
    """Add the judge's transcript, WER, CER and repetition rate to each candidate row (columns
    lang, text, speaker, tokens)."""
    hyps = transcribe_tokens(list(candidates.lang), list(candidates.speaker), list(candidates.tokens),
                             judge.codec_folder, judge.asr_folders, judge.timbres, workers)
    out = candidates.reset_index(drop=True).assign(hypothesis=hyps)
    parts = [error_rates(list(g.text), list(g.hypothesis), lang).set_index(g.index)[["wer", "cer"]]
             for lang, g in out.groupby("lang", sort=False)]
    out = out.join(pd.concat(parts))
    out["repetition"] = [repetition_rate(t) for t in out.tokens]
    return out


def sample_candidates(model_folder: Path, texts: list[Utterance], temperatures: list[float],
                      cfg: TDSCConfig, slm: SLMConfig, seed: int) -> pd.DataFrame:
    """``cfg.per_temperature`` samples per text at each temperature, one row each."""
    rows = []
    for j, temperature in enumerate(temperatures):
        requests = [Request(u.lang, u.text) for u in texts for _ in range(cfg.per_temperature)]
        out = speak(model_folder, requests, dataclasses.replace(slm, temperature=temperature, top_p=cfg.top_p),
                    seed + j)
        for r, tokens in enumerate(out):
            u = texts[r // cfg.per_temperature]
            rows.append({"text_index": r // cfg.per_temperature, "temperature": temperature,
                         "group": j, "lang": u.lang, "text": u.text, "speaker": u.speaker,
                         "tokens": tokens, "n_tokens": len(tokens)})
    return pd.DataFrame(rows)


def apply_filters(candidates: pd.DataFrame, cfg: TDSCConfig, rate: float) -> pd.DataFrame:
    """P1 Eq. 16 with this config's thresholds: length ratio, the three tests and ``accepted``.
    ``rate`` is :func:`tokens_per_character` of the training speech."""
    if cfg.error not in ERRORS:
        raise ValueError(f"TDSC error measure {cfg.error!r}: use one of {ERRORS}")
    chars = candidates.apply(lambda r: len(characters(r.text, r.lang)), axis=1)
    out = candidates.assign(length_ratio=candidates.n_tokens / (rate * chars))
    out["passes_length"] = out.length_ratio.between(cfg.min_length, cfg.max_length)
    out["passes_repetition"] = out.repetition < cfg.max_repetition
    out["passes_error"] = out[cfg.error] < cfg.max_error
    out["accepted"] = out.passes_length & out.passes_repetition & out.passes_error
    return out


def choose_pairs(filtered: pd.DataFrame, cfg: TDSCConfig) -> pd.DataFrame:
    """Per text: the winner (lowest-error accepted candidate) and the loser (highest-error
    candidate passing length and repetition, error >= ``loser_min_error`` and above the
    winner's); texts without both give no pair. Ties go to the earlier candidate. Columns:
    text_index, winner, loser (row labels of ``filtered``)."""
    rows = []
    for k, g in filtered.groupby("text_index", sort=True):
        won = g[g.accepted]
        if won.empty:
            continue
        winner = won[cfg.error].idxmin()
        lost = g[g.passes_length & g.passes_repetition & (g[cfg.error] >= cfg.loser_min_error)
                 & (g[cfg.error] > g[cfg.error][winner])]
        if len(lost):
            rows.append({"text_index": k, "winner": winner, "loser": lost[cfg.error].idxmax()})
    return pd.DataFrame(rows, columns=["text_index", "winner", "loser"])


@dataclass
class Round:
    """One finished round: the judged candidates (filters applied), the pairs and the model
    the round produced (its folder and cache key; unchanged when nothing passed)."""

    k: int
    candidates: pd.DataFrame
    pairs: pd.DataFrame
    model: Path
    model_key: str
    log: dict


def _sft_settings(slm: SLMConfig, cfg: TDSCConfig, start: Path, n: int, batch: int) -> SLMConfig:
    steps = max(1, math.ceil(cfg.sft_epochs * n / batch))
    return dataclasses.replace(slm, model_name_or_path=str(start), steps=steps, lr=cfg.sft_lr,
                               warmup=min(slm.warmup, steps // 5), batch_size=batch,
                               checkpoint_every=steps + 1)


def _dpo_settings(align: AlignConfig, cfg: TDSCConfig, n_pairs: int) -> AlignConfig:
    steps = max(1, math.ceil(cfg.dpo_epochs * n_pairs / cfg.batch_pairs))
    return dataclasses.replace(align, steps=steps, lr=cfg.dpo_lr, beta=cfg.beta,
                               batch_pairs=cfg.batch_pairs, warmup=min(align.warmup, steps // 5),
                               sft_weight=0.0)


def update(model: Path, model_key: str, sft_model: Path, sft_key: str, filtered: pd.DataFrame,
           pairs: pd.DataFrame, cfg: TDSCConfig, slm: SLMConfig, align: AlignConfig,
           cache: StageCache, device: str = "cpu") -> tuple[Path, str, dict]:
    """SFT on the accepted candidates, then DPO on the pairs (cached); returns the new model's
    folder, key and the logs. With nothing accepted and no pairs the model stays as it was."""
    if cfg.reference not in REFERENCES:
        raise ValueError(f"TDSC reference {cfg.reference!r}: use one of {REFERENCES}")
    accepted = filtered[filtered.accepted]
    use_pairs = pairs if cfg.dpo else pairs.iloc[:0]
    if accepted.empty and use_pairs.empty:
        return model, model_key, {"accepted": 0, "pairs": 0}
    batch = min(slm.batch_size, max(len(accepted), 1))
    preference = [Pair(filtered.lang[w], filtered.text[w], filtered.tokens[w], filtered.tokens[lo])
                  for w, lo in zip(use_pairs.winner, use_pairs.loser)]
    params = {"version": UPDATE_VERSION,
              "accepted": ordered_digest([[t, tokens_digest([y])] for t, y in
                                          zip(accepted.text, accepted.tokens)]),
              "pairs": ordered_digest([[p.text, tokens_digest([p.chosen, p.rejected])] for p in preference]),
              "sft": _sft_settings(slm, cfg, Path("start"), len(accepted), batch),
              "dpo": _dpo_settings(align, cfg, len(preference)) if preference else None,
              "reference": cfg.reference, "seed": cfg.seed}
    inputs = [model_key] + ([sft_key] if cfg.reference == "sft" and preference else [])

    def compute(folder: Path) -> dict:
        log: dict = {"accepted": len(accepted), "pairs": len(preference)}
        start = model
        if len(accepted):
            vocab = load_slm(model)[1]
            examples = [vocab.training_example(r.lang, r.text, r.tokens, None) for r in accepted.itertuples()]
            log["sft"] = fit_slm(examples, vocab, _sft_settings(slm, cfg, model, len(accepted), batch),
                                 cfg.seed, folder / "sft", device=device, log_every=1)
            start = folder / "sft"
        if preference:
            reference = start if cfg.reference == "round" else sft_model
            log["dpo"] = fit_dpo(start, preference, {"default": 1.0}, _dpo_settings(align, cfg, len(preference)),
                                 cfg.seed, folder / "dpo", device=device, log_every=1, reference=reference,
                                 launch=slm.launch)
        log["final"] = "dpo" if preference else "sft"
        return log

    step = cache.run("tdsc.update", params, compute, inputs=inputs)
    return step.path / step.value["final"], step.key, step.value


def round_candidates(model: Path, model_key: str, utts: list[Utterance], k: int, cfg: TDSCConfig,
                     slm: SLMConfig, judge: Judge, cache: StageCache) -> pd.DataFrame:
    """Round k's judged candidates from ``model`` (cached; no filter applied yet)."""
    texts = round_texts(utts, cfg, k)
    temperatures = round_temperatures(cfg, k)
    seed = cfg.seed * 1000 + 10 * k

    def sample_and_judge(folder: Path) -> pd.DataFrame:
        return judge_candidates(sample_candidates(model, texts, temperatures, cfg, slm, seed), judge)

    params = {"version": CANDIDATES_VERSION, "texts": ordered_digest([[u.text, u.speaker] for u in texts]),
              "temperatures": temperatures, "per_temperature": cfg.per_temperature,
              "top_p": cfg.top_p, "tokens_per_char": slm.tokens_per_char, "seed": seed}
    return cache.run("tdsc.candidates", params, sample_and_judge, inputs=[model_key, *judge.keys]).value


def run_rounds(sft_model: Path, sft_key: str, utts: list[Utterance], cfg: TDSCConfig,
               slm: SLMConfig, align: AlignConfig, judge: Judge, cache: StageCache,
               device: str = "cpu", on_round=None) -> list[Round]:
    """Rounds 1 … ``cfg.rounds`` from the SFT model; ``on_round(round)`` is called after each
    (the pipeline evaluates the round's model there)."""
    rate = tokens_per_character(utts)
    model, key, rounds = sft_model, sft_key, []
    for k in range(1, cfg.rounds + 1):
        candidates = round_candidates(model, key, utts, k, cfg, slm, judge, cache)
        filtered = apply_filters(candidates, cfg, rate)
        pairs = choose_pairs(filtered, cfg)
        model, key, log = update(model, key, sft_model, sft_key, filtered, pairs, cfg, slm, align,
                                 cache, device)
        rounds.append(Round(k, filtered.assign(round=k), pairs, model, key, log))
        if on_round is not None:
            on_round(rounds[-1])
    return rounds
