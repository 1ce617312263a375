"""espeak-ng through ctypes on its shared library, served by a small helper process.

Calling the C library directly is about 4x faster than a process per utterance and, through
its event callback, gives every word's and phoneme's sample position for free (the pip
bindings only wrap the command line). The library keeps state between utterances, so it
runs in :mod:`slmlib.world.espeak_server`, which speaks each utterance in a fresh fork of
itself: the same input always gives the same samples. One server per process that needs it.
"""
from __future__ import annotations

import atexit
import subprocess
import sys
from dataclasses import dataclass, field

import numpy as np

from slmlib.world.espeak_server import EVENT_PHONEME, EVENT_WORD, _read, _write

INSTALL_HINT = ("install espeak-ng: `sudo apt-get install espeak-ng` (Debian/Ubuntu), "
                "`brew install espeak-ng` (macOS) or `conda install -c conda-forge espeak-ng`; "
                "`make setup` does it for you where it may. Set SLMLIB_ESPEAK_LIB to the "
                "library's path if it is installed somewhere unusual.")


class EspeakMissing(RuntimeError):
    """The espeak-ng shared library cannot be found or loaded."""


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


class Espeak:
    """A client of one espeak server process. Use :func:`engine` rather than constructing it."""

    def __init__(self) -> None:
        self._proc = subprocess.Popen([sys.executable, "-m", "slmlib.world.espeak_server"],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        hello = _read(self._proc.stdout)
        if not hello or hello[0] != "ready":
            detail = hello[1] if hello else "the espeak server exited"
            self.close()
            raise EspeakMissing(f"{detail}. {INSTALL_HINT}")
        atexit.register(self.close)

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.stdin.close()
            self._proc.wait(timeout=10)

    def synth(self, text: str, voice: str, rate: int = 160, pitch: int = 50, pitch_range: int = 50,
              volume: int = 100, ssml: bool = False) -> Rendered:
        """Speak ``text`` (may hold ``[[phonemes]]``; SSML if ``ssml``) with one voice.

        ``voice`` is ``lang`` or ``lang+variant``; rate in words/minute, pitch/range 0-100.
        """
        if not text.strip():
            raise ValueError("empty text: nothing to speak")
        _write(self._proc.stdin, (text, voice, int(rate), int(pitch), int(pitch_range),
                                  int(volume), bool(ssml)))
        reply = _read(self._proc.stdout)
        if reply is None:
            raise RuntimeError("the espeak server died; rerun (finished work is cached)")
        if reply[0] == "error":
            kind = ValueError if reply[1] == "ValueError" else RuntimeError
            raise kind(f"{reply[2]} (text {text[:60]!r})")
        _, pcm, events = reply
        return Rendered(
            audio=np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768.0,
            word_starts=[s for t, s, _ in events if t == EVENT_WORD],
            phonemes=[(name, s) for t, s, name in events if t == EVENT_PHONEME],
        )


_ENGINE: Espeak | None = None


def engine() -> Espeak:
    """The process-wide engine, created on first use."""
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = Espeak()
    return _ENGINE
