"""Assemble the report: sections of claims, side-by-side tables, figures and audio, written as
``report.md`` (with its figures and audio beside it) and a self-contained ``report.html``
(figures and audio embedded), plus ``claims.csv`` and ``structure.json`` for comparison runs."""
from __future__ import annotations

import base64
import html
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from slmlib.cache import NOT_RECORDED, atomic_write_text
from slmlib.paper_numbers import paper_table
from slmlib.report import claims as claims_mod
from slmlib.report.results import RunResults
from slmlib.stats import ci_text

CLAIM_COLUMNS = ["id", "claim", "measure", "ours", "paper", "verdict", "reason"]


@dataclass
class Section:
    title: str
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)   # caption -> table, ready to print
    figures: list[Path] = field(default_factory=list)
    claims: pd.DataFrame = field(default_factory=pd.DataFrame)


def slug(text: str) -> str:
    """Lower-case :func:`slmlib.report.claims.slug` (CSS classes, anchors, file names)."""
    return claims_mod.slug(text).lower()


def with_intervals(table: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """Each metric with ``_low``/``_high`` columns printed as ``value [low, high]`` (the CI
    columns dropped), so a side-by-side table carries our 95 % CIs."""
    out = table.copy()
    for col in [c for c in table.columns if f"{c}_low" in table.columns and f"{c}_high" in table.columns]:
        out[col] = [ci_text(v, lo, hi, f".{digits}f") if not np.isnan(v) else ""
                    for v, lo, hi in zip(table[col], table[f"{col}_low"], table[f"{col}_high"])]
        out = out.drop(columns=[f"{col}_low", f"{col}_high"])
    return out


def _key(v) -> str:
    """A join key that matches 1, 1.0 and "1" (temperatures and rounds are read back as either)."""
    try:
        return f"{float(v):g}"
    except (TypeError, ValueError):
        return str(v)


def beside(ours: pd.DataFrame, paper: str, on: str, prefix: str) -> pd.DataFrame:
    """Our rows outer-joined with a published table on ``on``, the paper's columns prefixed."""
    p = paper_table(paper)
    p = p.rename(columns={c: f"{prefix}_{c}" for c in p.columns if c != on})
    return (ours.assign(**{on: ours[on].map(_key)})
            .merge(p.assign(**{on: p[on].map(_key)}), on=on, how="outer"))


def side_tables(r: RunResults) -> dict[str, dict[str, pd.DataFrame]]:
    """Per section: our numbers (with CIs where we have them) beside the paper's table."""
    from slmlib.align import pipeline as dgsa
    from slmlib.align import tdsc_pipeline as tdsc
    from slmlib.saslm import pipeline as saslm
    from slmlib.scaling import pipeline as scaling

    titles = list(claims_mod.SECTIONS)
    dgsa_table = r.table("dgsa", "system_table")
    hp = r.table("erosion", "hp_validation")
    hp = hp.assign(difference=[ci_text(*v, "+.3f") for v in zip(hp.difference, hp.low, hp.high)])
    temps = r.table("tdsc", "temperature_table")
    rounds = with_intervals(r.table("tdsc", "round_table").query("system == 'TDSC'"))
    probes = r.table("saslm", "probes")
    probes = probes.assign(label=probes.representation, representation=probes.representation.str.split(" ").str[0],
                           accuracy=[ci_text(*v, ".3f") for v in zip(probes.accuracy, probes.low, probes.high)])
    return {
        titles[0]: {"Ours beside P1 Tab. 1 (ours: fractions, P1: WER and Rep in %)":
                    scaling.beside_paper(with_intervals(r.table("scaling", "scaling_table")))},
        titles[1]: {"Ours beside P1 Tab. 2 (high- vs low-H_p pairs at matched WER)":
                    beside(hp[["metric", "high_H", "low_H", "difference", "pairs"]], "P1_table2", "metric", "P1").round(3)},
        titles[2]: {"Ours beside P1 Tab. 3 and 7 (style on)":
                    dgsa.beside_paper(with_intervals(dgsa_table), float(dgsa_table.alpha.max()))},
        titles[3]: {"Ours beside P1 Tab. 4 and 8 (style off)": tdsc.beside_paper(with_intervals(r.table("tdsc", "system_table"))),
                    "Ours beside P1 Tab. 9 (candidates of the last round by temperature)":
                    beside(temps.drop(columns=["round"]), "P1_table9", "temperature", "P1").round(3),
                    "Ours beside P1 Fig. 6 (TDSC per round)":
                    beside(rounds[["round", "cer", "wer", "H_p", "repetition", "pass_rate"]], "P1_fig6", "round", "P1")},
        titles[4]: {"Ours beside P2 Tab. 2-4 (ours: fractions and F0 std in Hz)":
                    saslm.beside_paper(with_intervals(r.table("saslm", "system_table"))),
                    "Ours beside P2's linear emotion probes":
                    beside(probes[["representation", "label", "accuracy", "chance"]], "P2_probes", "representation", "P2").round(3)},
    }


FIGURES = {0: [("scaling", "metrics_vs_alpha"), ("erosion", "mixture_entropy")], 1: [("erosion", "frontier")],
           2: [("dgsa", "systems"), ("dgsa", "lambda_schedule")], 3: [("tdsc", "systems"), ("tdsc", "rounds")],
           4: [("saslm", "systems")]}


def build_sections(r: RunResults, claims: pd.DataFrame) -> list[Section]:
    tables = side_tables(r)
    sections = []
    for i, title in enumerate(claims_mod.SECTIONS):
        figs = [f for f in (r.figure(nb, name) for nb, name in FIGURES[i]) if f is not None]
        sections.append(Section(title, tables[title], figs, claims[claims.section == title]))
    return sections


AUDIO_SYSTEMS = {"dgsa": ["SFT", "DPO", "DGSA"], "tdsc": ["SFT", "Self-training", "TDSC"],
                 "saslm": ["Plain TTS", "VIB + AdaLN", "+ Self-reward", "True-label oracle"]}


def audio_examples(r: RunResults) -> pd.DataFrame:
    """One test item per notebook, heard through each main system (final round, main alpha,
    first sample): notebook, system, id, text, path. Empty when the run's Parquet tables or
    audio are not there (a committed reference folder has neither)."""
    rows = []
    for nb, systems in AUDIO_SYSTEMS.items():
        per = r.parquet(nb, "per_utterance")
        if per is None:
            continue
        if "alpha" in per:
            per = per[per.alpha == per.alpha.max()]
        if "sample" in per:
            per = per[per["sample"] == 0]
        if "round" in per:
            per = per[per["round"] == per.groupby("system")["round"].transform("max")]
        style = "on" if nb == "dgsa" else "off"
        per = per[per["style"] == style] if "style" in per else per
        per = per[per.system.isin(systems) & per.path.map(lambda p: isinstance(p, str) and Path(p).exists())]
        shared = per.groupby("id").system.nunique()
        ids = sorted(shared[shared == len(systems)].index)
        if not ids:
            continue
        pick = per[per.id == ids[0]].drop_duplicates("system").set_index("system").loc[systems].reset_index()
        rows += [{"notebook": nb, "system": s.system, "id": s.id,
                  "text": s.text, "path": s.path} for s in pick.itertuples()]
    return pd.DataFrame(rows, columns=["notebook", "system", "id", "text", "path"])


def verdict_counts(claims: pd.DataFrame) -> pd.DataFrame:
    """Claims per section and verdict, in the report's section order, with a total row."""
    counts = (pd.crosstab(claims.section, claims.verdict).reindex(index=list(claims_mod.SECTIONS),
                                                                  columns=list(claims_mod.VERDICTS), fill_value=0))
    counts.loc["all"] = counts.sum()
    return counts.rename_axis(index="section", columns=None).reset_index()


def claim_rows(claims: pd.DataFrame) -> pd.DataFrame:
    """Claims as printed: our estimate with its CI in one column."""
    ours = [ci_text(v, lo, hi) if not np.isnan(lo) else f"{v:.4g}"
            for v, lo, hi in zip(claims.ours, claims.low, claims.high)]
    return claims.assign(ours=ours)[CLAIM_COLUMNS]


RUN_NOTE = ("Wall time of each notebook's last run, when it finished and on what machine (recorded since "
            "2026-12-02). Stages found in the cache are not recomputed, so a rerun can take minutes where a first "
            "run takes hours; the README gives first-run times. Float results differ between processors, so "
            "the same profile and seed give the same numbers again only on the same kind of machine.")


def run_table(run_log: pd.DataFrame) -> pd.DataFrame:
    """The report's Run table (:meth:`slmlib.report.results.RunResults.run_log`): notebook,
    minutes, and when and where it ran, "not recorded" in logs older than that."""
    return run_log.assign(minutes=(run_log.seconds / 60).round(1)).fillna(
        {"finished": NOT_RECORDED, "machine": NOT_RECORDED})[["notebook", "minutes", "finished", "machine"]]


def structure(sections: list[Section]) -> dict:
    """What a report holds, without its numbers: section titles, each table's caption and
    columns, each section's claim ids. Two runs of any profile should agree on it."""
    return {"sections": [{"title": s.title, "claims": list(s.claims.id),
                          "tables": {cap: list(map(str, t.columns)) for cap, t in s.tables.items()}}
                         for s in sections]}


def structure_differences(ours: dict, reference: dict) -> list[str]:
    """Human-readable differences between two report structures (empty when they match)."""
    diffs = []
    a, b = {s["title"]: s for s in ours["sections"]}, {s["title"]: s for s in reference["sections"]}
    diffs += [f"section only in this report: {t}" for t in a.keys() - b.keys()]
    diffs += [f"section missing from this report: {t}" for t in b.keys() - a.keys()]
    for t in a.keys() & b.keys():
        for c in sorted(set(a[t]["claims"]) ^ set(b[t]["claims"])):
            diffs.append(f"{t}: claim {c} is {'new' if c in a[t]['claims'] else 'missing'}")
        for cap in sorted(a[t]["tables"].keys() ^ b[t]["tables"].keys()):
            diffs.append(f"{t}: table '{cap}' is {'new' if cap in a[t]['tables'] else 'missing'}")
        for cap in a[t]["tables"].keys() & b[t]["tables"].keys():
            if a[t]["tables"][cap] != b[t]["tables"][cap]:
                diffs.append(f"{t}: table '{cap}' has columns {a[t]['tables'][cap]}, reference "
                             f"{b[t]['tables'][cap]}")
    return diffs


INTRO = ("Every claim of P1 (synthetic erosion, DGSA, TDSC) and P2 (SASLM) that this package tests, "
         "with our estimate and its 95 % CI beside the paper's numbers. Verdicts:")


def _markdown_table(t: pd.DataFrame) -> str:
    return t.to_markdown(index=False, floatfmt=".4g")


def to_markdown(profile: str, sections: list[Section], counts: pd.DataFrame, overview: str | None,
                audio: pd.DataFrame, run_log: pd.DataFrame) -> str:
    out = [f"# Report — profile `{profile}`", "", INTRO, "",
           *[f"- **{v}**: {rule};" for v, rule in claims_mod.VERDICT_RULE.items()], "", claims_mod.MEASURES, "",
           "## Verdicts", "", _markdown_table(counts), ""]
    if overview:
        out += [f"![verdicts]({overview})", ""]
    for s in sections:
        out += [f"## {s.title}", "", "### Claims", "", _markdown_table(claim_rows(s.claims)), ""]
        for cap, t in s.tables.items():
            out += [f"### {cap}", "", _markdown_table(t), ""]
        out += [f"![{f.stem}](figures/{f.parent.name}-{f.name})" for f in s.figures] + [""]
    out += ["## Not tested here", "", *[f"- **{k}**: {v}." for k, v in claims_mod.NOT_TESTED.items()], ""]
    if len(audio):
        out += ["## Listen", "", _markdown_table(audio.assign(file=[f"[{Path(p).name}](audio/{Path(p).name})"
                                                                    for p in audio.audio]).drop(columns=["path", "audio"])), ""]
    if len(run_log):
        out += ["## Run", "", RUN_NOTE, "", _markdown_table(run_table(run_log)), ""]
    return "\n".join(out)


CSS = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;font-size:0.85em;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 6px}
th{background:#f3f3f3}img{max-width:100%}.reproduced{background:#cfe8ff}.partly{background:#fff1c1}
.not-reproduced{background:#f6d5c4}h2{border-bottom:2px solid #0072b2;padding-top:1em}"""


def _data_uri(path: Path, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}"


def _html_table(t: pd.DataFrame) -> str:
    body = t.to_html(index=False, na_rep="", float_format=lambda v: f"{v:.4g}", border=0)
    for v in claims_mod.VERDICTS:   # colour the verdict cells (colour-blind safe: blue / yellow / vermilion)
        body = body.replace(f"<td>{v}</td>", f'<td class="{slug(v)}">{v}</td>')
    return body


def to_html(profile: str, sections: list[Section], counts: pd.DataFrame, overview: Path | None,
            audio: pd.DataFrame, run_log: pd.DataFrame) -> str:
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>slm-erosion report ({html.escape(profile)})"
           f"</title><style>{CSS}</style></head><body>", f"<h1>Report — profile <code>{html.escape(profile)}</code></h1>",
           f"<p>{html.escape(INTRO)}</p><ul>", *[f"<li><b>{v}</b>: {html.escape(rule)}</li>"
                                                 for v, rule in claims_mod.VERDICT_RULE.items()],
           f"</ul><p>{html.escape(claims_mod.MEASURES)}</p>",
           "<p>Sections: " + " · ".join(f"<a href='#{slug(s.title)}'>{html.escape(s.title)}</a>" for s in sections)
           + " · <a href='#listen'>Listen</a></p>", "<h2>Verdicts</h2>", _html_table(counts)]
    if overview:
        out.append(f"<img alt='verdicts' src='{_data_uri(overview, 'image/png')}'>")
    for s in sections:
        out += [f"<h2 id='{slug(s.title)}'>{html.escape(s.title)}</h2>", "<h3>Claims</h3>",
                _html_table(claim_rows(s.claims))]
        for cap, t in s.tables.items():
            out += [f"<h3>{html.escape(cap)}</h3>", _html_table(t)]
        out += [f"<figure><img alt='{f.stem}' src='{_data_uri(f, 'image/png')}'><figcaption>{f.parent.name}/{f.name}"
                f"</figcaption></figure>" for f in s.figures]
    out += ["<h2>Not tested here</h2><ul>", *[f"<li><b>{html.escape(k)}</b>: {html.escape(v)}.</li>"
                                              for k, v in claims_mod.NOT_TESTED.items()], "</ul>"]
    if len(audio):
        out += ["<h2 id='listen'>Listen</h2>", "<table><tr><th>notebook</th><th>system</th><th>item</th><th>text</th><th></th></tr>"]
        out += [f"<tr><td>{a.notebook}</td><td>{html.escape(a.system)}</td><td>{a.id}</td><td>{html.escape(a.text)}</td>"
                f"<td><audio controls src='{_data_uri(Path(a.audio), 'audio/flac')}'></audio></td></tr>"
                for a in audio.itertuples()]
        out.append("</table>")
    if len(run_log):
        out += ["<h2>Run</h2>", f"<p>{html.escape(RUN_NOTE)}</p>", _html_table(run_table(run_log))]
    return "\n".join(out + ["</body></html>"])


@dataclass(frozen=True)
class Report:
    claims: pd.DataFrame
    sections: list[Section]
    counts: pd.DataFrame
    audio: pd.DataFrame
    folder: Path

    @property
    def html(self) -> Path:
        return self.folder / "report.html"

    @property
    def markdown(self) -> Path:
        return self.folder / "report.md"


def write_report(results: RunResults, out: Path, profile: str) -> Report:
    """Build every claim and table from ``results`` and write the report into ``out``
    (``report.md`` with ``figures/`` and ``audio/`` beside it, ``report.html``, ``claims.csv``,
    ``structure.json``). Files are written whole and replaced, so an interrupted write leaves
    the previous report intact."""
    from slmlib.plots import save, set_style, verdict_overview

    set_style()
    claims = claims_mod.all_claims(results)
    sections = build_sections(results, claims)
    counts = verdict_counts(claims)
    out.mkdir(parents=True, exist_ok=True)
    for sub in ("figures", "audio"):
        shutil.rmtree(out / sub, ignore_errors=True)
        (out / sub).mkdir()
    overview = save(verdict_overview(claims, list(claims_mod.SECTIONS)), out / "figures", "verdicts")
    for f in (f for s in sections for f in s.figures):
        shutil.copyfile(f, out / "figures" / f"{f.parent.name}-{f.name}")
    audio = audio_examples(results)
    audio = audio.assign(audio=[str(out / "audio" / f"{nb}-{slug(s)}{Path(p).suffix}")
                                for nb, s, p in zip(audio.notebook, audio.system, audio.path)])
    for src, dst in zip(audio.path, audio.audio):
        shutil.copyfile(src, dst)
    log = results.run_log()
    atomic_write_text(out / "report.md", to_markdown(profile, sections, counts, "figures/verdicts.png",
                                                     audio, log))
    atomic_write_text(out / "report.html", to_html(profile, sections, counts, overview, audio, log))
    atomic_write_text(out / "claims.csv", claims.to_csv(index=False))
    atomic_write_text(out / "structure.json", json.dumps(structure(sections), indent=1))
    return Report(claims, sections, counts, audio, out)


def show_section(section: Section) -> None:
    """Display one section in a notebook: its claims, its side-by-side tables, its figures."""
    from IPython.display import Image, Markdown, display

    display(Markdown(f"**Claims** ({len(section.claims)})"), claim_rows(section.claims))
    for cap, t in section.tables.items():
        display(Markdown(f"**{cap}**"), t)
    for f in section.figures:
        display(Image(filename=str(f)))


def show_audio(audio: pd.DataFrame) -> None:
    """Audio players for the report's examples (one item per notebook through each system)."""
    from IPython.display import Audio, Markdown, display

    if audio.empty:
        display(Markdown("No audio in this results folder (a reference folder keeps none)."))
    for a in audio.itertuples():
        display(Markdown(f"**{a.notebook} · {a.system}** — {a.id}: “{a.text}”"), Audio(filename=a.audio))


def reference_structure(profile: str = "default") -> dict | None:
    """The committed reference report's structure, or None when this checkout has none."""
    from slmlib import paths

    p = paths.outputs_root() / "reference" / profile / "report" / "structure.json"
    return json.loads(p.read_text()) if p.exists() else None
