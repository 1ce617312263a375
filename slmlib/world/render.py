"""Render one utterance: words -> SSML -> espeak-ng -> 16 kHz -> WORLD voice/emotion -> faults.

Everything random about an utterance (phrasing, pitch accents, faults) is drawn from its own
seed, so rendering is a pure function of the :class:`UtteranceSpec` and runs in any process.
"""
from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from slmlib.data.manifest import SAMPLE_RATE
from slmlib.prosody import f0_contour, pyworld
from slmlib.world.espeak import engine
from slmlib.world.espeak_server import ESPEAK_SAMPLE_RATE
from slmlib.world.voices import EMOTION_RECIPES, Voice

WORLD_FRAME_MS = 10.0   # 10 ms frames halve WORLD's cost against 5 ms; F0 edits stay smooth
TARGET_RMS_DB = -23.0
FAULTS = ("mispronounce", "drop", "loop", "truncate", "length")


@dataclass(frozen=True)
class UtteranceSpec:
    """Everything that determines one rendered utterance."""

    id: str
    split: str
    words: tuple[str, ...]          # intended words (the transcript)
    phonemes: tuple[str, ...]       # espeak spelling per word (th/lo) or the words (en)
    voice: Voice
    emotion: str
    seed: int
    faults: tuple[str, ...] = ()


@dataclass
class RenderResult:
    audio: np.ndarray               # float32, 16 kHz
    spoken: list[str]               # what was actually said, word by word (espeak spelling)
    word_times: list[float]         # onset of each spoken word, seconds
    words_missing: int              # spoken words espeak reported no word event for
    fault_detail: dict = field(default_factory=dict)


def resample_to_16k(audio: np.ndarray, rate: int = ESPEAK_SAMPLE_RATE) -> np.ndarray:
    """22.05 kHz -> 16 kHz with the exact ratio (16000/22050 = 320/441)."""
    if rate != ESPEAK_SAMPLE_RATE:
        raise ValueError(f"expected espeak's {ESPEAK_SAMPLE_RATE} Hz audio, got {rate} Hz")
    return resample_poly(audio, 320, 441).astype(np.float32)


# --- faults on the word level -----------------------------------------------------------
VOWEL_SWAP = {"a": "i", "i": "u", "u": "a", "e": "o", "o": "e", "E": "O", "O": "E", "W": "i", "@": "a"}


def mispronounce(spelling: str, lang: str) -> str:
    """A wrong but renderable version of one word: tones moved and the first vowel changed
    (Thai/Lao), letters reversed (English, through espeak's G2P)."""
    if lang == "en":
        return spelling[::-1] if spelling[::-1] != spelling else spelling + spelling[0]
    out, changed = [], False
    for ch in spelling:
        if ch.isdigit():
            out.append(str(int(ch) % 5 + 1))
        elif not changed and ch in VOWEL_SWAP:
            out.append(VOWEL_SWAP[ch])
            changed = True
        else:
            out.append(ch)
    return "".join(out)


def spoken_words(spec: UtteranceSpec, rng: np.random.Generator) -> tuple[list[str], dict]:
    """The espeak spellings actually spoken, after word-level faults."""
    words = list(spec.phonemes)
    detail: dict = {}
    if "mispronounce" in spec.faults:
        i = int(rng.integers(len(words)))
        words[i] = mispronounce(words[i], spec.voice.lang)
        detail["mispronounced"] = i
    if "drop" in spec.faults and len(words) > 1:
        i = int(rng.integers(1, len(words)))
        del words[i]
        detail["dropped"] = i
    if "loop" in spec.faults:
        i = int(rng.integers(len(words)))
        span = words[i:i + int(rng.integers(1, 3))]
        repeats = int(rng.integers(3, 6))
        words[i:i + len(span)] = span * repeats
        detail["looped"] = (i, len(span), repeats)
    return words, detail


# --- SSML ------------------------------------------------------------------------------
def _content(words: list[str], lang: str) -> str:
    # a space after ]] matters: a tag right after it is swallowed and read aloud as English
    return " ".join(words) if lang == "en" else "[[" + " ".join(words) + "]] "


def build_ssml(words: list[str], voice: Voice, emotion: str, rng: np.random.Generator,
               rate_factor: float = 1.0, plain: bool = False) -> str:
    """Phrase the words; real voices get per-phrase pitch/rate moves, emphasis and pauses
    (unless ``plain``: one prosody block, as synthetic systems always speak)."""
    recipe = EMOTION_RECIPES[emotion]
    rate = rate_factor * (recipe.rate if voice.is_real else 1.0)
    if plain or not voice.is_real:
        return f'<speak><prosody rate="{100 * rate:.0f}%">{_content(words, voice.lang)}</prosody></speak>'
    parts, i = [], 0
    while i < len(words):
        n = int(rng.integers(1, 5))
        phrase = words[i:i + n]
        i += n
        pitch = rng.normal(0, 15 * voice.expressiveness)
        local_rate = rate * float(np.clip(rng.normal(1.0, 0.08), 0.8, 1.25))
        body = _content(phrase, voice.lang)
        if rng.random() < 0.35:
            body = f'<emphasis level="strong">{body}</emphasis> '
        parts.append(f'<prosody pitch="{pitch:+.0f}%" rate="{100 * local_rate:.0f}%">{body}</prosody> ')
        if i < len(words) and rng.random() < 0.3:
            parts.append(f'<break time="{int(rng.integers(80, 300))}ms"/> ')
    return "<speak>" + "".join(parts) + "</speak>"


# --- WORLD voice and emotion transform ---------------------------------------------------
@functools.lru_cache(maxsize=None)
def voice_reference_hz(voice: Voice) -> float:
    """The median F0 of a voice's plain espeak output (a fixed calibration sentence), so that
    F0 tracking of short clips searches the right octave."""
    text = "one two three four five six" if voice.lang == "en" else "[[nWN3 sO:N1 sa:m1 si:2 ha:5]]"
    out = engine().synth(text, voice.espeak_voice, rate=voice.rate_wpm, pitch=voice.espeak_pitch,
                         pitch_range=voice.pitch_range)
    _, f0 = f0_contour(resample_to_16k(out.audio))
    return float(np.median(f0[f0 > 0]))


def world_transform(x: np.ndarray, fs: int, f0_ratio: float, range_scale: float, warp: float,
                    tilt: float, final_rise_st: float, reference_hz: float | None = None
                    ) -> np.ndarray:
    """Shift and scale F0, warp the spectral envelope (vocal-tract length), tilt it."""
    x64 = x.astype(np.float64)
    t, f0 = f0_contour(x64, fs, WORLD_FRAME_MS, reference_hz)
    sp = pyworld.cheaptrick(x64, f0, t, fs)
    ap = pyworld.d4c(x64, f0, t, fs)
    voiced = f0 > 0
    if voiced.any():
        logf = np.log(f0[voiced])
        med = np.median(logf)
        new = med + np.log(f0_ratio) + range_scale * (logf - med)
        ramp = np.clip((t[voiced] - (t[-1] - 0.3)) / 0.3, 0, 1)
        new += ramp * final_rise_st * np.log(2) / 12
        f0 = f0.copy()
        f0[voiced] = np.clip(np.exp(new), 40.0, 700.0)
    bins = np.arange(sp.shape[1], dtype=float)
    src = np.clip(bins / warp, 0, sp.shape[1] - 1.001)
    lo = src.astype(int)
    frac = src - lo
    sp = sp[:, lo] * (1 - frac) + sp[:, lo + 1] * frac
    if tilt:
        freq = bins * fs / (2 * (sp.shape[1] - 1))
        sp = sp * ((freq + 200.0) / 1200.0) ** (2 * tilt)
    y = pyworld.synthesize(f0, np.ascontiguousarray(sp), ap, fs, WORLD_FRAME_MS)
    return y.astype(np.float32)


def trim_silence(x: np.ndarray, fs: int, threshold_db: float = -45.0, keep_s: float = 0.05
                 ) -> tuple[np.ndarray, int]:
    """Cut leading/trailing silence, keeping ``keep_s``; returns audio and samples cut at the start."""
    frame = int(0.01 * fs)
    n = len(x) // frame
    if n == 0:
        return x, 0
    rms = np.sqrt(np.mean(x[: n * frame].reshape(n, frame) ** 2, axis=1) + 1e-12)
    loud = np.flatnonzero(20 * np.log10(rms / (rms.max() + 1e-12)) > threshold_db)
    if len(loud) == 0:
        return x, 0
    start = max(0, loud[0] * frame - int(keep_s * fs))
    end = min(len(x), (loud[-1] + 1) * frame + int(keep_s * fs))
    return x[start:end], start


def normalise_loudness(x: np.ndarray, gain_db: float) -> np.ndarray:
    rms = np.sqrt(np.mean(x ** 2) + 1e-12)
    y = x * (10 ** ((TARGET_RMS_DB + gain_db) / 20) / rms)
    peak = np.abs(y).max()
    return (y / peak * 0.98 if peak > 0.98 else y).astype(np.float32)


PHRASING_ATTEMPTS = 3


def _speak(words: list[str], spec: UtteranceSpec, rng: np.random.Generator, rate_factor: float,
           plain: bool) -> tuple[np.ndarray, list[int]]:
    voice = spec.voice
    ssml = build_ssml(words, voice, spec.emotion, rng, rate_factor, plain)
    out = engine().synth(ssml, voice.espeak_voice, rate=voice.rate_wpm, pitch=voice.espeak_pitch,
                         pitch_range=voice.pitch_range, ssml=True)
    return out.audio, out.word_starts


def render(spec: UtteranceSpec) -> RenderResult:
    """Render one utterance to 16 kHz float32 audio (deterministic in ``spec``).

    Some SSML phrasings make espeak-ng stop early (deterministically, a fraction of a percent
    of them): when espeak reports fewer words than it was given, the phrasing is drawn again,
    and after ``PHRASING_ATTEMPTS`` tries the utterance is spoken as one plain phrase.
    """
    if not spec.words:
        raise ValueError(f"{spec.id}: empty text, nothing to render")
    rng = np.random.default_rng(spec.seed)
    voice = spec.voice
    words, detail = spoken_words(spec, rng)
    rate_factor = 1.0
    if "length" in spec.faults:
        rate_factor = float(rng.choice([0.55, 1.8]))     # far too slow or far too fast
        detail["rate_factor"] = rate_factor
    for attempt in range(PHRASING_ATTEMPTS + 1):
        raw, word_starts = _speak(words, spec, rng, rate_factor, plain=attempt == PHRASING_ATTEMPTS)
        if len(raw) and len(word_starts) >= len(words):
            break
    if attempt:
        detail["phrasing_attempts"] = attempt + 1
    if len(raw) == 0:
        raise RuntimeError(f"{spec.id}: espeak-ng produced no audio for {' '.join(words)[:80]!r}")
    audio = resample_to_16k(raw)
    starts = [s * SAMPLE_RATE / ESPEAK_SAMPLE_RATE for s in word_starts]
    recipe = EMOTION_RECIPES[spec.emotion]
    if voice.is_real:
        audio = world_transform(audio, SAMPLE_RATE, voice.f0_ratio * recipe.f0_ratio,
                                recipe.range_scale * voice.expressiveness, voice.warp, recipe.tilt,
                                recipe.final_rise, voice_reference_hz(voice))
    if "truncate" in spec.faults:
        keep = float(rng.uniform(0.4, 0.75))
        audio = audio[: int(len(audio) * keep)]
        detail["kept_fraction"] = keep
    audio, cut = trim_silence(audio, SAMPLE_RATE)
    audio = normalise_loudness(audio, recipe.gain_db if voice.is_real else 0.0)
    times = [max(0.0, (s - cut) / SAMPLE_RATE) for s in starts]
    return RenderResult(audio, words, times, max(0, len(words) - len(word_starts)), detail)


def write_flac(path: Path, audio: np.ndarray) -> str:
    """Write 16-bit FLAC; returns the SHA-256 of the PCM samples (for determinism checks)."""
    pcm = np.clip(np.round(audio * 32767), -32768, 32767).astype(np.int16)
    sf.write(path, pcm, SAMPLE_RATE, subtype="PCM_16", format="FLAC")
    return hashlib.sha256(pcm.tobytes()).hexdigest()[:16]
