import numpy as np
import pytest

from slmlib.model.config import SLMConfig
from slmlib.model.data import Utterance, encode_examples, with_prompts
from slmlib.model.train import train_slm
from slmlib.model.vocab import SpeechVocab


@pytest.fixture(scope="session")
def espeak():
    """The espeak-ng engine; the test command installs espeak-ng, so a missing one fails."""
    from slmlib.world.espeak import engine
    return engine()


@pytest.fixture(scope="session")
def sft(tmp_path_factory):
    """A tiny SLM trained for 20 steps on 32 five-letter texts (speaker s0): (folder, vocab, utterances)."""
    vocab = SpeechVocab.build(["abcde "], ["en"], 30)
    rng = np.random.default_rng(0)
    utts = []
    for i in range(32):
        text = "".join(rng.choice(list("abcde"), 5))
        utts.append(Utterance("en", text, "s0", np.array([(ord(c) * 3) % 30 for c in text])))
    cfg = SLMConfig(hidden_size=32, layers=1, heads=2, intermediate_size=64, steps=20,
                    batch_size=8, warmup=2, lr=5e-3, bf16=False)
    folder = tmp_path_factory.mktemp("sft")
    train_slm(encode_examples(vocab, with_prompts(utts, 0.0, 4, 0)), vocab, cfg, 0, folder)
    return folder, vocab, utts
