"""One manifest format for the world and for real corpora: a table with one row per utterance.

Stored as Parquet, convertible to a Hugging Face ``datasets.Dataset``. Real-corpus loaders
(Common Voice, FLEURS, LJSpeech, local ``datasets``) produce the same columns.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

SAMPLE_RATE = 16000
REQUIRED = {
    "id": "utterance id, unique", "path": "audio file", "lang": "th / lo / en",
    "text": "intended transcript (raw script)", "speaker": "speaker or system voice",
    "system": "'real' or the synthetic system", "is_real": "real (expressive) speech?",
    "emotion": "intended emotion ('neutral' when unknown)", "split": "train/dev/test/judge",
    "duration": "seconds", "faults": "list of fault labels (empty for clean speech)",
}
SPLITS = ("train", "dev", "test", "judge")


class ManifestError(ValueError):
    """A manifest that is missing columns or has impossible values."""


class AudioError(ValueError):
    """Audio that cannot be read or has the wrong sample rate."""


def validate(df: pd.DataFrame) -> pd.DataFrame:
    """Check the columns every consumer relies on; returns ``df`` for chaining."""
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise ManifestError("manifest lacks columns " + ", ".join(missing) + "; required: "
                            + "; ".join(f"{k} ({v})" for k, v in REQUIRED.items()))
    if df["id"].duplicated().any():
        raise ManifestError(f"duplicate ids, e.g. {df.loc[df['id'].duplicated(), 'id'].iloc[0]!r}")
    empty = df["text"].astype(str).str.strip() == ""
    if empty.any():
        raise ManifestError(f"{int(empty.sum())} rows have empty text, e.g. id {df.loc[empty, 'id'].iloc[0]!r}")
    bad_split = ~df["split"].isin(SPLITS)
    if bad_split.any():
        raise ManifestError(f"unknown split {df.loc[bad_split, 'split'].iloc[0]!r}; use one of {SPLITS}")
    return df


def save(df: pd.DataFrame, path: Path) -> Path:
    """Write Parquet atomically (temp file + rename)."""
    validate(df)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    df.to_parquet(tmp, index=False)
    os.replace(tmp, path)
    return path


def load(path: Path) -> pd.DataFrame:
    return validate(pd.read_parquet(path))


def to_dataset(df: pd.DataFrame):
    """As a ``datasets.Dataset`` (audio stays a path column; decode with :func:`load_audio`)."""
    import datasets

    return datasets.Dataset.from_pandas(validate(df), preserve_index=False)


def load_audio(path: str | Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Mono float32 audio; clear errors for unreadable files and mismatched rates."""
    try:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as err:
        raise AudioError(f"cannot read audio {path}: {err}") from None
    if rate != sample_rate:
        raise AudioError(f"{path} is {rate} Hz, expected {sample_rate} Hz; resample it first "
                         f"(scipy.signal.resample_poly) or rebuild the manifest")
    return audio.mean(axis=1)


def summary(df: pd.DataFrame) -> pd.DataFrame:
    """Hours, speakers and utterances per language, split and kind (real / synthetic)."""
    kind = np.where(df["is_real"], "real", "synthetic")
    return (df.assign(kind=kind)
              .groupby(["lang", "split", "kind"])
              .agg(utterances=("id", "size"), speakers=("speaker", "nunique"),
                   hours=("duration", lambda d: round(d.sum() / 3600, 3)))
              .reset_index())
