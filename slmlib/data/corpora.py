"""Real corpora into the world's manifest format: Common Voice, FLEURS, LJSpeech and any local
Hugging Face ``datasets`` audio dataset.

Every loader reads the corpus's own index, then :func:`normalise` decodes each clip (libsndfile:
WAV, FLAC, MP3, OGG), mixes it to mono, resamples it to 16 kHz and writes it as FLAC under
``out_dir`` so every later stage reads one format at one rate. Bad rows (a missing file,
unreadable or empty audio, empty text) are skipped and counted in a :class:`SkippedRows`
warning, never dropped silently. Nothing is downloaded: point the loaders at folders on disk.
"""
from __future__ import annotations

import csv
import hashlib
import io
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd
import soundfile as sf

from slmlib.data.manifest import SAMPLE_RATE, SPLITS, validate


class SkippedRows(UserWarning):
    """Rows of a corpus that could not be used, with the count per reason."""


@dataclass(frozen=True)
class Clip:
    """One row of a corpus before normalisation: ``audio`` is a file path or encoded bytes."""

    id: str
    audio: str | Path | bytes | None
    text: str
    speaker: str
    emotion: str = "neutral"


def _decode(audio: str | Path | bytes) -> np.ndarray:
    """Mono float32 at 16 kHz from a path or encoded bytes (libsndfile reads WAV, FLAC, OGG and
    MP3; librosa resamples with soxr)."""
    import librosa

    wav, rate = sf.read(io.BytesIO(audio) if isinstance(audio, bytes) else str(audio), dtype="float32",
                        always_2d=True)
    wav = wav.mean(axis=1)
    return librosa.resample(wav, orig_sr=rate, target_sr=SAMPLE_RATE) if rate != SAMPLE_RATE else wav


def normalise(clips: Iterable[Clip], out_dir: Path, lang: str, split: str, corpus: str) -> pd.DataFrame:
    """Decode, resample and write each clip to ``out_dir/<id>.flac``; return the manifest.

    A clip is skipped, and counted in one :class:`SkippedRows` warning, when its text is empty,
    its file is missing, its audio cannot be decoded or is empty. Clips already written (same
    id) are reused, so an interrupted import resumes."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; use one of {SPLITS}")
    out_dir.mkdir(parents=True, exist_ok=True)
    rows, skipped = [], Counter()
    for clip in clips:
        if not str(clip.text or "").strip():
            skipped["empty text"] += 1
            continue
        if clip.audio is None or (not isinstance(clip.audio, bytes) and not Path(clip.audio).is_file()):
            skipped["missing file"] += 1
            continue
        target = out_dir / f"{clip.id}.flac"
        if not target.exists():
            try:
                wav = _decode(clip.audio)
            except (sf.LibsndfileError, RuntimeError, OSError, ValueError):
                skipped["unreadable audio"] += 1
                continue
            if wav.size == 0 or not np.isfinite(wav).all():
                skipped["empty or invalid audio"] += 1
                continue
            tmp = target.with_name(f".{target.name}.tmp")
            sf.write(tmp, wav, SAMPLE_RATE, format="FLAC")
            tmp.replace(target)
        rows.append({"id": clip.id, "path": str(target), "lang": lang, "text": clip.text.strip(),
                     "speaker": clip.speaker, "system": "real", "is_real": True, "emotion": clip.emotion,
                     "split": split, "duration": sf.info(str(target)).duration, "faults": [],
                     "corpus": corpus})
    if skipped:
        warnings.warn(f"{corpus}: skipped {sum(skipped.values())} of {sum(skipped.values()) + len(rows)} rows ("
                      + ", ".join(f"{n} {why}" for why, n in sorted(skipped.items())) + ")", SkippedRows,
                      stacklevel=3)
    if not rows:
        raise ValueError(f"{corpus}: no usable rows (skipped: {dict(skipped)}); check the paths")
    return validate(pd.DataFrame(rows))


def common_voice(root: Path, out_dir: Path, lang: str, split: str = "test", tsv: str | None = None) -> pd.DataFrame:
    """A Common Voice language folder: ``<root>/<tsv>`` (default ``<split>.tsv``; columns
    ``client_id``, ``path``, ``sentence``, ...) with clips in ``<root>/clips/``."""
    tsv = tsv or f"{split}.tsv"
    index = Path(root) / tsv
    if not index.is_file():
        raise FileNotFoundError(f"no {tsv} in {root}: point at a Common Voice language folder "
                                "(it holds clips/ and the split TSVs)")
    table = pd.read_csv(index, sep="\t", quoting=csv.QUOTE_NONE, dtype=str, keep_default_na=False)
    clips = (Clip(id=f"cv-{lang}-{Path(r.path).stem}", audio=Path(root) / "clips" / r.path, text=r.sentence,
                  speaker=f"cv-{r.client_id[:12]}") for r in table.itertuples())
    return normalise(clips, out_dir, lang, split, "common_voice")


FLEURS_COLUMNS = ["id", "file_name", "raw_transcription", "transcription", "characters", "num_samples", "gender"]


def fleurs(root: Path, out_dir: Path, lang: str, split: str = "test") -> pd.DataFrame:
    """A FLEURS language folder as released: ``<root>/<split>.tsv`` (no header: id, file name,
    raw transcription, transcription, characters, samples, gender) and the clips in
    ``<root>/audio/<split>/``. FLEURS names the dev split ``dev``; the raw transcription is used.
    FLEURS has no speaker ids; the sentence id stands in, so speaker-disjoint splits are not
    guaranteed within one FLEURS split."""
    index = Path(root) / f"{split}.tsv"
    if not index.is_file():
        raise FileNotFoundError(f"no {split}.tsv in {root}: point at a FLEURS language folder")
    table = pd.read_csv(index, sep="\t", header=None, names=FLEURS_COLUMNS, quoting=csv.QUOTE_NONE,
                        dtype=str, keep_default_na=False)
    clips = (Clip(id=f"fleurs-{lang}-{Path(r.file_name).stem}", audio=Path(root) / "audio" / split / r.file_name,
                  text=r.raw_transcription, speaker=f"fleurs-{r.id}") for r in table.itertuples())
    return normalise(clips, out_dir, lang, split, "fleurs")


def ljspeech(root: Path, out_dir: Path, lang: str = "en", split: str = "train",
             speaker: str | None = None) -> pd.DataFrame:
    """An LJSpeech-style folder: ``metadata.csv`` (``id|text|normalised text``, no header) and
    ``wavs/<id>.wav``; the normalised text is used when present. One speaker (the folder name
    unless given)."""
    index = Path(root) / "metadata.csv"
    if not index.is_file():
        raise FileNotFoundError(f"no metadata.csv in {root}: point at an LJSpeech-style folder")
    speaker = speaker or Path(root).name
    clips = []
    with open(index, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("|")
            if not parts[0]:
                continue
            text = parts[2] if len(parts) > 2 and parts[2].strip() else (parts[1] if len(parts) > 1 else "")
            clips.append(Clip(id=f"lj-{parts[0]}", audio=Path(root) / "wavs" / f"{parts[0]}.wav", text=text,
                              speaker=speaker))
    return normalise(clips, out_dir, lang, split, "ljspeech")


def hf_dataset(path: str | Path, out_dir: Path, lang: str, split: str = "test", hf_split: str | None = None,
               text_column: str | None = None, audio_column: str = "audio",
               speaker_column: str | None = None) -> pd.DataFrame:
    """A local Hugging Face ``datasets`` audio dataset: a folder written by ``save_to_disk``
    (a Dataset or a DatasetDict, choose ``hf_split``), or Parquet file(s). Audio is read
    undecoded (``Audio(decode=False)``: path or bytes) and decoded here, so no audio backend
    of ``datasets`` is needed. The text column defaults to the first of ``sentence``,
    ``text``, ``transcription``, ``raw_transcription``, ``normalized_text``."""
    import datasets

    path = Path(path)
    if path.is_dir() and ((path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists()):
        ds = datasets.load_from_disk(str(path))
    elif path.suffix == ".parquet" or (path.is_dir() and any(path.glob("*.parquet"))):
        files = [str(path)] if path.is_file() else sorted(map(str, path.glob("*.parquet")))
        ds = datasets.load_dataset("parquet", data_files=files, split="train")
    else:
        raise FileNotFoundError(f"{path} is neither a save_to_disk folder nor Parquet file(s)")
    if isinstance(ds, datasets.DatasetDict):
        if hf_split is None or hf_split not in ds:
            raise ValueError(f"{path} holds splits {list(ds)}; choose one with hf_split")
        ds = ds[hf_split]
    text_column = text_column or next((c for c in ("sentence", "text", "transcription", "raw_transcription",
                                                   "normalized_text") if c in ds.column_names), None)
    if text_column is None or audio_column not in ds.column_names:
        raise ValueError(f"{path}: need a text column and the audio column {audio_column!r}; "
                         f"columns are {ds.column_names}")
    if isinstance(ds.features[audio_column], datasets.Audio):
        ds = ds.cast_column(audio_column, datasets.Audio(decode=False))

    def clips() -> Iterable[Clip]:
        for i, row in enumerate(ds):
            a = row[audio_column]
            audio = (a.get("bytes") or a.get("path")) if isinstance(a, dict) else a
            speaker = str(row[speaker_column]) if speaker_column else f"{path.name}-unknown"
            yield Clip(id=f"hf-{lang}-{i:06d}", audio=audio, text=row[text_column] or "", speaker=speaker)

    return normalise(clips(), out_dir, lang, split, "hf_dataset")


LOADERS = {"common_voice": common_voice, "fleurs": fleurs, "ljspeech": ljspeech, "hf_dataset": hf_dataset}


def read_manifest(path: str | Path) -> pd.DataFrame:
    """A corpus manifest written by ``python -m slmlib corpus`` (the Parquet file or the folder
    holding ``manifest.parquet``), checked, with clip paths made absolute."""
    path = Path(path)
    file = path / "manifest.parquet" if path.is_dir() else path
    if not file.is_file():
        raise FileNotFoundError(f"no corpus manifest at {path}: write one with "
                                "`python -m slmlib corpus <kind> <root> --lang .. --out <folder>`")
    table = validate(pd.read_parquet(file))
    table["path"] = [str(p if Path(p).is_absolute() else (file.parent / p).resolve()) for p in table.path]
    return table


def as_world_rows(corpus: pd.DataFrame) -> pd.DataFrame:
    """Corpus rows with the columns the world's own rows carry: the transcript is what was said
    (``spoken_text``), no faults, the word count from the WER segmentation, no espeak word
    events, and a digest of the 16-bit samples as the world computes it (``audio_sha``, which
    every stage's cache key uses)."""
    from slmlib.text.normalize import words_for_wer
    from slmlib.world.render import FAULTS

    out = corpus.copy()
    words = [words_for_wer(t, lang) for t, lang in zip(out.text, out.lang)]
    pcm = [sf.read(p, dtype="int16", always_2d=True)[0][:, 0] for p in out.path]   # as stored: mono 16-bit
    return out.assign(words=words, spoken_text=out.text, n_words=[len(w) for w in words],
                      word_times=[[]] * len(out), words_missing=0, phrasing_attempts=0, faults=[[]] * len(out),
                      audio_sha=[hashlib.sha256(x.tobytes()).hexdigest()[:16] for x in pcm],
                      **{f"fault_{f}": False for f in FAULTS})


def with_corpora(world: pd.DataFrame, paths: Iterable[str | Path]) -> pd.DataFrame:
    """The world's manifest plus the real speech of each corpus manifest in ``paths``, in the
    splits the corpus was imported as (``train`` rows join the real training speech of their
    language, ``test`` rows become held-out speakers, ``judge`` rows train the judges). Every
    corpus row is marked in the ``corpus`` column; the world's rows say ``world``."""
    parts = [world.assign(corpus="world")]
    languages = set(world.lang)
    for path in paths:
        corpus = read_manifest(path)
        unknown = sorted(set(corpus.lang) - languages)
        if unknown:
            raise ValueError(f"{path}: languages {unknown} are not in the world ({sorted(languages)}); "
                             "add them to world.languages or import the corpus with --lang")
        clash = set(corpus.id) & set(pd.concat(parts).id)
        if clash:
            raise ValueError(f"{path}: ids already in the manifest, e.g. {sorted(clash)[0]!r}")
        parts.append(as_world_rows(corpus))
    return validate(pd.concat(parts, ignore_index=True))
