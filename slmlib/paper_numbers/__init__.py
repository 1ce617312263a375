"""The papers' published numbers, one CSV per table, for side-by-side comparison only.

They are read by notebooks and the report and never written into our results. Sources:
P1 = arXiv 2605.27383 (ICML 2026): ``P1_table1`` is Table 1 (Thai scaling; WER and Rep in %,
H_p in bits, NMOS/SMOS with 95 % CI half-widths), ``P1_table2`` is Table 2 (H_p validation:
top- vs bottom-quartile H_p pairs at matched WER), ``P1_table3`` is Table 3 (alpha = 80 %: SFT,
standard DPO, rejection sampling, DGSA) and ``P1_table7`` is Table 7 (DGSA ablations; system
names follow ``slmlib.align.pipeline.systems``; "random-speaker pairs" is P1's "w/o
identity-consistent pairs"). ``P1_table4`` is Table 4 (Lao: SFT, self-training, rejection
sampling, TDSC), ``P1_table8`` Table 8 (TDSC ablations, names as in
``slmlib.align.tdsc_pipeline.variants``), ``P1_table9`` Table 9 (TDSC candidates by temperature
at k = 5; pass rate and share in %) and ``P1_fig6`` Figure 6 (TDSC per iteration; values the
text does not give were read off the plot, marked ``read_off_plot``). P2 = arXiv 2604.11424 (v2,
via the study note of ../shared/papers/P2_saslm.md): ``P2_tables`` holds Table 2 (EchoMind main
results: WER %, F0-Var, EmoAlign %, Ovr 1-5), Table 3 (modulation ablation) and Table 4
(self vs oracle reward), with the name of our analogous system in ``ours``; ``P2_probes`` the
linear emotion probes (Table 3 / Fig. 5, accuracy %). See ../shared/papers/ for
the full notes.
"""
from __future__ import annotations

from importlib import resources

import pandas as pd


def paper_table(name: str) -> pd.DataFrame:
    """A published table by file name, e.g. ``paper_table("P1_table1")``."""
    files = resources.files(__name__)
    path = files / f"{name}.csv"
    if not path.is_file():
        known = sorted(p.name[:-4] for p in files.iterdir() if p.name.endswith(".csv"))
        raise KeyError(f"no paper table {name!r}; known: {known}")
    with resources.as_file(path) as p:
        return pd.read_csv(p)
