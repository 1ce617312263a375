"""Token-level metrics from P1 (Eq. 3 and Eq. 25)."""
from __future__ import annotations

from typing import Iterable

import numpy as np


def token_entropy(sequences: Iterable[np.ndarray]) -> float:
    """H_p: base-2 entropy of the pooled token frequencies over all sequences (P1 Eq. 3)."""
    tokens = np.concatenate([np.asarray(s).ravel() for s in sequences])
    if len(tokens) == 0:
        raise ValueError("no tokens: entropy is undefined")
    _, counts = np.unique(tokens, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())
