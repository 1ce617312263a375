"""Notebook 04: TDSC for the language with no real speech, its baselines and ablations.

Every system starts from one SFT model trained on the language's synthetic speech only (P1:
1,500 h synthetic Lao, 0 h real; here every filtered synthetic training clip, notebook 01's
``slm.sft`` stage with alpha = 100 %) and is judged on the test texts spoken with held-out
*real* speakers' timbres (P1 tests on real Common Voice Lao), style prompt off (the released
Lao model runs without prompt tokens, P1 §6).

Systems (the choices P1 leaves open are documented here and in ``TDSCConfig``):

* SFT: the starting model.
* TDSC: :func:`slmlib.align.tdsc.run_rounds` with ``cfg.tdsc``.
* Self-training (iterative pseudo-labelling): the same rounds, one sample per text at the SLM's
  own temperature, no judge (every sample is kept) and no DPO.
* Rejection sampling (inference time): N samples of SFT per test text, the lowest CER by the
  ASR judge kept (the evaluation judge: an optimistic baseline).
* Ablations (P1 Tab. 8): without DPO, without multi-temperature (all 12 at T = 1.0), without
  the length filter, without the curriculum (T_max fixed at its last value, Tab. 12's 1.3),
  without the repetition filter.

Voice cloning (P1 §6): SFT and TDSC speak the test texts with a 3-s prompt from another clip of
the held-out speaker; speaker similarity is measured against that prompt clip (seed-tts-eval).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from slmlib.align import pipeline as dgsa
from slmlib.align.config import TDSCConfig
from slmlib.align.dgsa import prompt_sources
from slmlib.align.tdsc import (Judge, apply_filters, choose_pairs, round_temperatures, run_rounds, t_max,
                               tokens_per_character)
from slmlib.cache import StageCache
from slmlib.codec.pipeline import FittedCodec
from slmlib.config import Config
from slmlib.evaluate import chance_cers, summarise
from slmlib.judges.pipeline import ASRJudges
from slmlib.metrics import token_entropy
from slmlib.model.config import SLMConfig
from slmlib.parallel import process_pool
from slmlib.scaling import pipeline as scaling

ALPHA = 1.0          # synthetic speech only


def _grid(cfg: Config) -> Config:
    return dataclasses.replace(cfg, scaling=dataclasses.replace(cfg.scaling, alphas=(ALPHA,),
                                                                seeds=(cfg.tdsc.seed,)))


def prepare(manifest: pd.DataFrame, fitted: FittedCodec, judges: ASRJudges, cfg: Config,
            cache: StageCache) -> scaling.ScalingData:
    """The TDSC language's filtered synthetic training clips, tokens and test items."""
    data = scaling.prepare(manifest, fitted, judges, _grid(cfg), cache, lang=cfg.tdsc.lang)
    if data.utterances.is_real.any():
        raise ValueError(f"{cfg.tdsc.lang!r} has real training speech; TDSC's setting is a "
                         "language without any (world.real_languages)")
    return data


def sft_model(data: scaling.ScalingData, judges: ASRJudges, cfg: Config, cache: StageCache) -> dict:
    """The synthetic-only SFT model (trained here unless cached) and its style-off evaluation."""
    return dgsa.sft_job(data, judges, _grid(cfg), cache, ALPHA, seed=cfg.tdsc.seed)


def candidate_judge(data: scaling.ScalingData, fitted: FittedCodec, judges: ASRJudges) -> Judge:
    """Candidates are decoded with the timbre of their text's training voice (a synthetic
    system: there is no real speaker of the language to borrow one from)."""
    return Judge(data.codec_folder, {data.lang: judges.folders[data.lang]}, fitted.timbres,
                 (data.codec_key, judges.keys[data.lang]))


def variants(cfg: TDSCConfig, slm: SLMConfig) -> dict[str, TDSCConfig]:
    """TDSC, self-training and P1 Tab. 8's ablations as configs of one algorithm."""
    off = {"max_error": math.inf, "max_repetition": math.inf, "min_length": 0.0,
           "max_length": math.inf, "dpo": False}
    changes = {
        "TDSC": {},
        "Self-training": {**off, "temperatures": (), "t_max_start": slm.temperature,
                          "t_max_step": 0.0, "per_temperature": 1},
        "TDSC w/o DPO": {"dpo": False},
        "TDSC w/o multi-temperature": {"temperatures": (1.0, 1.0), "t_max_start": 1.0, "t_max_step": 0.0},
        "TDSC w/o length filter": {"min_length": 0.0, "max_length": math.inf},
        "TDSC w/o curriculum": {"t_max_start": t_max(cfg, cfg.rounds), "t_max_step": 0.0},
        "TDSC w/o repetition filter": {"max_repetition": math.inf},
    }
    return {name: dataclasses.replace(cfg, **c) for name, c in changes.items()}


def cloning_setup(data: scaling.ScalingData, cfg: Config) -> tuple[list[np.ndarray], list[str]]:
    """Per test item, a 3-s prompt from another clip of the same held-out speaker and that
    clip's path (the reference speaker similarity is measured against)."""
    sources = prompt_sources(list(data.items.speaker), cfg.tdsc.seed)
    ids, paths = data.items.id.to_numpy(), data.items.recording_path.to_numpy()
    n = dgsa.prompt_tokens(cfg)
    return [data.tokens[ids[j]][:n] for j in sources], [paths[j] for j in sources]


# --- running the systems ------------------------------------------------------------------------
def _system_job(job: dict) -> dict:
    """Worker: one variant's rounds (evaluating each round's model, or only the last), or the
    SFT model's extra evaluations (rejection-sampling candidates, voice cloning)."""
    import torch

    torch.set_num_threads(1)
    cache = StageCache(job["cache_root"], job["cache_version"])
    ev, sft = job["eval"], job["sft"]
    tables: list[pd.DataFrame] = []
    clone = job["clone"]

    def evaluate(model: Path, key: str, k: int, system: str, last: bool) -> None:
        tables.append(scaling.evaluate_model(ev, cache, model, key)[0].assign(
            system=system, round=k, style="off", sample=0))
        if clone and last:
            table, _ = scaling.evaluate_model(ev, cache, model, key, prompts=clone[0], references=clone[1])
            tables.append(table.assign(system=system, round=k, style="on", sample=0))

    if job["config"] is None:          # the SFT model (its style-off sample 0 is sft_job's own table)
        model = Path(sft["model"])
        for s in range(1, job["samples"]):
            table, _ = scaling.evaluate_model(ev, cache, model, sft["sft_key"],
                                              sample_seed=ev["sample_seed"] + s)
            tables.append(table.assign(system="SFT", round=0, style="off", sample=s))
        table, _ = scaling.evaluate_model(ev, cache, model, sft["sft_key"], prompts=clone[0], references=clone[1])
        tables.append(table.assign(system="SFT", round=0, style="on", sample=0))
        return {"name": "SFT", "tables": tables, "rounds": []}
    cfg: TDSCConfig = job["config"]

    def on_round(r) -> None:
        if job["every_round"] or r.k == cfg.rounds:
            evaluate(r.model, r.model_key, r.k, job["name"], last=r.k == cfg.rounds)

    rounds = run_rounds(Path(sft["model"]), sft["sft_key"], job["utterances"], cfg, ev["slm"],
                        job["align"], job["judge"], cache, ev["device"], on_round)
    return {"name": job["name"], "tables": tables,
            "rounds": [{"k": r.k, "candidates": r.candidates, "pairs": len(r.pairs), "log": r.log}
                       for r in rounds]}


@dataclass
class TDSCResult:
    per_utterance: pd.DataFrame     # system, round, style, sample + the judge's columns
    candidates: pd.DataFrame        # every judged candidate of every system's rounds
    rounds: pd.DataFrame            # per (system, round): accepted, pairs, training steps
    logs: dict[str, list[dict]]     # DPO logs by "system round k"


def run_systems(sft: dict, data: scaling.ScalingData, judge: Judge, cfg: Config, cache: StageCache,
                names: tuple[str, ...] | None = None) -> TDSCResult:
    """Run every variant of :func:`variants` (or TDSC and those in ``names``; TDSC and self-training are
    evaluated after every round, the others after the last) and the SFT baselines, on
    ``cfg.num_workers`` processes."""
    every = variants(cfg.tdsc, cfg.slm)
    unknown = sorted(set(names or ()) - set(every))
    if unknown:
        raise ValueError(f"unknown TDSC systems {unknown}; known: {sorted(every)}")
    clone = cloning_setup(data, cfg)
    base = {"eval": sft["job"], "sft": {k: sft[k] for k in ("model", "sft_key")},
            "utterances": scaling.training_utterances(data, ALPHA), "align": cfg.align, "judge": judge,
            "cache_root": str(cache.root), "cache_version": cache.version}
    jobs = [{**base, "name": name, "config": c, "every_round": name in ("TDSC", "Self-training"),
             "clone": clone if name == "TDSC" else None, "samples": 1}
            for name, c in every.items() if names is None or name in names or name == "TDSC"]
    jobs.append({**base, "name": "SFT", "config": None, "every_round": False, "clone": clone,
                 "samples": cfg.tdsc.rejection_n})
    with process_pool(cfg.training_workers) as pool:
        done = list(pool.map(_system_job, jobs))
    sft_off = sft["table"].assign(system="SFT", round=0, style="off", sample=0)
    per_utt = pd.concat([sft_off] + [t for d in done for t in d["tables"]], ignore_index=True)
    samples = per_utt[(per_utt.system == "SFT") & (per_utt["style"] == "off")]
    best = dgsa.rejection_sampling(samples).assign(round=0)
    per_utt = pd.concat([per_utt[per_utt["sample"] == 0], best], ignore_index=True).assign(alpha=ALPHA)
    candidates = pd.concat([r["candidates"].assign(system=d["name"]) for d in done for r in d["rounds"]],
                           ignore_index=True) if any(d["rounds"] for d in done) else pd.DataFrame()
    if len(candidates):     # every system's samples judged by TDSC's own filter, for comparable pass rates
        rate = tokens_per_character(base["utterances"])
        candidates["passes_tdsc"] = apply_filters(candidates, cfg.tdsc, rate).accepted.to_numpy()
    rounds = pd.DataFrame([{"system": d["name"], "round": r["k"], "accepted": r["log"].get("accepted", 0),
                            "pairs": r["pairs"], "pairs_trained": r["log"].get("pairs", 0),
                            "sft_steps": len(r["log"].get("sft", [])),
                            "dpo_steps": len(r["log"].get("dpo", []))}
                           for d in done for r in d["rounds"]])
    logs = {f"{d['name']} round {r['k']}": r["log"]["dpo"] for d in done for r in d["rounds"]
            if "dpo" in r["log"]}
    return TDSCResult(per_utt, candidates, rounds, logs)


# --- tables -----------------------------------------------------------------------------------
def final_rows(per_utt: pd.DataFrame) -> pd.DataFrame:
    """Each system's last round in each style (SFT and rejection sampling: round 0)."""
    last = per_utt.groupby(["system", "style"])["round"].transform("max")
    return per_utt[per_utt["round"] == last]


def pass_rate(candidates: pd.DataFrame, seed: int = 0, column: str = "accepted") -> dict:
    """Share of candidates passing (``column``) with a 95 % bootstrap CI over texts (a text's
    candidates share its difficulty, so texts are the resampling unit)."""
    per_text = candidates.groupby("text_index")[column].agg(["sum", "count"])
    rng = np.random.default_rng(seed)
    n = len(per_text)
    boots = [per_text.iloc[i].sum() for i in (rng.integers(0, n, n) for _ in range(1000))]
    rates = [b["sum"] / b["count"] for b in boots]
    lo, hi = np.quantile(rates, [0.025, 0.975])
    return {"pass_rate": float(candidates[column].mean()), "pass_rate_low": float(lo),
            "pass_rate_high": float(hi), "candidates": len(candidates)}


def round_table(per_utt: pd.DataFrame, candidates: pd.DataFrame, rounds: pd.DataFrame,
                systems: tuple[str, ...] = ("TDSC", "Self-training"), seed: int = 0) -> pd.DataFrame:
    """P1 Fig. 6's numbers: per system and round k, model k's test metrics with CIs (round 0 =
    SFT) and the pass rate of iteration k's candidates (sampled from model k - 1) by TDSC's
    judge (``passes_tdsc``: self-training keeps every sample, but is scored by the same bar)."""
    rows = []
    off = per_utt[per_utt["style"] == "off"]
    for system in systems:
        for k in range(int(rounds[rounds.system == system]["round"].max()) + 1 if len(rounds) else 1):
            g = off[(off.system == ("SFT" if k == 0 else system)) & (off["round"] == k)]
            if g.empty:
                continue
            s = summarise(g, seed=seed)
            row = {"system": system, "round": k,
                   **{c: s.get(c, np.nan) for c in ("cer", "cer_low", "cer_high", "wer", "wer_low",
                                                     "wer_high", "H_p", "H_p_low", "H_p_high",
                                                     "repetition", "repetition_low", "repetition_high",
                                                     "cer_chance")}}
            c = candidates[(candidates.system == system) & (candidates["round"] == k)] if len(candidates) else candidates
            if len(c):
                row.update(pass_rate(c, seed, "passes_tdsc"))
                r = rounds[(rounds.system == system) & (rounds["round"] == k)].iloc[0]
                row.update({"accepted": int(r.accepted), "pairs": int(r.pairs)})
            rows.append(row)
    return pd.DataFrame(rows)


def temperature_table(candidates: pd.DataFrame, error: str = "cer", system: str = "TDSC",
                      k: int | None = None) -> pd.DataFrame:
    """P1 Tab. 9: iteration k's candidates (default the last) by temperature: their error, WER,
    H_p, repetition, pass rate and share of the accepted set G (``temperature`` is a label:
    the last row is G itself)."""
    c = candidates[candidates.system == system]
    k = int(c["round"].max()) if k is None else k
    c = c[c["round"] == k]
    accepted = max(int(c.accepted.sum()), 1)
    rows = []
    for (group, temperature), g in c.groupby(["group", "temperature"]):
        seqs = [t for t in g.tokens if len(t)]
        rows.append({"round": k, "temperature": f"{temperature:g}", "candidates": len(g),
                     error: g[error].mean(), "wer": g.wer.mean(),
                     "H_p": token_entropy(seqs) if seqs else np.nan, "repetition": g.repetition.mean(),
                     "pass_rate": g.accepted.mean(), "share_of_G": g.accepted.sum() / accepted})
    seqs = [t for t in c[c.accepted].tokens if len(t)]
    if seqs:
        g = c[c.accepted]
        rows.append({"round": k, "temperature": "accepted G", "candidates": len(g), error: g[error].mean(),
                     "wer": g.wer.mean(), "H_p": token_entropy(seqs), "repetition": g.repetition.mean(),
                     "pass_rate": np.nan, "share_of_G": 1.0})
    return pd.DataFrame(rows)


def beside_paper(table: pd.DataFrame) -> pd.DataFrame:
    """Our final rows (style off) beside P1 Tab. 4 and Tab. 8 (P1's WER and Rep in %, on real
    Lao with Dolphin; ours are fractions from a small CTC judge: compare directions)."""
    from slmlib.paper_numbers import paper_table

    paper = pd.concat([paper_table("P1_table4"), paper_table("P1_table8")], ignore_index=True)
    paper = paper.groupby("system", sort=False).first().reset_index()
    paper = paper.rename(columns={c: f"P1_{c}" for c in paper.columns if c != "system"})
    ours = table[table["style"] == "off"][["system", "wer", "cer", "H_p", "repetition", "speaker_sim"]]
    ours = ours.assign(system=ours.system.str.replace(r"Rejection sampling.*", "Rejection sampling",
                                                      regex=True))
    return ours.merge(paper, on="system", how="outer").round(3)


def with_chance_gap(per_utt: pd.DataFrame) -> pd.DataFrame:
    """Add ``cer_vs_chance``: each item's CER minus its transcript's CER against another item's
    text (:func:`slmlib.evaluate.chance_cers`, within each system and style, items in id order).
    Output that drifts towards generic speech lowers both, so a gain in CER alone can be a
    gain in sounding like the language rather than in saying the text."""
    parts = []
    for _, g in per_utt.groupby(["system", "style", "round"], sort=False):
        g = g.sort_values("id")
        parts.append(g.assign(cer_vs_chance=g.cer - chance_cers(g)))
    return pd.concat(parts) if parts else per_utt.assign(cer_vs_chance=np.nan)


def findings(table: pd.DataFrame, per_utt: pd.DataFrame, rounds: pd.DataFrame, temps: pd.DataFrame,
             cfg: TDSCConfig) -> str:
    """Closing lines of notebook 04, from this run's numbers: the rounds, the pass rate, TDSC
    against every other system (paired, same items, style off), the temperatures, cloning, and
    P1's claim judged on CER (our judge's WER exceeds 1 on short Lao words; it is shown too)."""
    final = with_chance_gap(final_rows(per_utt))
    final = final[final["style"] == "off"]
    t = table[table["style"] == "off"].set_index("system")
    lines, claims = [], {}
    tdsc = rounds[rounds.system == "TDSC"].set_index("round")
    if len(tdsc) > 1:
        a, b = tdsc.iloc[0], tdsc.iloc[-1]
        lines.append(f"- TDSC over {int(tdsc.index.max())} rounds: CER {a.cer:.3f} [{a.cer_low:.3f}, "
                     f"{a.cer_high:.3f}] (SFT; chance {a.cer_chance:.3f}) → {b.cer:.3f} [{b.cer_low:.3f}, "
                     f"{b.cer_high:.3f}]; WER {a.wer:.3f} → {b.wer:.3f}; H_p {a.H_p:.2f} [{a.H_p_low:.2f}, "
                     f"{a.H_p_high:.2f}] → {b.H_p:.2f} [{b.H_p_low:.2f}, {b.H_p_high:.2f}] bits; Rep "
                     f"{a.repetition:.4f} → {b.repetition:.4f}.")
        claims["H_p rose"] = bool(b.H_p_low > a.H_p_high)
        passes = tdsc.dropna(subset=["pass_rate"]) if "pass_rate" in tdsc else tdsc.iloc[:0]
        if len(passes) > 1:
            p0, p1 = passes.iloc[0], passes.iloc[-1]
            claims["pass rate rose"] = bool(p1.pass_rate_low > p0.pass_rate_high)
            lines.append(f"- Pass rate of the candidates ({cfg.error.upper()} < {cfg.max_error}, Rep < "
                         f"{cfg.max_repetition}, length {cfg.min_length}-{cfg.max_length}×): iteration "
                         f"{passes.index[0]} {p0.pass_rate:.1%} [{p0.pass_rate_low:.1%}, {p0.pass_rate_high:.1%}] "
                         f"→ iteration {passes.index[-1]} {p1.pass_rate:.1%} [{p1.pass_rate_low:.1%}, "
                         f"{p1.pass_rate_high:.1%}] (T_max {t_max(cfg, int(passes.index[0]))} → "
                         f"{t_max(cfg, int(passes.index[-1]))}).")
    names = {"cer": "CER", "cer_vs_chance": "CER minus chance", "wer": "WER", "repetition": "Rep"}
    tdsc_rows = final[final.system == "TDSC"]
    for base in [x for x in final.system.unique() if x != "TDSC"]:
        vs = dgsa.paired_deltas(pd.concat([final[final.system == base], tdsc_rows]), base, style="off",
                                metrics=tuple(names))
        parts = [f"{names[m]} {dgsa.paired_change(vs, 'TDSC', m)}" for m in names]
        if base in t.index and "TDSC" in t.index:
            parts.append(f"H_p {t.loc['TDSC', 'H_p']:.2f} vs {t.loc[base, 'H_p']:.2f}")
        lines.append(f"- TDSC minus {base} (same test items): " + "; ".join(parts) + ".")
        r = dgsa.paired_row(vs, "TDSC", "cer")
        if base == "SFT":
            claims["CER fell below SFT"] = r is not None and r.high < 0
            c = dgsa.paired_row(vs, "TDSC", "cer_vs_chance")
            claims["and relative to chance"] = c is not None and c.high < 0
        elif base == "Self-training" or base.startswith("Rejection sampling"):
            claims[f"beat {base.split(' (')[0].lower()}"] = r is not None and r.high < 0
    if len(temps):
        by_t = temps[temps.temperature != "accepted G"]
        lines.append(f"- Iteration {int(temps['round'].iloc[0])} candidates by temperature: " + ", ".join(
            f"T = {r.temperature}: pass {r.pass_rate:.1%}, {cfg.error.upper()} {r[cfg.error]:.3f}, "
            f"H_p {r.H_p:.2f}, Rep {r.repetition:.3f}" for _, r in by_t.iterrows())
            + " (P1 Tab. 9: the lower the temperature, the fewer errors, the lower H_p and Rep).")
    on = table[table["style"] == "on"].set_index("system")
    if {"SFT", "TDSC"} <= set(on.index):
        s, d = on.loc["SFT"], on.loc["TDSC"]
        lines.append(f"- Voice cloning (3-s prompt of a held-out speaker): SIM {s.speaker_sim:.3f} "
                     f"[{s.speaker_sim_low:.3f}, {s.speaker_sim_high:.3f}] (SFT) vs {d.speaker_sim:.3f} "
                     f"[{d.speaker_sim_low:.3f}, {d.speaker_sim_high:.3f}] (TDSC); CER {s.cer:.3f} vs "
                     f"{d.cer:.3f} (P1: SIM 0.81 with WavLM, WER 29.8 %).")
    if claims:
        held = [k for k, v in claims.items() if v]
        verdict = ("holds" if len(held) == len(claims) else "does not hold" if not held else "partly holds")
        lines.append(f"- P1's TDSC claim {verdict} here: " + "; ".join(
            f"{k}: {'yes' if v else 'no'}" for k, v in claims.items()) + " (CIs as above; 'yes' "
            "only where the 95 % interval excludes no change).")
    return "\n".join(lines)


def example_pair(candidates: pd.DataFrame, cfg: TDSCConfig) -> list[tuple[str, pd.Series]]:
    """The winner and loser of the first text in ``candidates`` (one round) that has a pair."""
    pairs = choose_pairs(candidates, cfg)
    if pairs.empty:
        return []
    p = pairs.iloc[0]
    return [("winner", candidates.loc[p.winner]), ("loser", candidates.loc[p.loser])]


def temperatures_of(cfg: TDSCConfig) -> pd.DataFrame:
    """The temperature schedule of every round (for the notebook's first table)."""
    return pd.DataFrame([{"round": k, "temperatures": round_temperatures(cfg, k), "T_max": t_max(cfg, k)}
                         for k in range(1, cfg.rounds + 1)])
