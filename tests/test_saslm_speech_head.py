"""SASLM's speech head: intent enters only at text positions, through inputs_embeds."""
import numpy as np
import pytest
import torch

from slmlib.model.config import SLMConfig
from slmlib.model.data import collate
from slmlib.model.train import build_model, target_logprobs
from slmlib.model.vocab import SpeechVocab
from slmlib.saslm.speech_head import IntentSpeechHead, scatter_intent, text_mask


@pytest.fixture(scope="module")
def tiny():
    vocab = SpeechVocab.build(["abc "], ["en"], 20)
    cfg = SLMConfig(hidden_size=16, layers=1, heads=2, intermediate_size=32, bf16=False)
    lm = build_model(cfg, vocab, 0).eval()
    examples = [vocab.training_example("en", t, np.arange(5) % 20) for t in ("abc", "ba")]
    return vocab, lm, collate(examples, vocab.pad_id)


def _intent(batch, vocab, width=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    mask = text_mask(batch["input_ids"], vocab)
    return scatter_intent(mask, [torch.randn(int(m.sum()), width, generator=g) for m in mask]), mask


def test_intent_reaches_only_text_positions_and_starts_neutral(tiny):
    vocab, lm, batch = tiny
    intent, mask = _intent(batch, vocab)
    assert mask.sum(1).tolist() == [3, 2]
    e = lm.get_input_embeddings()(batch["input_ids"])
    plain, _ = IntentSpeechHead(lm, vocab, 6, "plain").embed(batch["input_ids"], intent)
    assert torch.equal(plain, e)
    add, _ = IntentSpeechHead(lm, vocab, 6, "add").embed(batch["input_ids"], intent)
    assert torch.allclose(add, e)                                  # zero-initialised projection
    head = IntentSpeechHead(lm, vocab, 6, "vib")
    vib, extra = head.embed(batch["input_ids"], intent)
    assert torch.equal(vib[~mask], e[~mask])                        # speech, specials untouched
    ln = torch.nn.functional.layer_norm(e, (e.shape[-1],))
    assert torch.allclose(vib[mask], ln[mask], atol=1e-6)           # AdaLN starts at LayerNorm(e)
    assert extra["mu"].shape == (*batch["input_ids"].shape, 16)
    with pytest.raises(ValueError, match="bridge mode"):
        IntentSpeechHead(lm, vocab, 6, "concat")
    with pytest.raises(ValueError, match="intent states"):
        scatter_intent(mask, [torch.zeros(1, 6), torch.zeros(2, 6)])


def test_the_loss_and_generation_run_through_inputs_embeds(tiny):
    vocab, lm, batch = tiny
    head = IntentSpeechHead(lm, vocab, 6, "vib")
    intent, _ = _intent(batch, vocab)
    ref, m = target_logprobs(lm, batch)
    same, _ = target_logprobs(lm, batch, lm.get_input_embeddings()(batch["input_ids"]))
    assert torch.allclose(ref, same, atol=1e-5)
    # a step on the loss moves the bridge (AdaLN's zero-initialised layer gets a gradient)
    embeds, _ = head.embed(batch["input_ids"], intent)
    logp, mask = target_logprobs(lm, batch, embeds)
    (-logp.sum() / mask.sum()).backward()
    assert head.adaln.to_scale_shift.weight.grad.abs().sum() > 0
    lm.zero_grad()
    # transformers' generate from inputs_embeds continues exactly like generate from ids
    prefix = torch.tensor([vocab.prefix("en", "abc")])
    with torch.inference_mode():
        from_ids = lm.generate(input_ids=prefix, max_new_tokens=6, do_sample=False,
                               pad_token_id=vocab.pad_id)[:, prefix.shape[1]:]
        from_embeds = lm.generate(inputs_embeds=lm.get_input_embeddings()(prefix), max_new_tokens=6,
                                  do_sample=False, pad_token_id=vocab.pad_id,
                                  attention_mask=torch.ones_like(prefix))
    assert torch.equal(from_ids, from_embeds)
