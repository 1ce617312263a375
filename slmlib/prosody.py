"""F0 analysis shared by the world, the codec checks and the metrics (WORLD dio + stonemask).

dio + stonemask agrees with pyin within a few Hz on espeak audio and is 10-30x faster;
harvest inflates F0 spread on espeak's buzzy source (shared/ENVIRONMENT.md §3).
"""
from __future__ import annotations

import warnings

import numpy as np

from slmlib.data.manifest import SAMPLE_RATE

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import pyworld

FRAME_MS = 10.0


def f0_contour(audio: np.ndarray, sample_rate: int = SAMPLE_RATE, frame_ms: float = FRAME_MS,
               reference_hz: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Times (s) and F0 (Hz, 0 where unvoiced), robust to octave errors.

    The search band is [median/2.2, median*2.5] around the voice's typical F0: given as
    ``reference_hz`` when known (short clips), else found by a first wide pass (50-600 Hz).
    This avoids the sub-harmonics dio picks on creaky or short segments; frames still more
    than 9 semitones from the median are folded by an octave.
    """
    if len(audio) == 0:
        raise ValueError("empty audio: no F0 to measure")
    x = np.asarray(audio, dtype=np.float64)
    med = reference_hz
    f0 = t = None
    if med is None:
        f0, t = pyworld.dio(x, sample_rate, f0_floor=50.0, f0_ceil=600.0, frame_period=frame_ms)
        voiced = f0[f0 > 0]
        med = float(np.median(voiced)) if len(voiced) >= 5 else None
    if med is not None:
        f0, t = pyworld.dio(x, sample_rate, f0_floor=max(40.0, med / 2.2),
                            f0_ceil=min(800.0, med * 2.5), frame_period=frame_ms)
    f0 = pyworld.stonemask(x, f0, t, sample_rate)
    v = f0 > 0
    if v.sum() >= 5:
        dev = 12 * np.log2(f0[v] / np.median(f0[v]))
        dev = np.where(dev > 9, dev - 12, np.where(dev < -9, dev + 12, dev))
        f0[v] = np.median(f0[v]) * 2 ** (dev / 12)
    return t, f0


def semitones(f0: np.ndarray, reference: float | None = None) -> np.ndarray:
    """Voiced frames in semitones relative to ``reference`` Hz (default: their median)."""
    voiced = f0[f0 > 0]
    if len(voiced) == 0:
        return voiced
    ref = reference if reference else float(np.median(voiced))
    return 12 * np.log2(voiced / ref)


def f0_stats(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> dict[str, float]:
    """Per-utterance F0 mean (Hz), std and 5-95 % range (semitones), voiced share."""
    _, f0 = f0_contour(audio, sample_rate)
    st = semitones(f0)
    if len(st) < 3:
        return {"f0_mean_hz": np.nan, "f0_std_st": np.nan, "f0_range_st": np.nan,
                "voiced_share": float(np.mean(f0 > 0))}
    return {"f0_mean_hz": float(np.mean(f0[f0 > 0])), "f0_std_st": float(np.std(st)),
            "f0_range_st": float(np.percentile(st, 95) - np.percentile(st, 5)),
            "voiced_share": float(np.mean(f0 > 0))}
