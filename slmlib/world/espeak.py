"""espeak-ng in process, through ctypes on its shared library.

In-process synthesis is about 4x faster than a process per utterance and, through the
library's event callback, gives every word's and phoneme's sample position for free. The
pip bindings (``espeakng``) only wrap the command line, so the C API is bound here directly.
The engine is global state in the library, so there is one :class:`Espeak` per process.

espeak-ng carries state from one utterance to the next (its waveform generator's phase and
flutter counters), so the same text said twice in one process comes out a few samples
different. To make every utterance a pure function of its input, each one is synthesised in a
forked child of a process whose engine was initialised and never used: every child starts
from the same state. A fork costs about a millisecond.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import pickle
from dataclasses import dataclass, field

import numpy as np

ESPEAK_SAMPLE_RATE = 22050

# espeak_EVENT_TYPE and flag values from speak_lib.h
EVENT_LIST_TERMINATED, EVENT_WORD, EVENT_PHONEME = 0, 1, 7
CHARS_UTF8, SSML, PHONEMES = 1, 0x10, 0x100
PARAM_RATE, PARAM_VOLUME, PARAM_PITCH, PARAM_RANGE = 1, 2, 3, 4
AUDIO_OUTPUT_SYNCHRONOUS, INIT_PHONEME_EVENTS = 2, 1

INSTALL_HINT = ("install espeak-ng: `sudo apt-get install espeak-ng` (Debian/Ubuntu), "
                "`brew install espeak-ng` (macOS) or `conda install -c conda-forge espeak-ng`; "
                "`make setup` does it for you where it may. Set SLMLIB_ESPEAK_LIB to the "
                "library's path if it is installed somewhere unusual.")


class EspeakMissing(RuntimeError):
    """The espeak-ng shared library cannot be found or loaded."""


class _Event(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint),
                ("text_position", ctypes.c_int), ("length", ctypes.c_int),
                ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", ctypes.c_char * 8)]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                             ctypes.POINTER(_Event))


@dataclass
class Rendered:
    """Audio at 22.05 kHz (float32 in [-1, 1]) with word and phoneme onsets in samples."""

    audio: np.ndarray
    word_starts: list[int] = field(default_factory=list)
    phonemes: list[tuple[str, int]] = field(default_factory=list)

    @property
    def spoken_phonemes(self) -> list[str]:
        """Phoneme mnemonics without pauses (espeak's ``_`` family)."""
        return [p for p, _ in self.phonemes if not p.startswith("_")]


def load_library() -> ctypes.CDLL:
    path = os.environ.get("SLMLIB_ESPEAK_LIB") or ctypes.util.find_library("espeak-ng") \
        or "libespeak-ng.so.1"
    try:
        return ctypes.CDLL(path)
    except OSError as err:
        raise EspeakMissing(f"cannot load the espeak-ng library ({path}): {err}. {INSTALL_HINT}") from None


class Espeak:
    """The process's espeak-ng engine. Use :func:`engine` rather than constructing it."""

    def __init__(self) -> None:
        self.lib = load_library()
        rate = self.lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 500, None, INIT_PHONEME_EVENTS)
        if rate != ESPEAK_SAMPLE_RATE:
            raise EspeakMissing(f"espeak-ng initialised at {rate} Hz, expected {ESPEAK_SAMPLE_RATE}; "
                                f"is its data folder installed? {INSTALL_HINT}")
        self._chunks: list[np.ndarray] = []
        self._events: list[tuple[int, int, str]] = []
        self._callback = _CALLBACK(self._collect)     # keep a reference: C holds a pointer
        self.lib.espeak_SetSynthCallback(self._callback)
        self.lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]

    def _collect(self, wav, n, events) -> int:
        if n > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        i = 0
        while events[i].type != EVENT_LIST_TERMINATED:
            e = events[i]
            name = e.id.decode("ascii", "replace") if e.type == EVENT_PHONEME else ""
            self._events.append((e.type, e.sample, name))
            i += 1
        return 0

    def synth(self, text: str, voice: str, rate: int = 160, pitch: int = 50, pitch_range: int = 50,
              volume: int = 100, ssml: bool = False) -> Rendered:
        """Speak ``text`` (may hold ``[[phonemes]]``; SSML if ``ssml``) with one voice.

        ``voice`` is ``lang`` or ``lang+variant``; rate in words/minute, pitch/range 0-100.
        """
        if not text.strip():
            raise ValueError("empty text: nothing to speak")
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:                                   # child: speak once, send, exit
            os.close(read_fd)
            try:
                result: object = self._synth_here(text, voice, rate, pitch, pitch_range, volume, ssml)
            except BaseException as err:              # re-raised in the parent
                result = err
            with os.fdopen(write_fd, "wb") as fh:
                fh.write(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
            os._exit(0)
        os.close(write_fd)
        with os.fdopen(read_fd, "rb") as fh:
            payload = fh.read()
        os.waitpid(pid, 0)
        if not payload:
            raise RuntimeError(f"espeak-ng crashed on {text[:60]!r}")
        result = pickle.loads(payload)
        if isinstance(result, BaseException):
            raise result
        return result

    def _synth_here(self, text: str, voice: str, rate: int, pitch: int, pitch_range: int,
                    volume: int, ssml: bool) -> Rendered:
        if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise ValueError(f"espeak-ng has no voice {voice!r} (see `espeak-ng --voices`)")
        for param, value in ((PARAM_RATE, rate), (PARAM_PITCH, pitch),
                             (PARAM_RANGE, pitch_range), (PARAM_VOLUME, volume)):
            self.lib.espeak_SetParameter(param, int(value), 0)
        self._chunks, self._events = [], []
        data = text.encode("utf-8")
        flags = CHARS_UTF8 | PHONEMES | (SSML if ssml else 0)
        status = self.lib.espeak_Synth(data, len(data) + 1, 0, 1, 0, flags, None, None)
        if status != 0:
            raise RuntimeError(f"espeak_Synth failed with status {status} for {text[:60]!r}")
        pcm = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        return Rendered(
            audio=pcm.astype(np.float32) / 32768.0,
            word_starts=[s for t, s, _ in self._events if t == EVENT_WORD],
            phonemes=[(name, s) for t, s, name in self._events if t == EVENT_PHONEME],
        )


_ENGINE: Espeak | None = None


def engine() -> Espeak:
    """The process-wide engine, created on first use."""
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = Espeak()
    return _ENGINE
