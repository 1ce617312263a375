"""Emotion judge: a logistic regression over prosodic and spectral features of a clip.

Emotions in this world change register, pitch range, rate, loudness, spectral tilt and the
final pitch movement (slmlib.world.voices.EMOTION_RECIPES), so those are the features. Speakers
differ in register too, so F0 enters relative to the speaker's typical F0 (from reference
clips of that speaker: known for every real speaker, and for generated speech it is the target
speaker's). scikit-learn does the modelling; only the features are written here.
EmoAlign = the share of clips whose predicted emotion is the intended one.
"""
from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from slmlib.data.manifest import SAMPLE_RATE
from slmlib.prosody import energy_db, f0_contour, prosody_features, speaking_rate

PROSODY = ("f0_shift_st", "f0_std_st", "f0_range_st", "voiced_share", "energy_std_db")


def emotion_features(audio: np.ndarray, text: str, speaker_f0_hz: float) -> dict[str, float]:
    """Features of one clip: prosody relative to the speaker, speaking rate over the text,
    the pitch movement of the last 300 ms, loudness and MFCC means/stds (spectral tilt)."""
    import librosa

    _, f0 = f0_contour(audio, reference_hz=speaker_f0_hz)
    p = prosody_features(audio, speaker_f0_hz, f0)
    voiced = f0[f0 > 0]
    final = 12 * np.log2(np.median(voiced[-30:]) / np.median(voiced)) if len(voiced) >= 30 else 0.0
    mfcc = librosa.feature.mfcc(y=np.asarray(audio, dtype=np.float32), sr=SAMPLE_RATE, n_mfcc=13,
                                n_fft=400, hop_length=160)
    out = {k: p[k] for k in PROSODY}
    out.update({"chars_per_s": speaking_rate(text, p["duration"]),
                "final_move_st": float(final), "loudness_db": float(np.mean(energy_db(audio)))})
    out.update({f"mfcc{i}_mean": float(v) for i, v in enumerate(mfcc.mean(1))})
    out.update({f"mfcc{i}_std": float(v) for i, v in enumerate(mfcc.std(1))})
    return out


@dataclass
class EmotionJudge:
    """A fitted classifier and the feature names it expects, in order."""

    model: object
    features: list[str]

    @classmethod
    def fit(cls, table: pd.DataFrame, labels: list[str], max_iter: int = 2000, seed: int = 0
            ) -> "EmotionJudge":
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        names = list(table.columns)
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=max_iter, C=1.0,
                                                                   random_state=seed))
        model.fit(table[names].fillna(0.0).to_numpy(), labels)
        return cls(model, names)

    def predict(self, table: pd.DataFrame) -> np.ndarray:
        return self.model.predict(self._matrix(table))

    def probabilities(self, table: pd.DataFrame) -> np.ndarray:
        """(N, len(classes)) class probabilities, columns in :attr:`classes` order."""
        return self.model.predict_proba(self._matrix(table))

    def _matrix(self, table: pd.DataFrame) -> np.ndarray:
        missing = sorted(set(self.features) - set(table.columns))
        if missing:
            raise ValueError(f"feature table lacks {missing}; compute it with emotion_features")
        return table[self.features].fillna(0.0).to_numpy()

    @property
    def classes(self) -> list[str]:
        return list(self.model.classes_)

    def save_pretrained(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / "emotion.pkl", "wb") as f:
            pickle.dump({"model": self.model, "features": self.features}, f)
        return folder

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> "EmotionJudge":
        path = Path(folder) / "emotion.pkl"
        if not path.exists():
            raise FileNotFoundError(f"{folder} holds no emotion.pkl: not a saved emotion judge")
        with open(path, "rb") as f:
            saved = pickle.load(f)
        return cls(saved["model"], saved["features"])


def stored_features(table: pd.DataFrame, prefix: str) -> pd.DataFrame:
    """The emotion features kept in ``table`` as ``<prefix><feature>`` columns, unprefixed."""
    cols = [c for c in table.columns if c.startswith(prefix)]
    return table[cols].rename(columns=lambda c: c[len(prefix):])


def emo_align(predicted: list[str], intended: list[str]) -> float:
    """EmoAlign: agreement of the judge with the intended emotion."""
    if len(predicted) != len(intended) or not predicted:
        raise ValueError("need one prediction per intended emotion")
    return float(np.mean(np.asarray(predicted) == np.asarray(intended)))
