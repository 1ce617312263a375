"""Toy utterances shared by the SLM tests: speech that a tiny model can learn from the text alone."""
import numpy as np

from slmlib.model.data import Utterance

N_SPEECH = 40


def toy_utterances(n: int = 24, *, alphabet: str = "abcde", min_chars: int = 4,
                   frames_per_char: int = 2) -> list[Utterance]:
    """``n`` English utterances of ``min_chars``..``min_chars + 4`` characters over three speakers.

    Each character is voiced by ``frames_per_char`` copies of one speech token that depends on the
    character only, so the text determines the speech and a model can learn the mapping.
    """
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        text = "".join(rng.choice(list(alphabet), min_chars + i % 5)).strip() or "a"
        tokens = np.array([(ord(c) * 7) % N_SPEECH for c in text for _ in range(frames_per_char)])
        out.append(Utterance("en", text, f"s{i % 3}", tokens))
    return out
