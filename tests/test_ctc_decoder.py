import math

import numpy as np
import pytest

from slmlib.judges.asr import CharVocab
from slmlib.judges.ctc_decoder import CharNgramLM, beam_decode, best_path

CHARS = ["a", "b", "c", " "]           # symbol i + 1; 0 is the blank


def greedy_decode(logp: np.ndarray) -> str:
    return CharVocab(CHARS).decode(best_path(logp))


def posteriors(frames: list[dict[int, float]]) -> np.ndarray:
    """Frames of {symbol: probability}, the rest spread over the other symbols."""
    out = np.full((len(frames), len(CHARS) + 1), 1e-6)
    for t, frame in enumerate(frames):
        for i, p in frame.items():
            out[t, i] = p
    return np.log(out / out.sum(1, keepdims=True))


@pytest.mark.parametrize("order", [1, 3, 6])
def test_lm_is_a_distribution_over_the_characters_and_the_end(order):
    lm = CharNgramLM(["abc ab", "cab", "a b c"], order)
    for history in ["", "a", "ab", "zzz", "cab a"]:
        total = sum(math.exp(lm.log_prob(history, c)) for c in CHARS) + math.exp(lm.end_of_text(history))
        unseen = math.exp(lm.log_prob(history, "z"))       # the mass kept for unseen characters
        assert total + unseen == pytest.approx(1.0, abs=1e-9)


def test_lm_learns_spelling_and_rejects_bad_input():
    lm = CharNgramLM(["abc", "abc abc", "cba"], 4)
    assert lm.log_prob("ab", "c") > lm.log_prob("ab", "a") > lm.log_prob("ab", "z")
    assert lm.end_of_text("abc") > lm.end_of_text("ab")
    with pytest.raises(ValueError, match="order"):
        CharNgramLM(["abc"], 0)
    with pytest.raises(ValueError, match="at least one"):
        CharNgramLM([], 3)


def test_greedy_merges_repeats_and_drops_blanks():
    logp = posteriors([{1: 0.9}, {1: 0.9}, {0: 0.9}, {1: 0.9}, {2: 0.9}, {0: 0.9}, {2: 0.9}])
    assert greedy_decode(logp) == "aabb"
    assert greedy_decode(posteriors([{0: 0.9}] * 3)) == ""


def test_beam_without_lm_weight_follows_the_acoustics():
    lm = CharNgramLM(["cccc"], 3)
    logp = posteriors([{1: 0.9}, {0: 0.9}, {1: 0.9}, {2: 0.8}, {0: 0.9}, {3: 0.9}])
    assert beam_decode(logp, CHARS, lm, 0.0, 0.0) == greedy_decode(logp) == "aabc"


def test_the_lm_settles_what_the_acoustics_leave_open():
    # the middle frame is a near tie between "b" and "c"; the LM has only ever seen "abc"
    logp = posteriors([{1: 0.9}, {0: 0.9}, {2: 0.45, 3: 0.5}, {0: 0.9}, {3: 0.9}])
    assert greedy_decode(logp) == "acc"
    assert beam_decode(logp, CHARS, CharNgramLM(["abc"] * 5, 3), 1.0, 0.0) == "abc"
