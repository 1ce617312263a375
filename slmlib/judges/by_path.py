"""Judges named by a folder: the world's own (trained in notebook 00) or a real model on local
disk (Whisper or any transformers ASR model; WavLM for P1's SIM).

Worker processes receive folders, not models, so each kind has one loader here that every
stage calls: a stage never needs to know which judge it was given. Nothing is downloaded.
"""
from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Callable

import numpy as np

from slmlib.judges.asr import ASR

WORLD_ASR_FILE = "asr_config.json"     # what ASR.save_pretrained writes
HF_CONFIG_FILE = "config.json"         # what every transformers save_pretrained writes


def _device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _check_folder(folder: str, what: str) -> Path:
    path = Path(folder)
    if not (path / WORLD_ASR_FILE).is_file() and not (path / HF_CONFIG_FILE).is_file():
        raise FileNotFoundError(
            f"{folder} is not a {what}: it holds neither {WORLD_ASR_FILE} (a world judge) nor "
            f"{HF_CONFIG_FILE} (a transformers model saved with save_pretrained)")
    return path


@functools.lru_cache(maxsize=8)
def load_asr(folder: str, lang: str):
    """The recogniser saved in ``folder`` (``transcribe(wavs) -> texts``): a world CTC judge,
    or a transformers ASR model through its pipeline with Whisper's language pinned to
    ``lang``. Cached per process: workers judge many chunks with one model."""
    path = _check_folder(folder, "speech recogniser")
    if (path / WORLD_ASR_FILE).is_file():
        return ASR.from_pretrained(path)
    from slmlib.judges.hf_asr import PipelineASR

    return PipelineASR(str(path), language=lang, device=_device())


@functools.lru_cache(maxsize=2)
def speaker_embedder(folder: str = "") -> Callable[[np.ndarray], np.ndarray]:
    """``wav -> L2-normalised embedding``: resemblyzer's d-vector (seed-tts-eval's SIM) for
    ``""``, else mean-pooled layer 12 of the WavLM model in ``folder`` (P1's SIM)."""
    if not folder:
        from slmlib.judges.speaker import embed

        return embed
    from slmlib.judges.speaker import WavLMSimilarity

    _check_folder(folder, "WavLM model")
    return WavLMSimilarity(folder, device=_device()).embed


def folder_key(folder: str) -> str:
    """A short fingerprint of a model folder (its config and the names and sizes of its
    files), standing in for a cache key: stages judged by the model depend on it."""
    path = Path(folder)
    files = sorted((p.relative_to(path).as_posix(), p.stat().st_size)
                   for p in path.rglob("*") if p.is_file())
    config = next(((path / f).read_text() for f in (HF_CONFIG_FILE, WORLD_ASR_FILE)
                   if (path / f).is_file()), "")
    blob = json.dumps({"files": files, "config": config}, sort_keys=True)
    return "path-" + hashlib.sha256(blob.encode()).hexdigest()[:16]
