"""Who speaks in the world: expressive real speakers, flat synthetic systems, emotion recipes.

Real speakers differ in espeak variant, F0 register, speaking rate and a WORLD frequency
warp of the spectral envelope (a vocal-tract-length change), so timbres differ beyond the
handful of espeak variants. Synthetic systems each have their own voice, one narrow prosody
style and their own fault rates (think MMS-TTS, Seamless, Typhoon: different but monotone).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Variants that sound clearly different and are voiced (whisper variants are not).
REAL_VARIANTS = ("m1", "m2", "m3", "m4", "m6", "m7", "f1", "f2", "f3", "f4",
                 "Andy", "Annie", "Alex", "Alicia", "anika", "linda", "steph", "edward",
                 "iven", "max", "john", "belinda", "caleb", "grandma")
SYSTEM_VARIANTS = ("m5", "f5", "klatt", "m8", "klatt3", "robert")
ESPEAK_VOICE = {"th": "th", "lo": "th", "en": "en-us"}   # Lao speaks through the Thai phoneme set


@dataclass(frozen=True)
class Emotion:
    """A prosody recipe: applied as SSML rate/volume and as a WORLD F0 transform."""

    name: str
    f0_ratio: float       # register shift
    range_scale: float    # F0 excursions around the utterance median are scaled by this
    rate: float           # speaking-rate factor (SSML prosody rate)
    gain_db: float        # loudness relative to neutral
    tilt: float           # spectral tilt exponent: >0 brighter (tense), <0 darker (soft)
    final_rise: float     # semitones of rise over the last 300 ms (questions, surprise)


EMOTION_RECIPES = {
    "neutral": Emotion("neutral", 1.00, 1.0, 1.00, 0.0, 0.00, 0.0),
    "happy": Emotion("happy", 1.18, 1.5, 1.10, 2.0, 0.10, 1.0),
    "sad": Emotion("sad", 0.88, 0.45, 0.78, -5.0, -0.25, -1.5),
    "angry": Emotion("angry", 1.08, 1.3, 1.15, 5.0, 0.35, -1.0),
    "calm": Emotion("calm", 0.94, 0.7, 0.88, -3.0, -0.10, 0.0),
    "surprised": Emotion("surprised", 1.28, 1.8, 1.02, 2.0, 0.05, 4.0),
}


@dataclass(frozen=True)
class Voice:
    """One speaker (real) or one synthetic system, in one language."""

    name: str
    lang: str
    is_real: bool
    variant: str
    espeak_pitch: int          # espeak -p (0-99)
    rate_wpm: int              # espeak -s
    f0_ratio: float            # WORLD register shift (real speakers)
    warp: float                # spectral-envelope frequency warp (real speakers)
    expressiveness: float      # scales phrase pitch moves and F0 excursions (0 = none)
    pitch_range: int           # espeak RANGE parameter; low = flat intonation
    faults: tuple[tuple[str, float], ...] = ()   # (fault, probability) for synthetic systems

    @property
    def espeak_voice(self) -> str:
        return f"{ESPEAK_VOICE[self.lang]}+{self.variant}"


# Per-system fault profiles (probabilities per utterance, before world.fault_scale), chosen to
# resemble what P1's filter removes: mostly mispronunciations, some loops and truncations.
SYSTEM_FAULTS = (
    (("mispronounce", 0.05), ("drop", 0.03), ("loop", 0.02), ("truncate", 0.01), ("length", 0.02)),
    (("mispronounce", 0.03), ("drop", 0.02), ("loop", 0.05), ("truncate", 0.02), ("length", 0.01)),
    (("mispronounce", 0.04), ("drop", 0.04), ("loop", 0.01), ("truncate", 0.04), ("length", 0.03)),
)
SYSTEM_RANGES = (10, 14, 6)    # espeak RANGE 0-100 (50 is espeak's default intonation)


def real_speakers(lang: str, n: int, rate_wpm: tuple[int, int], seed: int,
                  prefix: str = "R") -> list[Voice]:
    """``n`` expressive speakers of ``lang``, seeded; names ``<lang>-R00`` and so on."""
    rng = np.random.default_rng([seed, 17, _lang_id(lang), ord(prefix[0])])
    order = rng.permutation(len(REAL_VARIANTS))
    voices = []
    for i in range(n):
        variant = REAL_VARIANTS[order[i % len(REAL_VARIANTS)]]
        voices.append(Voice(
            name=f"{lang}-{prefix}{i:02d}", lang=lang, is_real=True, variant=variant,
            espeak_pitch=int(rng.integers(35, 66)),
            rate_wpm=int(rng.integers(rate_wpm[0], rate_wpm[1] + 1)),
            f0_ratio=float(rng.uniform(0.85, 1.2)), warp=float(rng.uniform(0.88, 1.14)),
            expressiveness=float(rng.uniform(1.2, 1.7)), pitch_range=int(rng.integers(75, 101)),
        ))
    return voices


def synthetic_systems(lang: str, n: int, rate_wpm: tuple[int, int], fault_scale: float,
                      seed: int) -> list[Voice]:
    """``n`` (at most 3) flat synthetic systems of ``lang`` with their fault profiles."""
    if n > len(SYSTEM_FAULTS):
        raise ValueError(f"at most {len(SYSTEM_FAULTS)} synthetic systems per language, got {n}")
    rng = np.random.default_rng([seed, 29, _lang_id(lang)])
    variants = rng.permutation(SYSTEM_VARIANTS)
    return [Voice(
        name=f"{lang}-S{chr(ord('A') + i)}", lang=lang, is_real=False, variant=str(variants[i]),
        espeak_pitch=int(rng.integers(40, 61)),
        rate_wpm=int(rng.integers(rate_wpm[0], rate_wpm[1] + 1)),
        f0_ratio=1.0, warp=1.0, expressiveness=0.0, pitch_range=SYSTEM_RANGES[i],
        faults=tuple((f, min(1.0, p * fault_scale)) for f, p in SYSTEM_FAULTS[i]),
    ) for i in range(n)]


def _lang_id(lang: str) -> int:
    return sum(ord(c) for c in lang)
