"""WORLD analysis into the codec's frame features, and speaker statistics (timbre)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from slmlib.data.manifest import SAMPLE_RATE
from slmlib.prosody import f0_contour, pyworld



@dataclass(frozen=True)
class Frames:
    """Per-frame WORLD features of one utterance."""

    f0: np.ndarray          # (T,) Hz, 0 = unvoiced
    cepstra: np.ndarray     # (T, D) coded spectral envelope (pyworld.code_spectral_envelope)
    aperiodicity: np.ndarray  # (T, B) coded aperiodicity

    @property
    def voiced(self) -> np.ndarray:
        return self.f0 > 0


@dataclass(frozen=True)
class SpeakerStats:
    """Timbre: what the decoder needs from a reference and the tokens never carry."""

    cepstra_mean: np.ndarray   # (D,)
    cepstra_std: np.ndarray    # (D,)
    log_f0_median: float       # register, natural log of Hz

    def to_dict(self) -> dict:
        return {"cepstra_mean": self.cepstra_mean.tolist(), "cepstra_std": self.cepstra_std.tolist(),
                "log_f0_median": self.log_f0_median}


def check_audio(wav: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mono float64 at 16 kHz, or a clear error; clipping is allowed (it is measured, not fixed)."""
    if sample_rate != SAMPLE_RATE:
        raise ValueError(f"the codec works at {SAMPLE_RATE} Hz, got {sample_rate} Hz: resample first "
                         f"(scipy.signal.resample_poly) or load with slmlib.data.manifest.load_audio")
    x = np.asarray(wav, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"expected mono audio (1-D), got shape {x.shape}")
    if len(x) < SAMPLE_RATE // 10:
        raise ValueError(f"audio of {len(x)} samples is shorter than 0.1 s: nothing to encode")
    if not np.isfinite(x).all():
        raise ValueError("audio contains NaN or inf samples")
    return x


def analyse(wav: np.ndarray, n_cepstra: int, frame_ms: float, sample_rate: int = SAMPLE_RATE,
            aperiodicity: bool = True) -> Frames:
    """WORLD features; ``aperiodicity=False`` skips d4c (half the cost), which encoding and
    timbre do not need (the decoder takes aperiodicity from the codec's own table)."""
    x = check_audio(wav, sample_rate)
    t, f0 = f0_contour(x, sample_rate, frame_ms)
    sp = pyworld.cheaptrick(x, f0, t, sample_rate)
    cepstra = pyworld.code_spectral_envelope(sp, sample_rate, n_cepstra)
    if aperiodicity:
        coded_ap = pyworld.code_aperiodicity(pyworld.d4c(x, f0, t, sample_rate), sample_rate)
    else:
        coded_ap = np.zeros((len(f0), pyworld.get_num_aperiodicities(sample_rate)))
    return Frames(f0, cepstra, coded_ap)


def speaker_stats(frames: list[Frames]) -> SpeakerStats:
    """Envelope mean/std over all frames and the median log-F0 over voiced frames."""
    if not frames:
        raise ValueError("timbre needs at least one reference utterance")
    cep = np.concatenate([f.cepstra for f in frames])
    voiced = np.concatenate([f.f0[f.voiced] for f in frames])
    if len(voiced) < 5:
        raise ValueError("the reference audio has (almost) no voiced frames: is it speech or silence?")
    return SpeakerStats(cep.mean(axis=0), cep.std(axis=0) + 1e-3, float(np.median(np.log(voiced))))
