"""Prosody measures shared by the world, the codec checks and the judges: F0 (WORLD dio +
stonemask), energy, DTW-aligned F0 agreement and a Fréchet distance between feature sets.

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


def energy_db(audio: np.ndarray, frame_ms: float = FRAME_MS) -> np.ndarray:
    """Frame RMS in dB (25 ms windows), frames within 40 dB of the loudest only: P1's
    "energy std (dB)" is about speech, and pauses would dominate a plain frame average."""
    import librosa

    hop = int(SAMPLE_RATE * frame_ms / 1000)
    rms = librosa.feature.rms(y=np.asarray(audio, dtype=np.float32), frame_length=400,
                              hop_length=hop, center=True)[0]
    db = 20 * np.log10(rms + 1e-8)
    return db[db > db.max() - 40]


def prosody_features(audio: np.ndarray, reference_hz: float | None = None,
                     f0: np.ndarray | None = None) -> dict[str, float]:
    """The prosody measures of P1 Tab. 2 for one clip: F0 mean, std and 5-95 % range (Hz and
    semitones), voiced share, energy std (dB) and duration (s). With ``reference_hz`` (the
    speaker's typical F0) the F0 search band is centred on the speaker and ``f0_shift_st``
    gives the clip's register relative to the speaker (emotion shifts register). ``f0``:
    the clip's contour when already computed."""
    if f0 is None:
        _, f0 = f0_contour(audio, reference_hz=reference_hz)
    hz = f0[f0 > 0]
    st = semitones(f0)
    out = {"duration": len(audio) / SAMPLE_RATE, "voiced_share": float(np.mean(f0 > 0)),
           "energy_std_db": float(np.std(energy_db(audio)))}
    if len(hz) < 3:
        return {**out, "f0_mean_hz": np.nan, "f0_std_hz": np.nan, "f0_range_hz": np.nan,
                "f0_std_st": np.nan, "f0_range_st": np.nan, "f0_shift_st": np.nan}
    return {**out, "f0_mean_hz": float(hz.mean()), "f0_std_hz": float(hz.std()),
            "f0_range_hz": float(np.percentile(hz, 95) - np.percentile(hz, 5)),
            "f0_std_st": float(st.std()),
            "f0_range_st": float(np.percentile(st, 95) - np.percentile(st, 5)),
            "f0_shift_st": float(12 * np.log2(np.median(hz) / reference_hz)) if reference_hz else np.nan}


def speaking_rate(text: str, seconds: float) -> float:
    """Characters per second (normalised text, spaces not counted): comparable across Thai,
    Lao and English, unlike words, which Thai and Lao do not delimit."""
    from slmlib.text.normalize import normalise

    if seconds <= 0:
        raise ValueError(f"duration must be positive, got {seconds}")
    return len(normalise(text).replace(" ", "")) / seconds


def duration_ratio(generated_seconds: float, reference_seconds: float) -> float:
    """Generated duration over the real recording's duration for the same text."""
    if reference_seconds <= 0:
        raise ValueError(f"reference duration must be positive, got {reference_seconds}")
    return generated_seconds / reference_seconds


def aligned_f0_agreement(generated: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """F0 correlation (log F0) and RMSE (Hz) of a generated clip against a recording of the
    same text, on frames voiced in both after DTW alignment of their MFCCs (librosa). P1 does
    not say how it aligns; DTW is the usual choice when durations differ."""
    import librosa

    hop = int(SAMPLE_RATE * FRAME_MS / 1000)
    mfcc = [librosa.feature.mfcc(y=np.asarray(a, dtype=np.float32), sr=SAMPLE_RATE, n_mfcc=20,
                                 n_fft=400, hop_length=hop) for a in (generated, reference)]
    _, path = librosa.sequence.dtw(X=mfcc[0], Y=mfcc[1], metric="euclidean")
    f0_g, f0_r = f0_contour(generated)[1], f0_contour(reference)[1]
    i, j = path[::-1].T
    i, j = np.minimum(i, len(f0_g) - 1), np.minimum(j, len(f0_r) - 1)
    a, b = f0_g[i], f0_r[j]
    both = (a > 0) & (b > 0)
    if both.sum() < 5:
        return {"f0_corr": np.nan, "f0_rmse_hz": np.nan, "aligned_frames": int(both.sum())}
    return {"f0_corr": float(np.corrcoef(np.log(a[both]), np.log(b[both]))[0, 1]),
            "f0_rmse_hz": float(np.sqrt(np.mean((a[both] - b[both]) ** 2))),
            "aligned_frames": int(both.sum())}


def frechet_distance(x: np.ndarray, y: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (rows = clips), as in
    FID/FAD: the naturalness proxy compares generated prosody features to real speech's."""
    from scipy import linalg

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) < 2 or len(y) < 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"need two sets of >= 2 rows with equal widths, got {x.shape}, {y.shape}")
    mu_x, mu_y = x.mean(0), y.mean(0)
    cov_x, cov_y = np.atleast_2d(np.cov(x, rowvar=False)), np.atleast_2d(np.cov(y, rowvar=False))
    root = linalg.sqrtm(cov_x @ cov_y)
    root = root.real if np.iscomplexobj(root) else root
    return float(((mu_x - mu_y) ** 2).sum() + np.trace(cov_x + cov_y - 2 * root))
