"""Speaker similarity: dot products of L2-normalised resemblyzer d-vectors (its weights ship in the wheel).

seed-tts-eval's convention: similarity of generated audio to its reference. P1's SIM uses
WavLM-Large's hidden layer 12, mean-pooled (not the WavLM-TDNN verification model):
:class:`WavLMSimilarity` does that for a model on local disk (no downloads at run time).
"""
from __future__ import annotations

import functools

import numpy as np

from slmlib.data.manifest import SAMPLE_RATE
from slmlib.hardware import torch_threads


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
    with torch_threads(1):
        return _encoder().embed_utterance(x)



class WavLMSimilarity:
    """P1's SIM (Eq. 26): cosine of mean-pooled WavLM hidden states of one layer."""

    def __init__(self, model_path: str, layer: int = 12, device: str = "cpu"):
        from transformers import AutoFeatureExtractor, WavLMModel

        self.model = WavLMModel.from_pretrained(model_path).to(device).eval()
        if not 0 <= layer <= self.model.config.num_hidden_layers:
            raise ValueError(f"layer {layer} does not exist: {model_path} has "
                             f"{self.model.config.num_hidden_layers} layers")
        self.features = AutoFeatureExtractor.from_pretrained(model_path)
        self.layer, self.device = layer, device

    def embed(self, wav: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
        """L2-normalised mean of layer ``self.layer`` (hidden_states[0] is the CNN output)."""
        import torch

        if sample_rate != self.features.sampling_rate:
            raise ValueError(f"the WavLM model expects {self.features.sampling_rate} Hz audio, "
                             f"got {sample_rate} Hz: resample first")
        inputs = self.features(np.asarray(wav, dtype=np.float32), sampling_rate=sample_rate,
                               return_tensors="pt").to(self.device)
        with torch.no_grad():
            hidden = self.model(**inputs, output_hidden_states=True).hidden_states[self.layer]
        v = hidden[0].mean(0).float().cpu().numpy()
        return v / (np.linalg.norm(v) + 1e-12)

    def similarity(self, a: np.ndarray, b: np.ndarray) -> float:
        return float(self.embed(a) @ self.embed(b))
