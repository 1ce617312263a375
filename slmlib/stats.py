"""Statistics every notebook uses: bootstrap CIs (percentile method, seeded), paired
differences between systems scored on the same texts, Spearman trend tests, and the one way an
estimate with its CI is written in findings and tables."""
from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd


class Resampler:
    """Row indices of bootstrap resamples of ``n`` rows: rows drawn with replacement, or, with
    ``groups`` (one label per row), groups drawn with replacement and all rows of each (a
    cluster bootstrap: several samples of one text are not independent, the texts are). With
    one row per group the draws are the plain bootstrap's, to the index."""

    def __init__(self, n: int, groups=None):
        self.n = n
        self.members: list[np.ndarray] | None = None
        if groups is not None:
            codes = pd.factorize(np.asarray(groups))[0]     # groups in order of first appearance
            if len(codes) != n:
                raise ValueError(f"need one group label per value, got {len(codes)} for {n}")
            order = np.argsort(codes, kind="stable")
            self.members = np.split(order, np.cumsum(np.bincount(codes))[:-1])

    @property
    def units(self) -> int:
        """What is drawn: rows, or groups."""
        return self.n if self.members is None else len(self.members)

    def __call__(self, rng: np.random.Generator) -> np.ndarray:
        picks = rng.integers(0, self.units, self.units)
        return picks if self.members is None else np.concatenate([self.members[p] for p in picks])


def bootstrap_ci(values, statistic: Callable[[np.ndarray], float] = np.mean, n_boot: int = 2000,
                 level: float = 0.95, seed: int = 0, groups=None) -> tuple[float, float, float]:
    """(estimate, low, high) of ``statistic`` over resampled ``values`` (NaNs dropped); with
    ``groups``, a label per value, whole groups are resampled (:class:`Resampler`)."""
    x = np.asarray(values, dtype=float)
    keep = ~np.isnan(x)
    x = x[keep]
    if len(x) == 0:
        raise ValueError("no values to bootstrap")
    draw = Resampler(len(x), None if groups is None else np.asarray(groups)[keep])
    rng = np.random.default_rng(seed)
    boots = np.array([statistic(x[draw(rng)]) for _ in range(n_boot)])
    alpha = (1 - level) / 2
    return float(statistic(x)), float(np.quantile(boots, alpha)), float(np.quantile(boots, 1 - alpha))


def ratio_ci(a, b, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
    """(mean(a)/mean(b), low, high), resampling both groups independently."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if len(a) == 0 or len(b) == 0:
        raise ValueError("both groups need values")
    rng = np.random.default_rng(seed)
    boots = np.array([a[rng.integers(0, len(a), len(a))].mean() / b[rng.integers(0, len(b), len(b))].mean()
                      for _ in range(n_boot)])
    alpha = (1 - level) / 2
    return float(a.mean() / b.mean()), float(np.quantile(boots, alpha)), float(np.quantile(boots, 1 - alpha))


def paired_difference_ci(a, b, n_boot: int = 2000, level: float = 0.95, seed: int = 0, groups=None
                         ) -> tuple[float, float, float]:
    """(mean(a - b), low, high) for two systems scored on the same items: resampling the
    items keeps each pair together, so item difficulty cancels out of the interval
    (``groups``: see :func:`bootstrap_ci`)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired scores need the same items, got {a.shape} and {b.shape}")
    keep = ~(np.isnan(a) | np.isnan(b))
    return bootstrap_ci(a[keep] - b[keep], np.mean, n_boot, level, seed,
                        None if groups is None else np.asarray(groups)[keep])


def spearman_trend(x, y) -> dict[str, float]:
    """Monotone trend of ``y`` over ``x`` (e.g. a metric over the synthetic share alpha):
    Spearman's rho and its two-sided p-value (scipy)."""
    from scipy.stats import spearmanr

    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    keep = ~(np.isnan(x) | np.isnan(y))
    if keep.sum() < 3:
        raise ValueError("a trend test needs at least 3 points")
    result = spearmanr(x[keep], y[keep])
    return {"rho": float(result.statistic), "p": float(result.pvalue), "n": int(keep.sum())}


def ci_text(value: float, low: float, high: float, fmt: str = ".4g") -> str:
    """``value [low, high]`` in one number format: how every estimate with its CI is printed."""
    return f"{value:{fmt}} [{low:{fmt}}, {high:{fmt}}]"


def change_text(delta: float, low: float, high: float) -> str:
    """A difference with its CI and what the CI says: ``+0.012 [-0.003, +0.030] (no clear change)``."""
    sign = "no clear change" if low <= 0 <= high else ("up" if delta > 0 else "down")
    return f"{ci_text(delta, low, high, '+.3f')} ({sign})"
