"""The SLM: vocabulary and sequence layout, batching, training with resume, generation."""
import numpy as np
import pytest
import torch

from slmlib.model.config import SLMConfig
from slmlib.model.data import bucketed_batches, collate, encode_examples, with_prompts
from slmlib.model.generate import Request, generate_speech, max_speech_tokens
from slmlib.model.train import TrainingError, batch_schedule, load_slm, target_logprobs, train_slm
from slmlib.model.vocab import IGNORE, SpeechVocab, VocabError
from toy_data import N_SPEECH, toy_utterances


@pytest.fixture
def vocab():
    return SpeechVocab.build(["abc de", "สวัสดี"], ["th", "en"], N_SPEECH)


def _utts(n=24):
    """Texts with spaces (the tokenizer test splits words), 6 to 10 characters."""
    return toy_utterances(n, alphabet="abcde ", min_chars=6)


def test_sequence_layout_and_labels(vocab):
    ids, labels = vocab.training_example("th", "สวัสดี", np.array([3, 5]), prompt=np.array([7]))
    assert ids[0] == vocab.id("<bos>") and ids[1] == vocab.lang_id("th")
    assert ids[2] == vocab.id("<prompt>") and ids[3] == vocab.speech_offset + 7
    assert ids[-3:] == [vocab.speech_offset + 3, vocab.speech_offset + 5, vocab.eos_id]
    # loss only on the speech tokens and <eos>
    assert [l for l in labels if l != IGNORE] == ids[-3:]
    assert vocab.speech_from_ids(ids[-3:] + [vocab.speech_offset + 1]).tolist() == [3, 5]


def test_vocab_errors_and_roundtrip(vocab, tmp_path):
    with pytest.raises(VocabError, match="empty text"):
        vocab.text_ids("   ")
    with pytest.raises(VocabError, match="speech tokens must lie"):
        vocab.speech_ids(np.array([N_SPEECH]))
    with pytest.raises(VocabError, match="language"):
        vocab.lang_id("xx")
    vocab.save_pretrained(tmp_path)
    assert SpeechVocab.from_pretrained(tmp_path) == vocab
    assert vocab.text_ids("z") == [vocab.id("<unk>")]


def test_prompts_come_from_other_utterances_of_the_speaker():
    utts = _utts()
    pairs = with_prompts(utts, prob=1.0, max_tokens=4, seed=0)
    for u, p in pairs:
        assert p is not None and len(p) <= 4
        same = [v for v in utts if v.speaker == u.speaker and v is not u]
        assert any(np.array_equal(p, v.tokens[:4]) for v in same)


def test_bucketed_batches_cover_every_example_once():
    lengths = np.random.default_rng(0).integers(5, 100, 103)
    batches = bucketed_batches(lengths, 8, np.random.default_rng(1), bucket_batches=4)
    assert sorted(np.concatenate(batches).tolist()) == list(range(103))
    # sorted within buckets: less padding than random batches
    pad = sum(lengths[b].max() * len(b) - lengths[b].sum() for b in batches)
    rnd = np.random.default_rng(1).permutation(103)
    pad_random = sum(lengths[b].max() * len(b) - lengths[b].sum()
                     for b in np.array_split(rnd, len(batches)))
    assert pad < pad_random


def test_target_logprobs_match_the_hf_loss(vocab):
    import transformers

    cfg = transformers.LlamaConfig(vocab_size=vocab.size, hidden_size=32, num_hidden_layers=1,
                                   num_attention_heads=2, intermediate_size=64)
    model = transformers.AutoModelForCausalLM.from_config(cfg)
    batch = collate(encode_examples(vocab, with_prompts(_utts(4), 0.5, 3, 0)), vocab.pad_id)
    logp, mask = target_logprobs(model, batch)
    ours = -logp.sum() / mask.sum()
    assert torch.allclose(ours, model(**batch).loss, atol=1e-5)


@pytest.mark.parametrize("head,positions", [("full", "sequential"), ("factorised", "sequential"),
                                            ("full", "aligned")])
def test_train_resume_and_generate(vocab, tmp_path, head, positions):
    import dataclasses

    vocab = dataclasses.replace(vocab, pitch_codes=4)
    cfg = SLMConfig(hidden_size=32, layers=1, heads=2, intermediate_size=64, steps=12,
                    batch_size=8, warmup=2, lr=5e-3, checkpoint_every=6, bf16=False, speech_head=head,
                    positions=positions)
    examples = encode_examples(vocab, with_prompts(_utts(), 0.3, 4, 0))
    full = train_slm(examples, vocab, cfg, 0, tmp_path / "a", resume_dir=None, log_every=1)
    assert full[-1]["loss"] < full[0]["loss"]
    # interrupted after the first checkpoint, then resumed: same weights as uninterrupted
    resume = tmp_path / "resume"
    short = SLMConfig(**{**cfg.__dict__, "steps": 12})
    with pytest.raises(KeyboardInterrupt):
        _interrupt_after(7, examples, vocab, short, tmp_path / "b", resume)
    assert (resume / "checkpoint.pt").exists()
    train_slm(examples, vocab, short, 0, tmp_path / "b", resume_dir=resume, log_every=1)
    a, _ = load_slm(tmp_path / "a")
    b, _ = load_slm(tmp_path / "b")
    for (n, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        assert torch.allclose(p, q, atol=1e-6), n

    model, v = load_slm(tmp_path / "a")
    reqs = [Request("en", u.text) for u in _utts(6)]
    greedy = generate_speech(model, v, reqs, temperature=0.0, top_p=1.0, tokens_per_char=2.0,
                             batch_size=4, seed=0)
    again = generate_speech(model, v, reqs, temperature=0.0, top_p=1.0, tokens_per_char=2.0,
                            batch_size=4, seed=0, static_cache=False)
    assert all(np.array_equal(x, y) for x, y in zip(greedy, again))
    for r, g in zip(reqs, greedy):
        assert len(g) <= max_speech_tokens(r.text, 2.0)
        assert ((g >= 0) & (g < N_SPEECH)).all()
    sampled = generate_speech(model, v, reqs, temperature=1.0, top_p=0.9, tokens_per_char=2.0,
                              batch_size=4, seed=3)
    same = generate_speech(model, v, reqs, temperature=1.0, top_p=0.9, tokens_per_char=2.0,
                           batch_size=4, seed=3)
    assert all(np.array_equal(x, y) for x, y in zip(sampled, same))


def _interrupt_after(step, examples, vocab, cfg, out, resume):
    """Run training and raise KeyboardInterrupt once ``step`` optimizer steps are done."""
    import slmlib.model.train as train_mod

    calls = {"n": 0}
    original = torch.optim.AdamW.step

    def step_then_maybe_stop(self, *a, **k):
        calls["n"] += 1
        if calls["n"] > step:
            raise KeyboardInterrupt
        return original(self, *a, **k)

    torch.optim.AdamW.step = step_then_maybe_stop
    try:
        train_mod.train_slm(examples, vocab, cfg, 0, out, resume_dir=resume, log_every=1)
    finally:
        torch.optim.AdamW.step = original


def test_schedule_and_errors():
    cfg = SLMConfig(steps=10, batch_size=4)
    assert len(batch_schedule(np.arange(7), cfg, 0)) == 10
    assert all(np.array_equal(a, b) for a, b in zip(batch_schedule(np.arange(7), cfg, 0),
                                                     batch_schedule(np.arange(7), cfg, 0)))
    with pytest.raises(TrainingError, match="no training examples"):
        batch_schedule(np.array([]), cfg, 0)


@pytest.fixture
def backbone(tmp_path):
    """A tiny random Qwen2 with its own byte-level BPE tokenizer, saved like a real backbone."""
    import transformers

    from slmlib.saslm.thinker import train_tokenizer

    def save(tied: bool):
        folder = tmp_path / f"qwen-{'tied' if tied else 'untied'}"
        tok = train_tokenizer([u.text for u in _utts(48)] * 4, 300)
        config = transformers.Qwen2Config(vocab_size=len(tok), hidden_size=32, num_hidden_layers=1,
                                          num_attention_heads=2, num_key_value_heads=2, intermediate_size=64,
                                          tie_word_embeddings=tied)
        transformers.Qwen2ForCausalLM(config).save_pretrained(folder)
        tok.save_pretrained(folder)
        return folder
    return save


@pytest.mark.parametrize("tied", [True, False])
def test_pretrained_backbone_keeps_its_tokenizer_and_tunes_with_lora(backbone, tmp_path, tied):
    import transformers

    from slmlib.model.vocab import PretrainedTextVocab, build_vocab

    path = backbone(tied)
    vocab = build_vocab([], ["en"], N_SPEECH, str(path))
    assert isinstance(vocab, PretrainedTextVocab)
    tok = transformers.AutoTokenizer.from_pretrained(path)
    ids, labels = vocab.training_example("en", "abc de", np.array([3, 5]))
    text = [i for i in ids if vocab.is_text(i)]
    assert text == tok("abc de", add_special_tokens=False)["input_ids"]          # the backbone's own ids
    assert ids[0] == vocab.id("<bos>") >= len(tok) and ids[-1] == vocab.eos_id and vocab.size == len(tok) + 7 + 1 + N_SPEECH

    before = transformers.AutoModelForCausalLM.from_pretrained(path)
    cfg = SLMConfig(model_name_or_path=str(path), steps=6, batch_size=8, warmup=1, lr=1e-2, bf16=False,
                    lora_rank=4, checkpoint_every=100)
    log = train_slm(encode_examples(vocab, with_prompts(_utts(), 0.3, 4, 0)), vocab, cfg, 0, tmp_path / "out",
                    log_every=1)
    assert np.isfinite([e["loss"] for e in log]).all()
    model, loaded = load_slm(tmp_path / "out")                        # merged: plain HF, no peft needed
    assert (type(loaded), loaded.n_text, loaded.size) == (PretrainedTextVocab, vocab.n_text, vocab.size)
    assert loaded.text_ids("abc de") == vocab.text_ids("abc de")      # the tokenizer travels with the model
    old = before.get_input_embeddings().weight
    new = model.get_input_embeddings().weight
    assert torch.allclose(new[:len(old)], old)                        # the backbone's text rows are frozen
    assert not torch.allclose(new[vocab.id("<pad>"):], new[vocab.id("<pad>"):].mean(0, keepdim=True).expand_as(
        new[vocab.id("<pad>"):]))
    lin = "model.layers.0.mlp.down_proj.weight"
    assert not torch.allclose(dict(model.named_parameters())[lin], dict(before.named_parameters())[lin])  # merged LoRA
    out = generate_speech(model, loaded, [Request("en", "abc")], temperature=0.0, top_p=1.0, tokens_per_char=2.0,
                          batch_size=1, seed=0)
    assert out[0].max(initial=0) < N_SPEECH


def test_lora_needs_a_pretrained_backbone(vocab, tmp_path):
    cfg = SLMConfig(hidden_size=32, layers=1, heads=2, intermediate_size=64, steps=2, batch_size=4, bf16=False,
                    lora_rank=4)
    with pytest.raises(ValueError, match="model_name_or_path"):
        train_slm(encode_examples(vocab, with_prompts(_utts(8), 0.0, 4, 0)), vocab, cfg, 0, tmp_path / "x")


def test_training_part_ignores_sampling_settings():
    from slmlib.config import canonical_json

    cfg = SLMConfig()
    assert canonical_json(cfg.training_part()) == canonical_json(cfg)      # default keys unchanged
    hotter = SLMConfig(temperature=0.3, top_p=0.5, tokens_per_char=3.0)
    assert canonical_json(hotter.training_part()) == canonical_json(cfg)
    assert canonical_json(SLMConfig(steps=800).training_part()) != canonical_json(cfg)
    assert SLMConfig(generate_batch=8).training_part().generate_batch == 8   # sampling depends on the batch
