"""Run by test_saslm_model under torchrun: a tiny SASLM trains stage 1 for a few steps with
each process taking its share of the batch; each process writes its parameters' checksums."""
import json
import sys

import numpy as np

from slmlib.model.config import SLMConfig
from slmlib.model.train import build_model
from slmlib.model.vocab import SpeechVocab
from slmlib.saslm.model import SASLM, Dialogue, train_stage
from slmlib.saslm.speech_head import IntentSpeechHead
from slmlib.saslm.thinker import pretrain_thinker

if __name__ == "__main__":
    from accelerate import PartialState

    sys.path.insert(0, sys.argv[2])
    from test_saslm_model import CFG, CONTEXTS, REPLIES

    rng = np.random.default_rng(0)
    items = [Dialogue.of(c, r, rng.integers(0, 27, size=2 * len(r)), e, None)
             for e, (c, r) in enumerate(zip(CONTEXTS, REPLIES))] * 2
    thinker, _ = pretrain_thinker([d.text for d in items], CFG, 0)
    vocab = SpeechVocab.build(REPLIES, ["en"], 27)
    lm = build_model(SLMConfig(hidden_size=16, layers=1, heads=2, intermediate_size=32, bf16=False), vocab, 0)
    model = SASLM(thinker, IntentSpeechHead(lm, vocab, thinker.hidden_size, "vib", 4), ["a", "b", "c", "d"])
    log = train_stage(model, items, CFG, 1, 3, 0, log_every=1)
    state = PartialState()
    sums = {n: float(p.double().sum()) for n, p in model.named_parameters()}
    with open(f"{sys.argv[1]}/rank{state.process_index}.json", "w") as f:
        json.dump({"sums": sums, "log": log, "processes": state.num_processes}, f)
