"""Speaker similarity: dot products of L2-normalised resemblyzer d-vectors (its weights ship in the wheel).

seed-tts-eval's convention: similarity of generated audio to its reference. P1's SIM uses
WavLM-Large; that path (a local model) is added with the judges.
"""
from __future__ import annotations

import functools

import numpy as np

from slmlib.data.manifest import SAMPLE_RATE


@functools.lru_cache(maxsize=1)
def _encoder():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")        # resemblyzer imports a deprecated scipy module
        from resemblyzer import VoiceEncoder
        return VoiceEncoder("cpu", verbose=False)


def embed(wav: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """L2-normalised 256-d d-vector of a 16 kHz clip."""
    if sample_rate != SAMPLE_RATE:
        raise ValueError(f"resemblyzer expects 16 kHz audio, got {sample_rate} Hz")
    from resemblyzer import preprocess_wav

    x = preprocess_wav(np.asarray(wav, dtype=np.float32), source_sr=SAMPLE_RATE)
    if len(x) < 1600:            # VAD trimmed (nearly) everything: use the raw clip
        x = np.asarray(wav, dtype=np.float32)
    return _encoder().embed_utterance(x)

