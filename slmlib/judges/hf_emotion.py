"""A real emotion judge by local path: any transformers audio-classification model (e.g. an
emotion-recognition fine-tune of wav2vec 2.0, HuBERT or WavLM), through transformers' pipeline.

Its labels are mapped onto the world's emotion names (:data:`slmlib.world.config.EMOTIONS`)
so EmoAlign is computed the same way as with the world judge; labels with no counterpart map
to themselves and never match an intended emotion. Nothing is downloaded.
"""
from __future__ import annotations

import numpy as np

from slmlib.data.manifest import SAMPLE_RATE

# Label spellings of common emotion datasets (IEMOCAP/SUPERB "neu", RAVDESS "fearful", ...).
COMMON_LABELS = {"neu": "neutral", "neutral": "neutral", "hap": "happy", "happy": "happy", "happiness": "happy",
                 "joy": "happy", "sad": "sad", "sadness": "sad", "ang": "angry", "angry": "angry",
                 "anger": "angry", "calm": "calm", "sur": "surprised", "surprise": "surprised",
                 "surprised": "surprised"}


class PipelineEmotion:
    def __init__(self, model_path: str, label_map: dict[str, str] | None = None, device: str = "cpu",
                 batch_size: int = 8):
        """``label_map`` (model label -> world emotion) extends or overrides :data:`COMMON_LABELS`."""
        from transformers import pipeline

        self.pipe = pipeline("audio-classification", model=model_path, device=device)
        self.label_map = {**COMMON_LABELS, **(label_map or {})}
        id2label = self.pipe.model.config.id2label
        self.model_labels = [str(id2label[i]) for i in range(len(id2label))]
        self.labels = [self.label_map.get(l.lower(), l) for l in self.model_labels]   # world names
        self.batch_size = batch_size

    def probabilities(self, wavs: list[np.ndarray], sample_rate: int = SAMPLE_RATE) -> np.ndarray:
        """(N, number of model labels) probabilities of 16 kHz clips, columns in :attr:`labels` order."""
        if sample_rate != SAMPLE_RATE:
            raise ValueError(f"clips must be {SAMPLE_RATE} Hz, got {sample_rate} Hz: resample first")
        inputs = [{"raw": np.asarray(w, dtype=np.float32), "sampling_rate": sample_rate} for w in wavs]
        out = self.pipe(inputs, top_k=len(self.model_labels), batch_size=self.batch_size)
        column = {label: i for i, label in enumerate(self.model_labels)}
        probs = np.zeros((len(wavs), len(self.model_labels)), dtype=np.float32)
        for row, scores in zip(probs, out):
            for s in scores:
                row[column[str(s["label"])]] = s["score"]
        return probs

    def predict(self, wavs: list[np.ndarray], sample_rate: int = SAMPLE_RATE) -> list[str]:
        """The most probable world emotion of each clip."""
        return [self.labels[i] for i in self.probabilities(wavs, sample_rate).argmax(axis=1)]
