"""Statistics every notebook uses: bootstrap CIs (percentile method, seeded), paired
differences between systems scored on the same texts, and Spearman trend tests."""
from __future__ import annotations

from typing import Callable

import numpy as np


def bootstrap_ci(values, statistic: Callable[[np.ndarray], float] = np.mean, n_boot: int = 2000,
                 level: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
    """(estimate, low, high) of ``statistic`` over resampled ``values``."""
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    if len(x) == 0:
        raise ValueError("no values to bootstrap")
    rng = np.random.default_rng(seed)
    boots = np.array([statistic(x[rng.integers(0, len(x), len(x))]) for _ in range(n_boot)])
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


def paired_difference_ci(a, b, n_boot: int = 2000, level: float = 0.95, seed: int = 0
                         ) -> tuple[float, float, float]:
    """(mean(a - b), low, high) for two systems scored on the same items: resampling the
    items keeps each pair together, so item difficulty cancels out of the interval."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired scores need the same items, got {a.shape} and {b.shape}")
    keep = ~(np.isnan(a) | np.isnan(b))
    return bootstrap_ci(a[keep] - b[keep], np.mean, n_boot, level, seed)


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
