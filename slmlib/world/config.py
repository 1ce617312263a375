"""The speech world's parameters (one frozen section of :class:`slmlib.config.Config`)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from slmlib.later import later

EMOTIONS = ("neutral", "happy", "sad", "angry", "calm", "surprised")


@dataclass(frozen=True)
class WorldConfig:
    """Sizes and styles of the embedded speech world.

    Sizing (default): P1 keeps real speech fixed and adds synthetic speech up to 5x as much
    (alpha = 100 % is 1,500 h synthetic vs 300 h real), so each real language gets
    ``n_real_speakers * utts_per_real_speaker`` real training utterances and its synthetic
    systems together render 5x that many. Lao has synthetic training speech only (P1's
    setting); its test split, like every language's, is spoken by held-out real speakers
    (P1 tests Lao on real Common Voice Lao).
    """

    languages: tuple[str, ...] = ("th", "lo", "en")
    real_languages: tuple[str, ...] = ("th", "en")     # Lao: no real speech, as in P1
    n_real_speakers: int = 16          # training speakers per real language
    n_heldout_speakers: int = 4        # real speakers seen only in the test split
    n_judge_speakers: int = 24         # real speakers of the judge split only (24: every variant)
    n_synthetic_systems: int = 3       # per language (think MMS-TTS, Seamless, Typhoon)
    utts_per_real_speaker: int = 100   # training utterances per real speaker
    scaling_language: str = "th"       # the language of P1's scaling study (notebooks 01-03)
    synthetic_to_real: float = 5.0     # synthetic / real training utterances, scaling language
    synthetic_to_real_other: float = 1.0   # the same for the other real languages
    utts_synthetic_only: int = 3000    # synthetic training utterances of a language with no real speech
    n_dev_texts: int = 100             # per language, rendered by training speakers/systems
    n_test_texts: int = 200            # per language, rendered by held-out speakers and systems
    n_judge_texts: int = 300           # per language, for training the judges (disjoint texts)
    vocab_per_class: int = 400        # most frequent N, V and ADJ words per language
    min_words: int = 4
    max_words: int = 12
    emotions: tuple[str, ...] = EMOTIONS
    real_rate_wpm: tuple[int, int] = (160, 180)   # espeak -s; with emotions and pauses ~2.6 words/s
    synthetic_rate_wpm: tuple[int, int] = (160, 170)
    fault_scale: float = 1.0           # multiplies every synthetic system's fault rates
    # real corpora added to the world as real speech (manifests written by `python -m slmlib
    # corpus`, each a manifest.parquet or its folder; relative paths from the project folder),
    # in the splits they were imported as; see slmlib.data.corpora.with_corpora
    corpora: tuple[str, ...] = later(())

    @classmethod
    def smoke(cls) -> "WorldConfig":
        return cls(vocab_per_class=60, n_real_speakers=4, n_heldout_speakers=2, n_judge_speakers=2,
                   utts_per_real_speaker=6,
                   synthetic_to_real=2.0, utts_synthetic_only=24,
                   n_dev_texts=6, n_test_texts=8, n_judge_texts=8)

    @classmethod
    def full(cls) -> "WorldConfig":
        return dataclasses.replace(cls(), n_real_speakers=24, n_heldout_speakers=6,
                                   utts_per_real_speaker=200, utts_synthetic_only=8000,
                                   n_test_texts=400, n_judge_texts=600)
