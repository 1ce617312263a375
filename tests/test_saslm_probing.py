"""The emotion probes and the context swap of notebook 05 on made-up inputs whose answer is known."""
import numpy as np
import pandas as pd
import pytest

from slmlib.saslm.pipeline import token_finding
from slmlib.saslm.probing import probe_accuracy, token_probe

CLASSES = 3


def _dialogues(n: int, signal: float, seed: int) -> tuple[list[np.ndarray], np.ndarray]:
    """``n`` replies of 4-12 tokens in 8 dimensions; each token is its dialogue's class centre
    times ``signal`` plus unit noise."""
    rng = np.random.default_rng(seed)
    centres = np.eye(CLASSES, 8) * 3.0
    y = rng.integers(0, CLASSES, n)
    return [signal * centres[c] + rng.normal(size=(rng.integers(4, 13), 8)) for c in y], y


def test_a_token_probe_reads_emotion_where_every_token_carries_it():
    train, train_y = _dialogues(60, 1.0, 0)
    test, test_y = _dialogues(40, 1.0, 1)
    read = token_probe(train, train_y, test, test_y)
    assert read["token"][0] > 0.85 and read["vote"][0] == 1.0       # votes over a reply beat single tokens
    assert read["train_tokens"] == sum(len(t) for t in train)
    acc, lo, hi = probe_accuracy(np.stack([t.mean(0) for t in train]), train_y,
                                 np.stack([t.mean(0) for t in test]), test_y)
    assert acc == 1.0 and lo <= acc <= hi


def test_a_token_probe_on_noise_is_at_chance_and_the_draw_is_capped():
    train, train_y = _dialogues(60, 0.0, 0)
    test, test_y = _dialogues(60, 0.0, 1)
    read = token_probe(train, train_y, test, test_y, max_train_tokens=100)
    acc, lo, hi = read["token"]
    assert read["train_tokens"] == 100 and lo < 1 / CLASSES < hi
    with pytest.raises(ValueError, match="at least one reply token"):
        token_probe(train + [np.zeros((0, 8))], np.append(train_y, 0), test, test_y)


def _tokens(h: tuple[float, float, float], z: tuple[float, float, float]) -> pd.DataFrame:
    rows = []
    for rep, (acc, lo, hi) in (("h per token", h), ("z per token", z)):
        for read in ("one reply token", "token probabilities averaged over the reply"):
            rows.append({"representation": rep, "read from": read, "accuracy": acc, "low": lo, "high": hi,
                         "chance": 1 / 6})
    return pd.DataFrame(rows)


def test_the_token_finding_says_where_the_emotion_is_lost():
    assert "does not leave it" in token_finding(_tokens((0.45, 0.40, 0.50), (0.17, 0.15, 0.19)))
    assert "z keeps 50 % of h's margin" in token_finding(_tokens((0.5, 0.45, 0.55), ((0.5 + 1 / 6) / 2, 0.3, 0.4)))
    assert "not even the bridge's input" in token_finding(_tokens((0.17, 0.15, 0.19), (0.17, 0.15, 0.19)))


def test_swapped_contexts_come_from_dialogues_of_another_emotion():
    from slmlib.saslm.pipeline import swapped

    test = pd.DataFrame({"id": list("abcdef"), "context": [f"c{i}" for i in range(6)],
                         "emotion": ["happy", "happy", "sad", "sad", "angry", "calm"]})
    out = swapped(test, seed=3)
    assert list(out.own_emotion) == list(test.emotion) and (out.emotion != out.own_emotion).all()
    donor = out.context.str[1:].astype(int)                     # each context travels with its emotion
    assert (test.emotion.to_numpy()[donor] == out.emotion).all()
    assert swapped(test, seed=3).equals(out)
