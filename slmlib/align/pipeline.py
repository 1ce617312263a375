"""Notebook 03: DGSA at alpha = 0.8, its baselines and ablations, all from one SFT model.

Stages (all cached, so a rerun or one more system trains only what is new):

* the SFT model of ``cfg.align.alpha`` (seed ``cfg.align.seed``): notebook 01's ``slm.sft``
  stage, trained here if notebook 01 has not run;
* ``dgsa.pairs``  -- the frozen SFT model speaks ``pair_texts`` real training texts with the
  style prompt on (y_expr) and off (y_stab), same decoding as evaluation;
* ``dgsa.dpo``    -- one preference-trained policy per system;
* ``slm.eval``    -- every system speaks the held-out items with the style prompt on (zero-shot:
  a 3-s prompt from another utterance of the held-out speaker, P1's SMOS setting) and, for the
  main systems, off.

Systems and what is chosen where P1 is silent:

* SFT: the frozen model itself.
* DGSA: lambda_s * DPO(T_stab) + lambda_e * DPO(T_expr), lambda from alpha (P1 Eq. 14).
* Standard DPO: P1 says only "single expressivity objective". Here: DPO on T_expr alone (real
  over the flat style-off output) with weight 1, the one expressivity preference the setup has.
* Rejection sampling: "inference-time filtering" in P1. Here: N style-on samples of the SFT
  model per text, keep the one with the lowest CER by the ASR judge (ties: larger F0 std). It
  is selected with the evaluation judge, so it is an optimistic baseline.
* Ablations (P1 Tab. 7): without T_expr (lambda_s kept), without T_stab (lambda_e kept), pairs
  prompted by a random other speaker, fixed lambda = 0.5 / 0.5. Weights are not renormalised
  when an objective is dropped (``slmlib.align.dpo.weighted_group_loss``).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from slmlib.align.config import AlignConfig
from slmlib.align.dgsa import dgsa_pairs, preference_pairs, style_prompts
from slmlib.align.dpo import Pair, dgsa_weights
from slmlib.align.dpo_job import fit_dpo
from slmlib.cache import StageCache
from slmlib.config import Config
from slmlib.evaluate import summarise
from slmlib.judges.pipeline import ASRJudges
from slmlib.judges.proxies import naturalness_proxy
from slmlib.model.data import Utterance, promptable
from slmlib.model.train import load_slm
from slmlib.parallel import process_pool
from slmlib.scaling import pipeline as scaling
from slmlib.stats import change_text, paired_difference_ci

PAIRS_VERSION = 1
DPO_VERSION = 1


@dataclass(frozen=True)
class System:
    name: str
    pairs: str                       # "identity" (same-speaker prompts) or "random_speaker"
    weights: dict[str, float]        # per preference set; {} = no training (the SFT model)
    styles: tuple[str, ...]          # evaluation modes: "on" (prompted) and/or "off"
    recipe: str


def lambdas(align: AlignConfig) -> dict[str, float]:
    """DGSA's weights at ``align.alpha`` (rounded, so 0.4 prints as 0.4)."""
    return {k: round(v, 6) for k, v in dgsa_weights(align.alpha, align.alpha_star).items()}


def systems(align: AlignConfig) -> list[System]:
    """The systems of P1 Tab. 3 (SFT, standard DPO, DGSA) and Tab. 7 (ablations) at ``align.alpha``."""
    w = lambdas(align)
    return [
        System("SFT", "identity", {}, ("on", "off"), "the frozen SFT model"),
        System("DPO", "identity", {"stab": 0.0, "expr": 1.0}, ("on", "off"),
               "standard DPO, one expressivity objective: real > style-off output"),
        System("DGSA", "identity", w, ("on", "off"),
               f"lambda_s {w['stab']:.2f} DPO(T_stab) + lambda_e {w['expr']:.2f} DPO(T_expr)"),
        System("DGSA w/o expressivity", "identity", {"stab": w["stab"], "expr": 0.0}, ("on",),
               "T_stab only, lambda_s kept"),
        System("DGSA w/o stability", "identity", {"stab": 0.0, "expr": w["expr"]}, ("on",),
               "T_expr only, lambda_e kept"),
        System("DGSA random-speaker pairs", "random_speaker", w, ("on",),
               "y_expr prompted by another speaker"),
        System("DGSA fixed lambda", "identity", {"stab": 0.5, "expr": 0.5}, ("on",),
               "lambda_s = lambda_e = 0.5"),
    ]


def prompt_tokens(cfg: Config) -> int:
    """Length cap of a style prompt in speech tokens (``slm.prompt_seconds`` at the codec's rate)."""
    return int(cfg.slm.prompt_seconds * cfg.codec.tokens_per_second)


def lambda_schedule(alpha_star: float, alphas: np.ndarray | None = None) -> pd.DataFrame:
    """lambda_s and lambda_e over alpha (P1 Fig. 5)."""
    alphas = np.linspace(0, 1, 101) if alphas is None else np.asarray(alphas)
    return pd.DataFrame([{"alpha": a, **{f"lambda_{k}": v for k, v in dgsa_weights(a, alpha_star).items()}}
                         for a in alphas])


# --- the SFT model and the pairs ------------------------------------------------------------
def sft_job(data: scaling.ScalingData, judges: ASRJudges, cfg: Config, cache: StageCache,
            alpha: float, seed: int | None = None) -> dict:
    """The notebook-01 job of (alpha, seed; default ``align.seed``), run in a worker (a cache
    hit after notebook 01): the model folder, its stage key and its style-off evaluation."""
    if alpha not in data.sets:
        raise ValueError(f"alpha {alpha} is not a mixture of this run: add it to scaling.alphas "
                         f"(now {sorted(data.sets)})")
    grid = dataclasses.replace(cfg, scaling=dataclasses.replace(
        cfg.scaling, alphas=(alpha,), seeds=(cfg.align.seed if seed is None else seed,)))
    job = scaling.model_jobs(data, judges, grid, cache)[0]
    with process_pool(1) as pool:
        return {**pool.submit(scaling._model_job, job).result(), "job": job}


@dataclass
class PreferenceData:
    utterances: list[Utterance]
    prompts: list[np.ndarray]
    generated: dict[str, list[np.ndarray]]     # "expr" (style on), "stab" (style off)

    def pairs(self, score_with_prompt: bool) -> list[Pair]:
        return preference_pairs(self.utterances, self.prompts, self.generated["expr"],
                                self.generated["stab"], score_with_prompt)

    def lengths(self) -> pd.DataFrame:
        """Token counts of y_real, y_expr and y_stab per text (a first look at the pairs)."""
        return pd.DataFrame({"real": [len(u.tokens) for u in self.utterances],
                             "expr": [len(t) for t in self.generated["expr"]],
                             "stab": [len(t) for t in self.generated["stab"]]})


def preference_data(data: scaling.ScalingData, sft: dict, cfg: Config, cache: StageCache,
                    alpha: float, random_speaker: bool = False) -> PreferenceData:
    """Cached: y_expr and y_stab of the frozen SFT model for ``pair_texts`` real texts."""
    align, slm = cfg.align, cfg.slm
    real = scaling.training_utterances(data, alpha, real_only=True)
    keep = promptable([u.speaker for u in real], "DGSA leaves out {n} real clips")
    real = [u for u, k in zip(real, keep) if k]
    if not real:
        raise ValueError(f"the alpha = {alpha} training set has no real speech: DGSA needs real "
                         "recordings as the chosen side of its pairs (TDSC, notebook 04, does not)")
    prompts = style_prompts(real, prompt_tokens(cfg), align.seed, random_speaker)   # from all real clips
    rng = np.random.default_rng(align.seed)
    pick = np.sort(rng.choice(len(real), size=min(align.pair_texts, len(real)), replace=False))
    utts, prompts = [real[i] for i in pick], [prompts[i] for i in pick]

    def compute(folder: Path) -> dict:
        model, vocab = load_slm(sft["model"])
        _, generated = dgsa_pairs(model, vocab, utts, prompts, temperature=slm.temperature,
                                  top_p=slm.top_p, tokens_per_char=slm.tokens_per_char,
                                  batch_size=slm.generate_batch, seed=align.seed,
                                  score_with_prompt=False)
        return generated

    params = {"version": PAIRS_VERSION, "texts": scaling.ordered_digest([u.text for u in utts]),
              "prompts": scaling.tokens_digest(prompts),
              **slm.sampling(), "seed": align.seed}
    step = cache.run("dgsa.pairs", params, compute, inputs=[sft["sft_key"]])
    return PreferenceData(utts, prompts, step.value)


def evaluation_prompts(data: scaling.ScalingData, max_tokens: int, seed: int) -> list[np.ndarray]:
    """A style prompt for each evaluation item: the start of another held-out clip of the same
    speaker, never the item's own recording."""
    utts = [Utterance(r.lang, r.text, r.speaker, data.tokens[r.id]) for r in data.items.itertuples()]
    return style_prompts(utts, max_tokens, seed)


# --- training and evaluating the systems --------------------------------------------------------
def _system_job(job: dict) -> dict:
    """Worker: train one system (if it trains) and evaluate it in each of its styles; the
    style-on evaluation is sampled ``job["samples"]`` times (seeds sample_seed + k)."""
    import torch

    torch.set_num_threads(1)
    cache = StageCache(job["cache_root"], job["cache_version"])
    model_folder, model_key = Path(job["sft_model"]), job["sft_key"]
    align: AlignConfig = job["align"]
    log: list[dict] = []
    if job["weights"]:
        params = {"version": DPO_VERSION, "align": dataclasses.asdict(align),
                  "weights": job["weights"], "pairs": job["pairs_key"]}

        def train(folder: Path) -> list[dict]:
            return fit_dpo(model_folder, job["pairs"], job["weights"], align, align.seed, folder / "model",
                           device=job["eval"]["device"], launch=job["eval"]["slm"].launch)

        step = cache.run("dgsa.dpo", params, train, inputs=[model_key])
        model_folder, model_key, log = step.path / "model", step.key, step.value
    tables = []
    for style in job["styles"]:
        for k in range(job["samples"] if style == "on" else 1):
            table, _ = scaling.evaluate_model(
                job["eval"], cache, model_folder, model_key,
                prompts=job["prompts"] if style == "on" else None,
                sample_seed=job["eval"]["sample_seed"] + k)
            tables.append(table.assign(alpha=job["alpha"], system=job["name"], style=style, sample=k))
    return {"name": job["name"], "alpha": job["alpha"], "tables": tables, "log": log}


@dataclass
class AlignResult:
    per_utterance: pd.DataFrame       # one row per (system, style, item); rejection sampling picked
    samples: pd.DataFrame             # every SFT sample of the rejection-sampling baseline
    logs: dict[str, list[dict]]       # DPO logs by system


def run_systems(sft: dict, pairs: dict[str, PreferenceData], data: scaling.ScalingData,
                cfg: Config, cache: StageCache, extra: list[tuple[str, dict, PreferenceData, dict]] = (),
                only: tuple[str, ...] | None = None, variants: dict[str, dict] | None = None
                ) -> AlignResult:
    """Train and evaluate every system of :func:`systems` on ``cfg.num_workers`` processes.
    ``pairs`` maps "identity" / "random_speaker" to preference data; ``extra`` adds
    (name, sft, pairs, weights) systems from another SFT model (the alpha <= alpha* check;
    rows carry each model's ``alpha``). ``only`` restricts the systems to these names (SFT, the
    baseline and the rejection-sampling candidates, always runs). ``variants`` maps a label to
    changed ``AlignConfig`` fields: DGSA is trained once more with each, as "DGSA (label)"."""
    align = cfg.align
    prompts = evaluation_prompts(data, prompt_tokens(cfg), align.seed)
    base = {"prompts": prompts, "eval": sft["job"],
            "cache_root": str(cache.root), "cache_version": cache.version}

    def job(name, model, prefs, weights, styles, samples=1, settings=align):
        pairs_ = prefs.pairs(settings.score_with_prompt) if prefs is not None else []
        key = scaling.ordered_digest([[p.text, p.group, scaling.tokens_digest([p.chosen, p.rejected]),
                                       None if p.prompt is None else scaling.tokens_digest([p.prompt])]
                                      for p in pairs_])
        return {**base, "name": name, "alpha": model["alpha"], "sft_model": model["model"],
                "sft_key": model["sft_key"], "align": settings,
                "weights": weights, "pairs": pairs_, "pairs_key": key, "styles": styles,
                "samples": samples}

    jobs = [job(s.name, sft, pairs[s.pairs] if s.weights else None, s.weights, s.styles,
                samples=align.rejection_n if s.name == "SFT" else 1) for s in systems(align)
            if only is None or s.name in only or s.name == "SFT"]
    # the style-on SFT samples double as the rejection-sampling candidates (sample 0 = SFT)
    for name, model, prefs, weights in extra:
        jobs.append(job(name, model, prefs, weights, ("on", "off")))
    for label, changes in (variants or {}).items():
        jobs.append(job(f"DGSA ({label})", sft, pairs["identity"], lambdas(align), ("on",),
                        settings=dataclasses.replace(align, **changes)))
    with process_pool(cfg.training_workers) as pool:
        done = list(pool.map(_system_job, jobs))
    per_utt = pd.concat([t for d in done for t in d["tables"]], ignore_index=True)
    samples = per_utt[(per_utt.system == "SFT") & (per_utt["style"] == "on")
                      & (per_utt.alpha == sft["alpha"])]
    per_utt = pd.concat([per_utt[per_utt["sample"] == 0], rejection_sampling(samples)],
                        ignore_index=True)
    return AlignResult(per_utt, samples,
                       {f"{d['name']} (alpha {d['alpha']:.2f})": d["log"] for d in done if d["log"]})


def rejection_sampling(samples: pd.DataFrame) -> pd.DataFrame:
    """Best of N per item: lowest CER, ties broken by the larger F0 std (more expressive)."""
    ranked = samples.assign(_f0=samples.f0_std_st.fillna(-np.inf)).sort_values(
        ["id", "cer", "_f0"], ascending=[True, True, False])
    best = ranked.groupby("id", sort=False).head(1).drop(columns="_f0")
    n = samples["sample"].nunique()
    return best.assign(system=f"Rejection sampling (best of {n})", sample=0)


# --- tables ---------------------------------------------------------------------------------
def system_table(per_utt: pd.DataFrame, recording_cer: pd.Series | None,
                 real_prosody: pd.DataFrame | None = None, seed: int = 0) -> pd.DataFrame:
    """P1 Tab. 3 / Tab. 7's shape: one row per (alpha, system, style) with 95 % CIs; with
    ``real_prosody`` (per-utterance prosody of real speech through the codec) also the NMOS
    proxy of :func:`slmlib.judges.proxies.naturalness_proxy` (a proxy, no CI)."""
    rows = []
    for (alpha, system, style), g in per_utt.groupby(["alpha", "system", "style"], sort=False):
        s = summarise(g, recording_cer, seed)
        if real_prosody is not None:
            s.update(naturalness_proxy(g, real_prosody, s["cer"]))
        rows.append({"alpha": alpha, "system": system, "style": style, **s})
    return pd.DataFrame(rows)


def paired_deltas(per_utt: pd.DataFrame, baseline: str = "SFT", style: str = "on",
                  metrics: tuple[str, ...] = ("cer", "f0_std_st", "f0_corr", "speaker_sim",
                                              "repetition"), seed: int = 0) -> pd.DataFrame:
    """Each system minus ``baseline`` on the same items (paired bootstrap 95 % CI); pass the
    rows of one SFT model's alpha."""
    g = per_utt[per_utt["style"] == style]
    base = g[g.system == baseline].set_index("id")
    rows = []
    for system, s in g.groupby("system", sort=False):
        if system == baseline:
            continue
        s = s.set_index("id").reindex(base.index)
        for m in metrics:
            ok = s[m].notna() & base[m].notna()
            if ok.sum() < 2:
                continue
            d, lo, hi = paired_difference_ci(s[m][ok].to_numpy(), base[m][ok].to_numpy(), seed=seed)
            rows.append({"system": system, "metric": m, "delta": d, "low": lo, "high": hi,
                         "n": int(ok.sum())})
    return pd.DataFrame(rows)


def paired_row(deltas: pd.DataFrame, system: str, metric: str) -> pd.Series | None:
    """The row of ``deltas`` (:func:`paired_deltas`) for system and metric, None if absent."""
    r = deltas[(deltas.system == system) & (deltas.metric == metric)] if len(deltas) else deltas
    return None if r.empty else r.iloc[0]


def paired_change(deltas: pd.DataFrame, system: str, metric: str) -> str:
    """That row as findings print it (:func:`slmlib.stats.change_text`), or "n/a"."""
    r = paired_row(deltas, system, metric)
    return "n/a" if r is None else change_text(r.delta, r.low, r.high)


def beside_paper(table: pd.DataFrame, alpha: float, style: str = "on") -> pd.DataFrame:
    """Our rows at ``alpha`` beside P1 Tab. 3 and Tab. 7 (P1's WER and Rep in %, ours fractions)."""
    from slmlib.paper_numbers import paper_table

    paper = pd.concat([paper_table("P1_table3"), paper_table("P1_table7")], ignore_index=True)
    paper = paper.groupby("system", sort=False).first().reset_index()
    paper = paper.rename(columns={c: f"P1_{c}" for c in paper.columns if c != "system"})
    ours = table[(table["style"] == style) & (table.alpha == alpha)][["system", "wer", "cer", "H_p", "repetition",
                                           "f0_std_st", "speaker_sim"]]
    ours = ours.assign(system=ours.system.str.replace(r"Rejection sampling.*", "Rejection sampling",
                                                      regex=True))
    return ours.merge(paper, on="system", how="outer").round(3)


def findings(table: pd.DataFrame, per_utt: pd.DataFrame, logs: dict[str, list[dict]],
             align: AlignConfig, check: pd.DataFrame | None = None) -> str:
    """Closing lines of notebook 03, from this run's numbers: the premise, each system against
    SFT and DGSA against each baseline (paired, same items, style on), the check below alpha*
    and the DPO margins (``check``: paired differences at ``align.check_alpha``)."""
    main = per_utt[per_utt.alpha == align.alpha]
    t = table[(table["style"] == "on") & (table.alpha == align.alpha)].set_index("system")
    w = lambdas(align)
    vs_sft = paired_deltas(main, "SFT")

    s = t.loc["SFT"]
    lines = [f"- Weights at alpha = {align.alpha:.2f}, alpha* = {align.alpha_star:.2f}: "
             f"lambda_s = {w['stab']:.2f}, lambda_e = {w['expr']:.2f}.",
             f"- SFT (style on): CER {s.cer:.3f} [{s.cer_low:.3f}, {s.cer_high:.3f}] (chance "
             f"{s.cer_chance:.3f}), H_p {s.H_p:.2f}, F0 std {s.f0_std_st:.2f} st, Rep {s.repetition:.4f}."]
    off = table[(table["style"] == "off") & (table.alpha == align.alpha) & (table.system == "SFT")]
    if len(off):
        o = off.iloc[0]
        lines.append(f"- P1's premise (Eq. 6-7), SFT with the style prompt on vs off: CER {s.cer:.3f} vs "
                     f"{o.cer:.3f}, F0 std {s.f0_std_st:.2f} vs {o.f0_std_st:.2f} st, SIM "
                     f"{s.speaker_sim:.3f} vs {o.speaker_sim:.3f} (P1 expects style on to be more "
                     "expressive and less accurate).")
    for system in t.index.drop("SFT"):
        change = {m: paired_change(vs_sft, system, m) for m in ("cer", "f0_std_st", "f0_corr", "speaker_sim")}
        lines.append(f"- {system} minus SFT: CER {change['cer']}; F0 std {change['f0_std_st']}; F0 corr "
                     f"{change['f0_corr']}; SIM {change['speaker_sim']}; H_p {t.loc[system, 'H_p']:.2f} "
                     f"(SFT {s.H_p:.2f}).")
    if "DGSA" in t.index:
        d = t.loc["DGSA"]
        kept = s.cer_low <= d.cer <= s.cer_high
        f0 = vs_sft[(vs_sft.system == "DGSA") & (vs_sft.metric == "f0_std_st")]
        raised = bool(len(f0)) and f0.iloc[0].low > 0
        wer_kept = s.wer_low <= d.wer <= s.wer_high
        lines.append(f"- P1's claim for DGSA: WER {'stays' if wer_kept else 'does not stay'} within SFT's CI "
                     f"({d.wer:.3f} vs [{s.wer_low:.3f}, {s.wer_high:.3f}]; above 1 means more errors than "
                     f"words, so CER is the informative measure here), CER "
                     f"{'stays' if kept else 'does not stay'} within SFT's CI "
                     f"({d.cer:.3f} vs [{s.cer_low:.3f}, {s.cer_high:.3f}]) and expressivity (F0 std) "
                     f"{'rises' if raised else 'does not clearly rise'}: the claim "
                     f"{'holds' if kept and raised else 'does not hold'} here.")
        for base in [b for b in t.index if b.startswith(("DPO", "Rejection"))]:
            vs = paired_deltas(main, base, metrics=("cer", "f0_std_st"))
            lines.append(f"- DGSA minus {base}: CER {paired_change(vs, 'DGSA', 'cer')}; F0 std "
                         f"{paired_change(vs, 'DGSA', 'f0_std_st')}.")
    if check is not None and not check.empty:
        wc = dgsa_weights(align.check_alpha, align.alpha_star)
        lines.append(f"- At alpha = {align.check_alpha:.2f} (lambda_e = {wc['expr']:.2f}, only T_stab "
                     f"active) DGSA minus that alpha's SFT: CER {paired_change(check, 'DGSA', 'cer')}; F0 std "
                     f"{paired_change(check, 'DGSA', 'f0_std_st')}.")
    for name, log in logs.items():
        first = next((e["step"] for e in log if all(e[k] > 0.99 for k in e if k.endswith("/accuracy"))), None)
        last = log[-1]
        margins = ", ".join(f"{k.split('/')[0]} margin {v:+.2f}" for k, v in last.items()
                            if k.endswith("/margin"))
        when = (f"every pair of a logged batch ranked right from step {first} of {last['step']} on"
                if first else "never every pair of a batch ranked right")
        lines.append(f"- {name}: {when}; last step {margins}, loss {last['loss']:.4f}.")
    return "\n".join(lines)
