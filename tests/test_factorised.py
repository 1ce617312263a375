"""The factorised speech embedding and head: the arithmetic, saving and loading, and errors."""
import dataclasses

import pytest
import torch

from slmlib.config import canonical_json
from slmlib.model.config import SLMConfig
from slmlib.model.factorised import FACTORS, FactorisedEmbedding, FactorisedHead
from slmlib.model.train import build_model, load_slm, train_slm
from slmlib.model.vocab import SpeechVocab

CONTENT, PITCH = 6, 3


@pytest.fixture
def vocab():
    return SpeechVocab.build(["abc de"], ["en"], CONTENT * PITCH, pitch_codes=PITCH)


def _cfg(**kw):
    return SLMConfig(**{"hidden_size": 16, "layers": 1, "heads": 2, "intermediate_size": 32, "bf16": False,
                        "speech_head": "factorised", **kw})


def test_speech_token_is_content_plus_pitch(vocab):
    torch.manual_seed(0)
    emb = FactorisedEmbedding(vocab.speech_offset, CONTENT, PITCH, 8, std=1.0)
    c, p = 4, 2
    token = vocab.speech_offset + c * PITCH + p
    ids = torch.tensor([[vocab.id("<bos>"), vocab.speech_offset - 1, token]])
    out = emb(ids)[0]
    assert torch.allclose(out[2], emb.content[c] + emb.pitch[p])
    assert torch.allclose(out[0], emb.other[vocab.id("<bos>")])
    # the full table agrees with the lookup row for row
    assert emb.weight.shape == (vocab.size, 8)
    assert torch.allclose(emb.weight[ids[0]], out)


def test_head_scores_pairs_and_normalises_over_the_vocabulary(vocab):
    torch.manual_seed(0)
    head = FactorisedHead(vocab.speech_offset, CONTENT, PITCH, 8, std=1.0)
    with torch.no_grad():
        head.pairs.normal_()
    h = torch.randn(5, 8)
    logits = head(h)
    assert logits.shape == (5, vocab.size)
    c, p = 1, 2
    expected = h @ head.content[c] + h @ head.pitch[p] + head.pairs[c, p]
    assert torch.allclose(logits[:, vocab.speech_offset + c * PITCH + p], expected, atol=1e-5)
    assert torch.allclose(logits[:, 3], h @ head.other[3], atol=1e-5)


def test_factorised_model_saves_loads_and_costs_less(vocab, tmp_path):
    from slmlib.model.data import collate
    from slmlib.model.train import target_logprobs

    examples = [vocab.training_example("en", "abc", torch.arange(6).numpy() * PITCH)] * 8
    train_slm(examples, vocab, _cfg(steps=3, batch_size=4, warmup=1), 0, tmp_path / "m")
    model, loaded_vocab = load_slm(tmp_path / "m")
    assert loaded_vocab.pitch_codes == PITCH
    assert getattr(model.config, FACTORS) == {"offset": vocab.speech_offset, "n_content": CONTENT, "n_pitch": PITCH}
    assert isinstance(model.get_output_embeddings(), FactorisedHead)
    # a second load gives the same log-probabilities (nothing re-initialised at load)
    again, _ = load_slm(tmp_path / "m")
    batch = collate(examples[:2], vocab.pad_id)
    assert torch.allclose(target_logprobs(model, batch)[0], target_logprobs(again, batch)[0])

    big = SpeechVocab.build(["abc"], ["en"], 64 * 13, pitch_codes=13)
    sizes = {head: sum(p.numel() for p in build_model(_cfg(speech_head=head), big, 0).parameters())
             for head in ("full", "factorised")}
    assert sizes["factorised"] < sizes["full"] / 2


def test_errors(vocab):
    with pytest.raises(ValueError, match="speech_head"):
        build_model(_cfg(speech_head="tied"), vocab, 0)
    with pytest.raises(ValueError, match="content x pitch"):
        build_model(_cfg(), dataclasses.replace(vocab, pitch_codes=1), 0)
    with pytest.raises(ValueError, match="content x pitch"):
        build_model(_cfg(), dataclasses.replace(vocab, pitch_codes=4), 0)


def test_vocab_layout_keeps_old_cache_keys(vocab, tmp_path):
    plain = SpeechVocab.build(["abc de"], ["en"], CONTENT * PITCH)
    old = {"languages": list(plain.languages), "characters": list(plain.characters), "n_speech": CONTENT * PITCH}
    assert canonical_json(plain) == canonical_json(old)
    assert canonical_json(vocab) != canonical_json(plain)
    vocab.save_pretrained(tmp_path)
    assert SpeechVocab.from_pretrained(tmp_path) == vocab
