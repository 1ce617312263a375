"""Text-aligned position ids: the layout, padding, and the same positions in training and generation."""
import numpy as np
import pytest
import torch

from slmlib.model.config import SLMConfig
from slmlib.model.data import collate, encode_examples, with_prompts
from slmlib.model.generate import Request, generate_speech
from slmlib.model.positions import POSITIONS, declare, frame_rates, position_ids
from slmlib.model.train import build_model, decoder_states, load_slm, target_logprobs, train_slm
from slmlib.model.vocab import SpeechVocab
from toy_data import N_SPEECH, toy_utterances as _utts


@pytest.fixture
def vocab():
    return SpeechVocab.build(["abcde "], ["en", "th"], N_SPEECH)


def _aligned(vocab, frames_per_char):
    """An untrained model with aligned positions at ``frames_per_char`` frames per character."""
    model = build_model(SLMConfig(hidden_size=32, layers=1, heads=2, intermediate_size=64), vocab, 0)
    declare(model, vocab, encode_examples(vocab, with_prompts(_utts(frames_per_char=frames_per_char), 0.0, 4, 0)))
    return model


def test_frame_rates_count_speech_frames_per_character(vocab):
    examples = encode_examples(vocab, with_prompts(_utts(frames_per_char=3), 1.0, 4, 0))
    assert frame_rates(examples, vocab) == {vocab.lang_id("en"): pytest.approx(3.0)}


def test_layout_puts_each_frame_at_its_character(vocab):
    ids, _ = vocab.training_example("en", "abcd", np.arange(8), prompt=np.array([1, 2]))
    ids = torch.tensor([ids])
    pos = position_ids(_aligned(vocab, 2), ids, torch.ones_like(ids))[0].tolist()
    # <bos> <en> <prompt> p p <text> | a b c d | <speech> s1..s8 <eos>
    assert pos[:6] == [0, 1, 2, 3, 4, 5]
    assert pos[6:10] == [6, 8, 10, 12]                 # p0 + (j - 1/2) * 2
    assert pos[10:] == list(range(5, 5 + 10))          # <speech> back at p0, then +1 per frame
    assert position_ids(build_model(SLMConfig(hidden_size=32, layers=1, heads=2, intermediate_size=64),
                                    vocab, 0), ids, torch.ones_like(ids)) is None


def test_left_padding_does_not_move_positions(vocab):
    model = _aligned(vocab, 3)
    short = vocab.prefix("en", "ab")
    long = vocab.prefix("en", "abcde", np.array([3, 4, 5]))
    ids = torch.full((2, len(long)), vocab.pad_id)
    mask = torch.zeros_like(ids)
    ids[0, -len(short):], mask[0, -len(short):] = torch.tensor(short), 1
    ids[1], mask[1] = torch.tensor(long), 1
    pos = position_ids(model, ids, mask)
    alone = position_ids(model, torch.tensor([short]), torch.ones(1, len(short), dtype=torch.long))
    assert pos[0, -len(short):].tolist() == alone[0].tolist()


def test_missing_markers_are_an_error(vocab):
    ids = torch.tensor([[vocab.id("<bos>"), vocab.lang_id("en"), vocab.speech_offset]])
    with pytest.raises(ValueError, match="<text> and <speech>"):
        position_ids(_aligned(vocab, 2), ids, torch.ones_like(ids))


def test_generation_sees_the_positions_training_used(vocab, tmp_path):
    """Greedy tokens are the argmax of the training forward over the same sequence: the two
    paths lay out positions alike (with plain positions in generation this fails)."""
    cfg = SLMConfig(hidden_size=32, layers=1, heads=2, intermediate_size=64, steps=80, batch_size=8,
                    warmup=2, lr=5e-3, bf16=False, positions="aligned")
    examples = encode_examples(vocab, with_prompts(_utts(), 0.3, 4, 0))
    train_slm(examples, vocab, cfg, 0, tmp_path)
    model, v = load_slm(tmp_path)
    assert getattr(model.config, POSITIONS)["rates"] == {str(v.lang_id("en")): pytest.approx(2.0)}
    reqs = [Request("en", t) for t in ("abc", "abcdeab", "da")]
    out = generate_speech(model, v, reqs, temperature=0.0, top_p=1.0, tokens_per_char=2.0,
                          batch_size=3, seed=0)
    for r, speech in zip(reqs, out):
        ids, labels = v.training_example(r.lang, r.text, speech)
        batch = collate([(ids, labels)], v.pad_id)
        with torch.no_grad():
            logits = model.get_output_embeddings()(decoder_states(model, batch))[0]
        start = len(v.prefix(r.lang, r.text)) - 1
        allowed = logits[start:start + len(speech), v.speech_offset:]
        chosen = torch.tensor(speech)
        best = allowed.max(-1).values
        assert torch.allclose(allowed[torch.arange(len(speech)), chosen], best, atol=1e-4)
        logp, mask = target_logprobs(model, batch)
        assert torch.isfinite(logp[mask]).all()
