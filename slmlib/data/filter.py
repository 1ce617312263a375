"""P1's synthetic-data filter (App. F.3), usable on any manifest and any ASR's transcripts.

Keep a synthetic clip iff (1) its ASR WER is below 40 % (Thai) / 50 % (Lao), (2) its duration
ratio is within [0.8, 1.5] and (3) the transcript has no repetition loop.

P1 does not say what the duration ratio is relative to. We use the clip's duration over the
duration its system usually needs for a text of that many characters (the system's median
seconds per character over the manifest): a voice's own pace is not an error, a clip far off
its pace is. A "loop" is any 1-3 word n-gram repeated at least 3 times in a row.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd

from slmlib.metrics import utterance_wer
from slmlib.text.normalize import words_for_wer


@dataclass(frozen=True)
class FilterConfig:
    max_wer: dict = field(default_factory=lambda: {"th": 0.40, "lo": 0.50, "en": 0.40})
    duration_ratio: tuple[float, float] = (0.8, 1.5)
    loop_repeats: int = 3
    loop_max_ngram: int = 3


def has_loop(words: list[str], repeats: int = 3, max_ngram: int = 3) -> bool:
    """True if some n-gram (n <= max_ngram) occurs ``repeats`` times in a row."""
    for n in range(1, max_ngram + 1):
        for i in range(len(words) - n * repeats + 1):
            gram = words[i:i + n]
            if all(words[i + k * n:i + (k + 1) * n] == gram for k in range(1, repeats)):
                return True
    return False


def duration_ratios(df: pd.DataFrame) -> pd.Series:
    """Duration over the system's median seconds-per-character times the text's length."""
    per_char = df["duration"] / df["text"].str.len()
    typical = per_char.groupby(df["system"]).transform("median")
    return df["duration"] / (typical * df["text"].str.len())


def check_thresholds(cfg: FilterConfig, langs: Iterable[str]) -> None:
    """Fail before any work if a language has no WER threshold (its clips would all be
    rejected silently: a WER compared with a missing threshold is never below it)."""
    missing = sorted(set(langs) - set(cfg.max_wer))
    if missing:
        raise ValueError(f"no WER threshold for {missing} in FilterConfig.max_wer "
                         f"{cfg.max_wer}; add one (P1's: {FilterConfig().max_wer}), or in a "
                         "notebook run set -p scaling.filter_max_wer=0.4 (say)")


def filter_synthetic(df: pd.DataFrame, hypotheses: pd.Series, cfg: FilterConfig = FilterConfig()
                     ) -> pd.DataFrame:
    """Score every row of ``df`` (indexed like ``hypotheses``: ASR text per row)."""
    if len(hypotheses) != len(df):
        raise ValueError(f"{len(hypotheses)} transcripts for {len(df)} utterances")
    check_thresholds(cfg, df["lang"])
    out = df.copy()
    out["hypothesis"] = list(hypotheses)
    out["wer"] = [utterance_wer(r, h, lang) for r, h, lang in zip(out.text, out.hypothesis, out.lang)]
    out["duration_ratio"] = duration_ratios(out)
    out["loop"] = [has_loop(words_for_wer(h, lang), cfg.loop_repeats, cfg.loop_max_ngram)
                   for h, lang in zip(out.hypothesis, out.lang)]
    lo, hi = cfg.duration_ratio
    out["pass_wer"] = out["wer"] < out["lang"].map(cfg.max_wer)
    out["pass_duration"] = out["duration_ratio"].between(lo, hi)
    out["keep"] = out["pass_wer"] & out["pass_duration"] & ~out["loop"]
    return out


def filter_quality(scored: pd.DataFrame) -> pd.DataFrame:
    """Against the known fault labels: recall per fault, precision, clean pass rate."""
    faulty = scored["faults"].map(len) > 0
    rejected = ~scored["keep"]
    rows = [{"what": "any fault", "n": int(faulty.sum()),
             "recall": rejected[faulty].mean() if faulty.any() else float("nan")}]
    for fault in sorted({f for fs in scored["faults"] for f in fs}):
        has = scored["faults"].map(lambda fs, f=fault: f in fs)
        rows.append({"what": fault, "n": int(has.sum()), "recall": rejected[has].mean()})
    rows.append({"what": "precision (rejected that had a fault)", "n": int(rejected.sum()),
                 "recall": faulty[rejected].mean() if rejected.any() else float("nan")})
    rows.append({"what": "clean clips kept", "n": int((~faulty).sum()),
                 "recall": (~rejected)[~faulty].mean() if (~faulty).any() else float("nan")})
    return pd.DataFrame(rows).rename(columns={"recall": "rate"})
