import os
import subprocess
import sys

import numpy as np
import pytest

from slmlib.prosody import f0_contour
from slmlib.world.render import UtteranceSpec, render, resample_to_16k
from slmlib.world.voices import real_speakers, synthetic_systems

WORDS = ("the", "small", "dog", "will", "find", "a", "red", "ball", "today")


def _spec(voice, seed=1, faults=(), emotion="neutral", words=WORDS):
    return UtteranceSpec("u", "train", words, words, voice, emotion, seed, faults)


@pytest.fixture(scope="module")
def voices():
    return real_speakers("en", 1, (160, 180), 0)[0], synthetic_systems("en", 1, (160, 170), 1.0, 0)[0]


def test_resampling_keeps_duration_and_pitch():
    t = np.arange(22050) / 22050
    y = resample_to_16k(np.sin(2 * np.pi * 200 * t))
    assert len(y) == 16000                       # 1 s stays 1 s (a wrong ratio once halved it)
    spectrum = np.abs(np.fft.rfft(y))
    assert abs(np.argmax(spectrum) * 16000 / len(y) - 200) < 2
    with pytest.raises(ValueError, match="22050"):
        resample_to_16k(y, rate=16000)


def test_rendered_speech_has_a_natural_rate_and_register(espeak, voices):
    for voice in voices:
        audio = render(_spec(voice)).audio
        words_per_s = len(WORDS) / (len(audio) / 16000)
        assert 2.0 < words_per_s < 4.5, (voice.name, words_per_s)
        _, f0 = f0_contour(audio)
        assert 60 < np.median(f0[f0 > 0]) < 400, voice.name


def test_rendering_is_deterministic(espeak, voices):
    real, _ = voices
    a, b = render(_spec(real, seed=5)).audio, render(_spec(real, seed=5)).audio
    assert np.array_equal(a, b)
    assert not np.array_equal(a, render(_spec(real, seed=6)).audio)


def test_emotions_move_pitch_the_intended_way(espeak, voices):
    real, _ = voices
    median = {}
    for emotion in ("sad", "neutral", "surprised"):
        _, f0 = f0_contour(render(_spec(real, emotion=emotion)).audio)
        median[emotion] = np.median(f0[f0 > 0])
    assert median["sad"] < median["neutral"] < median["surprised"]


def test_faults_change_what_is_said(espeak, voices):
    _, system = voices
    clean = render(_spec(system))
    assert clean.spoken == list(WORDS) and clean.words_missing == 0
    assert len(render(_spec(system, faults=("drop",))).spoken) == len(WORDS) - 1
    assert len(render(_spec(system, faults=("loop",))).spoken) >= len(WORDS) + 2
    assert render(_spec(system, faults=("mispronounce",))).spoken != list(WORDS)
    truncated = render(_spec(system, faults=("truncate",))).audio
    assert len(truncated) < 0.8 * len(clean.audio)


def test_empty_text_and_unknown_voice_are_refused(espeak, voices):
    real, _ = voices
    with pytest.raises(ValueError, match="empty text"):
        render(_spec(real, words=()))
    with pytest.raises(ValueError, match="no voice"):
        espeak.synth("hello", "xx-nosuchlanguage")


def test_missing_espeak_names_the_fix():
    code = "from slmlib.world.espeak import engine; engine()"
    env = {**os.environ, "SLMLIB_ESPEAK_LIB": "/nonexistent/libespeak-ng.so.1"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert proc.returncode != 0
    assert "EspeakMissing" in proc.stderr and "apt-get install espeak-ng" in proc.stderr
