"""Figures: one consistent, colour-blind-safe seaborn style for every notebook."""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator
import numpy as np
import pandas as pd
import seaborn as sns

from slmlib.data.manifest import load_audio
from slmlib.prosody import f0_contour, semitones

PALETTE = "colorblind"


def set_style() -> None:
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE)


def save(fig: plt.Figure, out: Path, name: str) -> Path:
    """Save a figure as PNG beside the notebook's results and return the path."""
    path = out / f"{name}.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path


def f0_examples(rows: pd.DataFrame) -> plt.Figure:
    """F0 contours of a few utterances, one panel each, in semitones re each utterance's
    median on a shared axis, so that pitch movement compares across voices."""
    fig, axes = plt.subplots(len(rows), 1, figsize=(9, 1.7 * len(rows)), sharex=True,
                             sharey=True, squeeze=False)
    for ax, (_, row) in zip(axes[:, 0], rows.iterrows()):
        t, f0 = f0_contour(load_audio(row.path))
        voiced = f0 > 0
        ax.plot(t[voiced], semitones(f0), ".", ms=3)
        kind = "real" if row.is_real else "synthetic"
        ax.set_title(f"{row.lang} {kind} · {row.speaker} · {row.emotion}", fontsize=9, loc="left")
        ax.set_ylabel("F0 (st)")
    axes[-1, 0].set_xlabel("time (s)")
    fig.tight_layout()
    return fig


def f0_std_distributions(f0: pd.DataFrame) -> plt.Figure:
    """Per-utterance F0 std (semitones), real vs synthetic, per language."""
    data = f0.assign(kind=f0.is_real.map({True: "real", False: "synthetic"}))
    fig, ax = plt.subplots(figsize=(7, 3.5))
    sns.boxplot(data=data, x="lang", y="f0_std_st", hue="kind", ax=ax)
    ax.set_ylabel("per-utterance F0 std (semitones)")
    ax.set_xlabel("language")
    fig.tight_layout()
    return fig


def tone_contours(contours: pd.DataFrame) -> plt.Figure:
    """Mean F0 contour per Thai tone (95 % CI band), real speaker vs synthetic system."""
    g = sns.relplot(data=contours, x="position", y="semitones", hue="tone", col="voice",
                    hue_order=["mid", "low", "falling", "high", "rising"],
                    kind="line", errorbar=("ci", 95), palette=PALETTE, height=3.2, aspect=1.2)
    g.set_axis_labels("normalised time in the syllable", "F0 (semitones re voice median)")
    return g.figure


def loss_curves(logs: dict[str, list[dict]], title: str = "training loss", window_steps: int = 50) -> plt.Figure:
    """Loss over steps, one line per run (e.g. per language), as a running mean over
    ``window_steps`` training steps (a log entry every few steps holds that step's batch loss,
    so the window counts entries accordingly); runs without a log (a pretrained judge) are left out."""
    logs = {name: log for name, log in logs.items() if log}
    if not logs:
        fig, ax = plt.subplots(figsize=(7, 1.2))
        ax.text(0.5, 0.5, "nothing was trained here", ha="center", va="center")
        ax.set_axis_off()
        return fig

    def smoothed(name: str, log: list[dict]) -> pd.DataFrame:
        run = pd.DataFrame(log).assign(run=name)
        spacing = float(np.median(np.diff(run.step))) if len(run) > 1 else 1.0
        entries = max(1, round(window_steps / max(spacing, 1.0)))
        return run.assign(smoothed=run.loss.rolling(entries, min_periods=1).mean())

    df = pd.concat([smoothed(name, log) for name, log in logs.items()])
    fig, ax = plt.subplots(figsize=(7, 3.2))
    sns.lineplot(data=df, x="step", y="smoothed", hue="run", ax=ax)
    ax.set(yscale="log", ylabel=f"loss ({window_steps}-step running mean)", title=title)
    return fig


def term_curves(logs: dict[str, list[dict]], terms: list[str], title: str = "") -> plt.Figure:
    """One panel per loss term over training steps, one line per run; a log whose entries carry
    a ``stage`` restarts its step count per stage, so later stages are shifted to follow on."""
    df = pd.concat([pd.DataFrame(log).assign(run=name) for name, log in logs.items() if log])
    if "stage" in df:
        ends = df.groupby(["run", "stage"]).step.max().groupby(level="run").cumsum()
        offset = ends.groupby(level="run").shift(fill_value=0)
        df["step"] = df.step + [offset[(r, s)] for r, s in zip(df.run, df.stage)]
    terms = [t for t in terms if t in df]
    fig, axes = plt.subplots(1, len(terms), figsize=(3.4 * len(terms), 3), squeeze=False)
    for ax, term in zip(axes[0], terms):
        sns.lineplot(data=df.dropna(subset=[term]), x="step", y=term, hue="run", ax=ax, legend=ax is axes[0][-1])
        ax.set_title(term)
    if axes[0][-1].get_legend():
        sns.move_legend(axes[0][-1], "upper left", bbox_to_anchor=(1, 1), fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def confusion(intended: pd.Series, predicted: pd.Series, labels: list[str],
              title: str = "") -> plt.Figure:
    """Row-normalised confusion matrix (rows: intended, columns: predicted)."""
    table = pd.crosstab(pd.Categorical(intended, labels), pd.Categorical(predicted, labels),
                        normalize="index", dropna=False)
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    sns.heatmap(table, annot=True, fmt=".2f", cmap="viridis", vmin=0, vmax=1, ax=ax, cbar=False)
    ax.set(xlabel="predicted", ylabel="intended", title=title)
    return fig


def metric_curves(table: pd.DataFrame, metrics: list[str], x: str = "alpha",
                  references: dict[str, float] | None = None, hue: str | None = None) -> plt.Figure:
    """One panel per metric: the estimate over ``x`` with its 95 % CI band (columns
    ``<m>``, ``<m>_low``, ``<m>_high``), one line per value of ``hue`` if given; ``references``
    draws a dashed line per metric (e.g. the ground-truth tokens' value)."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.2 * len(metrics), 3), squeeze=False)
    groups = list(table.groupby(hue, sort=False)) if hue else [(None, table)]
    for ax, m in zip(axes[0], metrics):
        for label, g in groups:
            t = g.dropna(subset=[m]).sort_values(x)
            ax.plot(t[x], t[m], marker="o", label=label)
            if f"{m}_low" in t:
                ax.fill_between(t[x], t[f"{m}_low"], t[f"{m}_high"], alpha=0.25)
        if references and m in references:
            ax.axhline(references[m], ls="--", color="grey", label="ground-truth tokens")
        if hue or (references and m in references):
            ax.legend(fontsize=8)
        ax.set_xlabel(x)
        ax.set_title(m)
        if pd.api.types.is_integer_dtype(table[x]):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    return fig


def frontier(models: pd.DataFrame, x: str = "H_p", y: str = "wer") -> plt.Figure:
    """P1 Fig. 4: each model as a point in the (H_p, WER) plane, coloured by alpha."""
    fig, ax = plt.subplots(figsize=(5, 4))
    sns.scatterplot(data=models, x=x, y=y, hue="alpha", palette="viridis", s=60, ax=ax)
    means = models.groupby("alpha")[[x, y]].mean().reset_index()
    ax.plot(means[x], means[y], color="grey", lw=1)
    for r in means.itertuples():
        ax.annotate(f"{100 * r.alpha:.0f}%", (getattr(r, x), getattr(r, y)), fontsize=8,
                    xytext=(4, 4), textcoords="offset points")
    ax.set_title(f"{y} vs {x} (one point per model)")
    return fig


def mixture_entropy(curve: pd.DataFrame, measured: pd.DataFrame | None = None) -> plt.Figure:
    """H(p_alpha) of the training tokens' mixture (P1 Eq. 4) with its maximum, and, when
    given, the generated speech's H_p per alpha on a second axis."""
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    ax.plot(curve.alpha, curve.H_mixture, label="H(p_alpha), training tokens")
    star = curve.alpha.iloc[int(curve.H_mixture.to_numpy().argmax())]
    ax.axvline(star, ls="--", color="grey", label=f"alpha* = {star:.2f}")
    ax.set_xlabel("alpha")
    ax.set_ylabel("bits")
    if measured is not None:
        ax2 = ax.twinx()
        ax2.errorbar(measured.alpha, measured.H_p,
                     yerr=[measured.H_p - measured.H_p_low, measured.H_p_high - measured.H_p],
                     color="C1", marker="o", label="H_p of generated speech")
        ax2.set_ylabel("H_p (bits), generated", color="C1")
    ax.legend(loc="lower left", fontsize=8)
    return fig


def system_comparison(table: pd.DataFrame, metrics: list[str], style: str = "on") -> plt.Figure:
    """P1 Tab. 3 / 7 as a figure: one panel per metric, each system's estimate with its 95 % CI
    (columns ``<m>``, ``<m>_low``, ``<m>_high``); the first system (SFT) as a dashed line."""
    t = table[table["style"] == style].reset_index(drop=True)
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.1 * len(metrics), 0.45 * len(t) + 1.4),
                             sharey=True, squeeze=False)
    colours = sns.color_palette(PALETTE, len(t))
    for ax, m in zip(axes[0], metrics):
        for i, r in t.iterrows():
            err = [[r[m] - r.get(f"{m}_low", r[m])], [r.get(f"{m}_high", r[m]) - r[m]]]
            ax.errorbar(r[m], i, xerr=err, fmt="o", color=colours[i])
        ax.axvline(t[m].iloc[0], ls="--", color="grey", lw=1)
        ax.set_title(m)
    axes[0][0].set_yticks(range(len(t)), t.system)
    axes[0][0].invert_yaxis()
    fig.tight_layout()
    return fig


def lambda_schedule(schedule: pd.DataFrame, alpha: float) -> plt.Figure:
    """P1 Fig. 5: DGSA's lambda_s and lambda_e over the synthetic share alpha."""
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.plot(schedule.alpha, schedule.lambda_stab, label="lambda_s (stability)")
    ax.plot(schedule.alpha, schedule.lambda_expr, label="lambda_e (expressivity)")
    ax.axvline(alpha, ls="--", color="grey", label=f"this run: alpha = {alpha:.2f}")
    ax.set(xlabel="alpha (synthetic share)", ylabel="weight")
    ax.legend(fontsize=8)
    return fig


def preference_logs(logs: dict[str, list[dict]]) -> plt.Figure:
    """DPO diagnostics over steps: the reward margin of each preference set, per system."""
    rows = []
    for system, log in logs.items():
        for entry in log:
            for k, v in entry.items():
                if k.endswith("/margin"):
                    rows.append({"system": system, "set": k.split("/")[0], "step": entry["step"],
                                 "margin": v})
    fig, ax = plt.subplots(figsize=(7, 3.2))
    if rows:
        sns.lineplot(data=pd.DataFrame(rows), x="step", y="margin", hue="system", style="set", ax=ax)
    ax.axhline(0, color="grey", lw=1)
    ax.set(ylabel="beta * (log-ratio chosen - rejected)", title="DPO reward margins")
    return fig


VERDICT_COLOURS = {"reproduced": "#0072B2", "partly": "#F0E442", "not reproduced": "#D55E00"}   # Okabe-Ito


def verdict_overview(claims: pd.DataFrame, sections: list[str]) -> plt.Figure:
    """How many claims of each paper table were reproduced, partly or not: one stacked bar per
    report section (columns ``section`` and ``verdict``)."""
    counts = pd.crosstab(claims.section, claims.verdict).reindex(index=sections[::-1],
                                                                 columns=list(VERDICT_COLOURS), fill_value=0)
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(sections) + 1.2))
    counts.plot.barh(stacked=True, color=list(VERDICT_COLOURS.values()), ax=ax, edgecolor="white")
    ax.set_xlabel("claims")
    ax.set_ylabel("")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(loc="upper left", bbox_to_anchor=(1, 1), frameon=False)
    fig.tight_layout()
    return fig


def codec_ceiling(summary: pd.DataFrame) -> plt.Figure:
    """CER of each rung of the codec ladder (slmlib.codec.ceiling) per language, with 95 % CIs:
    where the line climbs is where the codec loses intelligibility."""
    cer = summary[(summary.kind == "CER") & (summary.lang != "all")]
    order = list(dict.fromkeys(cer.what))
    fig, ax = plt.subplots(figsize=(8, 3.6))
    for colour, (lang, g) in zip(sns.color_palette(PALETTE), cer.groupby("lang")):
        g = g.set_index("what").loc[order]
        x = range(len(order))
        ax.errorbar(x, g.estimate, yerr=[g.estimate - g.low, g.high - g.estimate], fmt="o-",
                    color=colour, capsize=3, label=lang)
    ax.set_xticks(range(len(order)), order, rotation=25, ha="right")
    ax.set_ylabel("CER (ASR judge)")
    ax.set_title("held-out real speech through the codec, one stage at a time")
    ax.legend(title="language")
    fig.tight_layout()
    return fig
