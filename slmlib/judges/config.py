"""The judges' parameters (one frozen section of :class:`slmlib.config.Config`)."""
from __future__ import annotations

from dataclasses import dataclass

from slmlib.later import later


@dataclass(frozen=True)
class JudgesConfig:
    """How much data and compute the ASR and emotion judges get, per language.

    The ASR trains on the ``train`` and ``judge`` splits (training speakers and systems; in
    Lao also the real judge speakers), never on ``dev``/``test`` texts or held-out speakers,
    plus ``asr_resynth`` codec resyntheses so that it can read the codec's output. Steps are a
    fixed budget, not a time limit: a time limit would make runs differ with machine load.
    """

    asr_steps: int = 900
    asr_clips: int = 4000          # original clips per language at most (real ones first)
    asr_resynth: int = 400         # codec-resynthesised training clips per language
    asr_stride: int = 0            # frames per CTC output; 0 = chosen from the speaking rate
    # the recogniser's recurrent layers (slmlib.judges.asr.ASRConfig.encoder): "mingru", or "gru"
    # for the judges behind outputs/reference (the default before 2026-12-03)
    asr_encoder: str = "mingru"
    # decoding: a character n-gram LM of the training transcripts of this order; 0 = greedy
    asr_lm_order: int = later(6)
    emotion_clips: int = 600       # real training clips per language for the emotion judge
    emotion_max_iter: int = 2000   # logistic-regression iterations of the emotion classifier
    # real judges on local disk (slmlib.judges.by_path), used by every notebook instead of the
    # world's: a transformers ASR model folder (e.g. Whisper, P1's judge) for every language,
    # and a WavLM folder for P1's SIM (layer 12, mean-pooled) instead of resemblyzer
    asr_model: str = later("")
    speaker_model: str = later("")

    @classmethod
    def smoke(cls) -> "JudgesConfig":
        return cls(asr_steps=40, asr_clips=80, asr_resynth=8, emotion_clips=40)
