"""A small process that owns espeak-ng and speaks each utterance in a fresh fork of itself.

espeak-ng carries state from one utterance to the next (its waveform generator's phase and
flutter counters), so the same text said twice in one process comes out a few samples
different. Forking a process whose engine was initialised and never used makes every
utterance start from the same state. This server imports only the standard library, so a fork
costs well under a millisecond, against ~15 ms for forking a worker that holds numpy, scipy
and pyworld. Protocol on stdin/stdout: length-prefixed pickles, one request, one reply.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import pickle
import struct
import sys

ESPEAK_SAMPLE_RATE = 22050
EVENT_LIST_TERMINATED, EVENT_WORD, EVENT_PHONEME = 0, 1, 7
CHARS_UTF8, SSML, PHONEMES = 1, 0x10, 0x100
PARAM_RATE, PARAM_VOLUME, PARAM_PITCH, PARAM_RANGE = 1, 2, 3, 4
AUDIO_OUTPUT_SYNCHRONOUS, INIT_PHONEME_EVENTS = 2, 1


class _Event(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint),
                ("text_position", ctypes.c_int), ("length", ctypes.c_int),
                ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", ctypes.c_char * 8)]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                             ctypes.POINTER(_Event))


def library_path() -> str:
    return (os.environ.get("SLMLIB_ESPEAK_LIB") or ctypes.util.find_library("espeak-ng")
            or "libespeak-ng.so.1")


class _Engine:
    def __init__(self) -> None:
        self.lib = ctypes.CDLL(library_path())
        rate = self.lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 500, None, INIT_PHONEME_EVENTS)
        if rate != ESPEAK_SAMPLE_RATE:
            raise OSError(f"espeak-ng initialised at {rate} Hz, expected {ESPEAK_SAMPLE_RATE}; "
                          "is its data folder installed?")
        self.pcm: list[bytes] = []
        self.events: list[tuple[int, int, str]] = []
        self._callback = _CALLBACK(self._collect)      # keep a reference: C holds a pointer
        self.lib.espeak_SetSynthCallback(self._callback)
        self.lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]

    def _collect(self, wav, n, events) -> int:
        if n > 0:
            self.pcm.append(ctypes.string_at(wav, 2 * n))
        i = 0
        while events[i].type != EVENT_LIST_TERMINATED:
            e = events[i]
            name = e.id.decode("ascii", "replace") if e.type == EVENT_PHONEME else ""
            self.events.append((e.type, e.sample, name))
            i += 1
        return 0

    def synth(self, text: str, voice: str, rate: int, pitch: int, pitch_range: int, volume: int,
              ssml: bool) -> tuple:
        if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
            return ("error", "ValueError", f"espeak-ng has no voice {voice!r} (see `espeak-ng --voices`)")
        for param, value in ((PARAM_RATE, rate), (PARAM_PITCH, pitch),
                             (PARAM_RANGE, pitch_range), (PARAM_VOLUME, volume)):
            self.lib.espeak_SetParameter(param, int(value), 0)
        data = text.encode("utf-8")
        flags = CHARS_UTF8 | PHONEMES | (SSML if ssml else 0)
        status = self.lib.espeak_Synth(data, len(data) + 1, 0, 1, 0, flags, None, None)
        if status != 0:
            return ("error", "RuntimeError", f"espeak_Synth failed with status {status}")
        return ("ok", b"".join(self.pcm), self.events)


def _read(stream) -> object:
    header = stream.read(4)
    if len(header) < 4:
        return None
    return pickle.loads(stream.read(struct.unpack("<I", header)[0]))


def _write(stream, obj: object) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack("<I", len(data)) + data)
    stream.flush()


def _speak_in_fork(engine: _Engine, request: tuple) -> tuple:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        try:
            reply = engine.synth(*request)
        except BaseException as err:                  # report, never escape the child
            reply = ("error", "RuntimeError", f"{type(err).__name__}: {err}")
        with os.fdopen(write_fd, "wb") as fh:
            fh.write(pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL))
        os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as fh:
        payload = fh.read()
    os.waitpid(pid, 0)
    return pickle.loads(payload) if payload else ("error", "RuntimeError", "espeak-ng crashed")


def main() -> None:
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    try:
        engine = _Engine()
    except OSError as err:
        _write(stdout, ("missing", f"cannot load the espeak-ng library ({library_path()}): {err}"))
        return
    _write(stdout, ("ready", ESPEAK_SAMPLE_RATE))
    while (request := _read(stdin)) is not None:
        _write(stdout, _speak_in_fork(engine, request))


if __name__ == "__main__":
    main()
