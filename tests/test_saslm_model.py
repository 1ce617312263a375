"""SASLM's thinker alignment, the assembled model's stages, generation and stage-3 pieces, at
tiny size."""
import copy
import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from slmlib.model.config import SLMConfig
from slmlib.model.train import build_model
from slmlib.model.vocab import SpeechVocab
from slmlib.saslm import reward
from slmlib.saslm.config import SASLMConfig
from slmlib.saslm.model import (SASLM, Dialogue, compact, critic_probs, probe_features, sequence_logprobs,
                                speak, token_features, train_stage)
from slmlib.saslm.speech_head import IntentSpeechHead
from slmlib.saslm.thinker import Thinker, encode_dialogues, pretrain_thinker, reply_states, thinker_states

CFG = dataclasses.replace(SASLMConfig.smoke(), thinker_steps=5, batch_size=4, stage3_steps=2, stage3_batch=2)
REPLIES = ["the bus leaves at nine", "we need milk", "lunch is at noon", "the form is due"]
CONTEXTS = ["Hey, you won first prize.", "Well, the dog did not make it.", "So, they lied to us.",
            "Look, the train is on time."]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    rng = np.random.default_rng(0)
    items = [Dialogue.of(c, r, rng.integers(0, 27, size=2 * len(r)), e, None)
             for e, (c, r) in enumerate(zip(CONTEXTS, REPLIES))]
    thinker, log = pretrain_thinker([d.text for d in items], CFG, 0)
    vocab = SpeechVocab.build(REPLIES, ["en"], 27)
    lm = build_model(SLMConfig(hidden_size=16, layers=1, heads=2, intermediate_size=32, bf16=False), vocab, 0)
    model = SASLM(thinker, IntentSpeechHead(lm, vocab, thinker.hidden_size, "vib", 4), ["a", "b", "c", "d"])
    return model, items, log


def test_every_reply_character_maps_to_the_thinker_token_that_holds_it(tiny):
    model, items, log = tiny
    assert len(log) == 1 and np.isfinite(log[0]["loss"])
    batch = encode_dialogues(model.tokenizer, [d.text for d in items], [d.reply_start for d in items])
    enc = model.tokenizer([d.text for d in items], return_offsets_mapping=True, add_special_tokens=False)
    for row, d in enumerate(items):
        idx = batch.reply_tokens[row].numpy()
        assert len(idx) == len(d.reply)
        for c, t in zip(range(d.reply_start, len(d.text)), idx):
            start, end = enc["offset_mapping"][row][t]
            assert start <= c < end
        assert not batch.context_mask[row, idx].any()           # reply tokens are not context
    hidden, loss = thinker_states(Thinker(model.thinker, model.tokenizer), batch, text_loss=True)
    states = reply_states(hidden, batch)
    assert [s.shape[0] for s in states] == [len(d.reply) for d in items] and torch.isfinite(loss)


def test_compact_moves_masked_positions_to_the_front():
    x = torch.arange(12.0).reshape(2, 3, 2)
    mask = torch.tensor([[False, True, True], [True, False, False]])
    out, valid = compact(x, mask)
    assert out.shape == (2, 2, 2) and valid.tolist() == [[True, True], [True, False]]
    assert out[0].tolist() == [[2, 3], [4, 5]] and out[1, 0].tolist() == [6, 7]


def test_stages_train_only_what_they_should_and_the_model_round_trips(tiny, tmp_path):
    model, items, _ = tiny
    thinker_before = {n: p.clone() for n, p in model.thinker.named_parameters()}
    log = train_stage(model, items, CFG, 1, 3, 0)
    assert {"recon", "kl", "critic"} <= set(log[-1]) and "text" not in log[-1]
    assert all(torch.equal(p, thinker_before[n]) for n, p in model.thinker.named_parameters())
    assert model.head.adaln.to_scale_shift.weight.abs().sum() > 0      # the zero-init bridge moved
    log = train_stage(model, items, CFG, 2, 2, 0)
    assert "text" in log[-1]
    moved = {n for n, p in model.thinker.named_parameters() if not torch.equal(p, thinker_before[n])}
    assert moved and all(".layers.0." not in n and "embed" not in n for n in moved)   # only the last layer
    model.save_pretrained(tmp_path / "m")
    again = SASLM.from_pretrained(tmp_path / "m")
    torch.testing.assert_close(sequence_logprobs(again, items).detach(), sequence_logprobs(model, items).detach())


def test_generation_follows_the_dialogue_and_is_seeded(tiny):
    model, items, _ = tiny
    kw = dict(temperature=1.0, top_p=1.0, tokens_per_char=1.0, batch_size=2, seed=3)
    a, b = speak(model, items, **kw), speak(model, items, **kw)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert all(len(t) <= len(d.reply) for t, d in zip(a, items))
    speech, context = critic_probs(model, [d.with_tokens(t if len(t) else [1]) for d, t in zip(items, a)])
    assert speech.shape == context.shape == (4, 4)
    np.testing.assert_allclose(speech.sum(1), 1.0, rtol=1e-5)
    feats, tokens = probe_features(model, items), token_features(model, items)
    assert feats["e"].shape[0] == feats["h"].shape[0] == feats["z"].shape[0] == 4
    for k in ("e", "h", "z"):         # one row per reply character; the probes read their average
        assert [len(x) for x in tokens[k]] == [len(d.reply) for d in items]
        np.testing.assert_array_equal(feats[k], np.stack([x.mean(0).numpy() for x in tokens[k]]))


def test_rubric_gate_and_anchor_split():
    centres = np.array([0.0, -2.0, 0.0, 2.0])
    flat, lively = np.array([4 * 1 + 2] * 10), np.array([4 * c + p for c, p in zip(range(10), [1, 3] * 5)])
    assert reward.pitch_spread(flat, centres) == 0.0 and reward.pitch_spread(lively, centres) == 2.0
    train = [Dialogue("x", 0, "abcde", lively, 0), Dialogue("x", 0, "abcde", lively, 0),
             Dialogue("x", 0, "abcde", flat, 1), Dialogue("x", 0, "abcde", flat, 1)]
    norms = reward.RubricNorms.fit(train, centres)
    context = np.array([[0.9, 0.1], [0.9, 0.1]])
    speech = np.array([[0.8, 0.2], [0.2, 0.8]])
    scores = reward.rubric([train[0], train[2]], speech, context, norms, centres)
    assert scores.score_emotion.tolist() == [1.0, 0.5]
    assert scores.score_prosody.tolist() == [1.0, 0.0]           # flat pitch is not "emotion 0"-like
    total = reward.gated_total(scores, np.array([0.3, 0.9]), np.array([0.5, 0.5]), 0.2)
    assert total.tolist() == [scores.iloc[0][list(reward.SCORES)].sum(), 0.0]
    assert reward.split_by_anchor([2.0, 1.0, 0.5], [1.0, 1.0, 1.0]).tolist() == [1, 0, -1]
    assert reward.rank_score(np.array([0.1, 0.6, 0.3]), 2) == 0.5


def test_the_anchored_loss_pushes_preferred_above_and_rejected_below_the_anchor():
    zero = torch.zeros(2)
    policy = torch.tensor([1.0, 1.0], requires_grad=True)
    out = reward.anchored_loss(policy, zero, zero, zero, torch.tensor([1.0, -1.0]), beta=0.5)
    out["loss"].sum().backward()
    assert policy.grad[0] < 0 < policy.grad[1]        # descent raises y_w's log-prob, lowers y_l's
    assert out["loss"][0] < np.log(2) < out["loss"][1]
    with pytest.raises(Exception, match="nothing to align"):
        reward.train_anchored(None, [], CFG, 0)


def test_one_stage3_step_runs_from_preferences(tiny):
    model, items, _ = tiny
    ref = reward.reference_logprobs(model, items)
    prefs = [reward.Preference(items[i], items[(i + 1) % 4], 1 if i % 2 else -1, float(ref[i]),
                               float(ref[(i + 1) % 4])) for i in range(4)]
    log = reward.train_anchored(model, prefs, CFG, 0)
    assert len(log) == 1 and np.isfinite(log[0]["loss"])


def test_a_local_hf_thinker_by_path_replaces_the_trained_one(tiny, tmp_path):
    """The gpu profile's path: any local causal LM folder with a fast tokenizer (here a tiny
    random Qwen2) is the thinker; stage 1 and generation run through it unchanged."""
    import transformers

    from slmlib.saslm.model import assemble

    model, items, _ = tiny
    config = transformers.Qwen2Config(vocab_size=len(model.tokenizer), hidden_size=24, num_hidden_layers=2,
                                      num_attention_heads=2, num_key_value_heads=1, intermediate_size=48)
    transformers.AutoModelForCausalLM.from_config(config).save_pretrained(tmp_path / "qwen")
    model.tokenizer.save_pretrained(tmp_path / "qwen")
    model.head.lm.save_pretrained(tmp_path / "speech")
    model.vocab.save_pretrained(tmp_path / "speech")
    qwen = assemble(tmp_path / "qwen", tmp_path / "speech", "vib", 4, model.emotions)
    assert qwen.thinker.config.model_type == "qwen2" and qwen.head.vib.net[0].in_features == 24
    log = train_stage(qwen, items, CFG, 2, 1, 0)
    assert np.isfinite(log[-1]["total"])
    assert len(speak(qwen, items[:2], temperature=0.0, top_p=1.0, tokens_per_char=1.0, batch_size=2, seed=0)) == 2
    with pytest.raises(FileNotFoundError, match="no model is downloaded"):
        assemble(tmp_path / "missing", tmp_path / "speech", "vib", 4, model.emotions)


def test_an_assembled_bridge_starts_from_its_seed_whatever_was_drawn_before(tiny, tmp_path):
    """Bridges train one after another in pool workers: without the seed, a bridge's initial
    weights depended on which job the worker had run before (notebook 05 differed run to run)."""
    from slmlib.saslm.model import assemble

    model, _, _ = tiny
    model.thinker_wrapper.save_pretrained(tmp_path / "thinker")
    model.head.lm.save_pretrained(tmp_path / "speech")
    model.vocab.save_pretrained(tmp_path / "speech")
    bridges = []
    for draws in (0, 5):
        torch.rand(draws)
        bridges.append(assemble(tmp_path / "thinker", tmp_path / "speech", "vib", 4, model.emotions,
                                seed=3).head.state_dict())
    assert all(torch.equal(bridges[0][k], bridges[1][k]) for k in bridges[0])


def test_the_evaluation_judge_reads_stored_features_and_skips_silent_clips():
    from slmlib.judges.emotion import EmotionJudge
    from slmlib.saslm.pipeline import anchor_cers, oracle_scores, read_emotions

    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(-2, 0.3, 20), rng.normal(2, 0.3, 20)]
    judge = EmotionJudge.fit(pd.DataFrame({"pitch": x}), ["sad"] * 20 + ["happy"] * 20)
    table = pd.DataFrame({"id": ["a", "b", "c", "a", "b", "c"], "k": [-1, -1, -1, 0, 0, 0],
                          "emotion": ["happy", "sad", "happy"] * 2,
                          "emo:pitch": [2.0, 2.0, np.nan, 2.0, -2.0, -2.0],
                          "cer": [0.5, 0.5, 0.5, 0.9, 0.5, 0.5],
                          **{c: 0.5 for c in reward.SCORES}})
    read = read_emotions(table, judge)
    assert read.predicted_emotion.fillna("silent").tolist() == ["happy", "happy", "silent", "happy", "sad", "sad"]
    assert read.emo_match.tolist() == [1, 0, 0, 1, 1, 0]
    assert anchor_cers(table).tolist() == [0.5] * 6
    scored = oracle_scores(table, judge, gate=0.2)
    assert scored.oracle_emotion.tolist()[4] == 1.0 and scored.oracle_score.tolist()[3] == 0.0   # gated


def test_stage_training_with_ddp_on_two_cpu_processes(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    here = Path(__file__).parent
    proc = subprocess.run([str(Path(sys.executable).with_name("torchrun")), "--nproc_per_node", "2",
                           "--master_port", "29521", str(here / "saslm_ddp_worker.py"), str(tmp_path), str(here)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert all(r["processes"] == 2 and len(r["log"]) == 3 for r in ranks)
    # DDP keeps the replicas equal: every parameter ends the same in both processes
    assert ranks[0]["sums"] == ranks[1]["sums"]
    assert all(np.isfinite(v) for v in ranks[0]["sums"].values())
    assert ranks[0]["sums"]["head.adaln.to_scale_shift.weight"] != 0.0     # the zero-init bridge moved


def test_stage_2_with_thinker_lora_tunes_every_layer_and_merges(tiny, tmp_path):
    model, items, _ = tiny
    model = SASLM.from_pretrained(_saved(model, tmp_path / "start"))
    before = {n: p.clone() for n, p in model.thinker.named_parameters()}
    train_stage(model, items, dataclasses.replace(CFG, stage2_lora_rank=4, stage2_thinker_lr=5e-2), 2, 3, 0)
    after = dict(model.thinker.named_parameters())
    assert set(after) == set(before)                                 # merged: a plain model again
    moved = {n for n in before if not torch.equal(after[n], before[n])}
    assert any(".layers.0." in n for n in moved)                     # not only the last layer
    assert not any("norm" in n or "embed" in n for n in moved)       # adapters sit on linear layers
    again = SASLM.from_pretrained(_saved(model, tmp_path / "tuned"))
    torch.testing.assert_close(sequence_logprobs(again, items).detach(), sequence_logprobs(model, items).detach())


def _saved(model, folder):
    model.save_pretrained(folder)
    return folder


def test_emotion_tag_ceiling_trains_speaks_and_round_trips(tmp_path):
    from slmlib.saslm.tagged import EmotionTagTTS, nats_per_token, speak_tagged, train_tagged

    vocab = SpeechVocab.build(REPLIES, ["en"], 27)
    lm = build_model(SLMConfig(hidden_size=16, layers=1, heads=2, intermediate_size=32, bf16=False), vocab, 0)
    torch.manual_seed(0)
    model = EmotionTagTTS(lm, vocab, "en", 4)
    rng = np.random.default_rng(0)
    tokens = [rng.integers(0, 27, size=2 * len(r)) for r in REPLIES]
    tags_before = model.tags.weight.detach().clone()
    log = train_tagged(model, REPLIES, tokens, [0, 1, 2, 3], CFG, 4, 0, log_every=1)
    assert len(log) == 4 and all(np.isfinite(e["recon"]) for e in log)
    assert not torch.equal(model.tags.weight, tags_before)                  # the labels are learned
    right = nats_per_token(model, REPLIES, tokens, [0, 1, 2, 3])
    wrong = nats_per_token(model, REPLIES, tokens, [1, 2, 3, 0])
    assert right.shape == (4,) and np.isfinite(right).all() and not np.allclose(right, wrong)
    kw = dict(temperature=0.9, top_p=0.9, tokens_per_char=2.0, batch_size=3, seed=5)
    spoken = speak_tagged(model, REPLIES, [0, 1, 2, 3], **kw)
    assert len(spoken) == 4 and all(len(t) <= 2 * len(r) for t, r in zip(spoken, REPLIES))
    model.save_pretrained(tmp_path / "tagged")
    again = EmotionTagTTS.from_pretrained(tmp_path / "tagged")
    np.testing.assert_allclose(nats_per_token(again, REPLIES, tokens, [0, 1, 2, 3]), right, rtol=1e-5)
    assert all(np.array_equal(a, b) for a, b in zip(speak_tagged(again, REPLIES, [0, 1, 2, 3], **kw), spoken))


class _Reads:
    """A config that notes which of its fields are read."""

    def __init__(self, cfg):
        self._cfg, self.seen = cfg, set()

    def __getattr__(self, name):
        self.seen.add(name)
        return getattr(self._cfg, name)


@pytest.mark.parametrize("mode", ["plain", "add", "adaln", "vib"])
def test_a_bridge_reads_only_the_fields_its_cache_key_holds(tiny, mode):
    """Stages 1-2 are keyed on BRIDGE_READS[mode] alone (the rest at defaults), so a field they
    read outside it would let a changed value find the old model."""
    from slmlib.saslm.pipeline import BRIDGE_READS, keyed

    old, items, _ = tiny
    lm = build_model(SLMConfig(hidden_size=16, layers=1, heads=2, intermediate_size=32, bf16=False), old.vocab, 0)
    reads = _Reads(CFG)
    # (the head's latent and initial log-variance: keyed for the modes that have them, adaln and vib)
    head = IntentSpeechHead(lm, old.vocab, old.thinker.config.hidden_size, mode, CFG.latent, CFG.vib_logvar_init)
    model = SASLM(Thinker(copy.deepcopy(old.thinker), old.tokenizer), head, ["a", "b", "c", "d"])
    for stage in (1, 2):
        train_stage(model, items, reads, stage, 1, reads.seed)
    assert reads.seen <= set(BRIDGE_READS[mode])
    changed = dataclasses.replace(CFG, rollouts=9, thinker_steps=1, beta_max=2.0, latent=3)
    assert (keyed(changed, BRIDGE_READS[mode]) == keyed(CFG, BRIDGE_READS[mode])) == (mode in ("plain", "add"))


def test_the_tag_ceiling_reads_only_the_fields_its_cache_key_holds(tiny):
    from slmlib.saslm.pipeline import TAGGED_READS
    from slmlib.saslm.tagged import EmotionTagTTS, train_tagged

    old, items, _ = tiny
    lm = build_model(SLMConfig(hidden_size=16, layers=1, heads=2, intermediate_size=32, bf16=False), old.vocab, 0)
    reads = _Reads(CFG)
    train_tagged(EmotionTagTTS(lm, old.vocab, "en", 4), [d.reply for d in items], [d.tokens for d in items],
                 [d.emotion for d in items], reads, reads.stage1_steps + reads.stage2_steps, reads.seed)
    assert reads.seen <= set(TAGGED_READS)


def test_a_label_reading_bridge_reads_the_label_not_the_dialogue(tiny, tmp_path):
    """The diagnostic bridge: one-hot rows of the item's emotion at every reply character in
    place of h, trained, spoken and saved like any other; another label changes its speech
    distribution, another context alone does not."""
    old, items, _ = tiny
    lm = build_model(SLMConfig(hidden_size=16, layers=1, heads=2, intermediate_size=32, bf16=False), old.vocab, 0)
    head = IntentSpeechHead(lm, old.vocab, 4, "adaln", CFG.latent)
    model = SASLM(Thinker(copy.deepcopy(old.thinker), old.tokenizer), head, ["a", "b", "c", "d"], reads="label")
    states = model.label_states(items)
    assert [s.shape for s in states] == [(len(d.reply), 4) for d in items]
    assert all(torch.equal(s.argmax(-1), torch.full((len(d.reply),), d.emotion)) for s, d in zip(states, items))
    train_stage(model, items, CFG, 1, 3, 0)
    relabelled = [Dialogue(d.text, d.reply_start, d.reply, d.tokens, (d.emotion + 1) % 4) for d in items]
    recontexted = [Dialogue.of(CONTEXTS[(i + 1) % 4], d.reply, d.tokens, d.emotion) for i, d in enumerate(items)]
    with torch.no_grad():
        own, other_label, other_context = (sequence_logprobs(model, x) for x in (items, relabelled, recontexted))
    assert (own - other_label).abs().min() > 1e-5 and torch.equal(own, other_context)
    kw = dict(temperature=1.0, top_p=1.0, tokens_per_char=1.0, batch_size=2, seed=3)
    spoken = speak(model, items, **kw)
    model.save_pretrained(tmp_path / "label")
    again = SASLM.from_pretrained(tmp_path / "label")
    assert again.reads == "label" and all(np.array_equal(a, b) for a, b in zip(speak(again, items, **kw), spoken))
    with pytest.raises(ValueError, match="emotion index"):
        model.label_states([Dialogue.of(CONTEXTS[0], REPLIES[0], items[0].tokens)])


def test_a_reply_mean_bridge_reads_the_same_mean_h_at_every_reply_token(tiny):
    old, items, _ = tiny
    lm = build_model(SLMConfig(hidden_size=16, layers=1, heads=2, intermediate_size=32, bf16=False), old.vocab, 0)
    thinker = Thinker(copy.deepcopy(old.thinker), old.tokenizer)
    model = SASLM(thinker, IntentSpeechHead(lm, old.vocab, thinker.hidden_size, "add"), ["a", "b", "c", "d"],
                  reads="mean")
    batch = encode_dialogues(old.tokenizer, [d.text for d in items], [d.reply_start for d in items])
    with torch.inference_mode():
        per_token = reply_states(thinker_states(thinker, batch)[0], batch)
    read = token_features(model, items)["h"]
    for h, r in zip(per_token, read):
        assert r.shape == h.shape
        torch.testing.assert_close(r, h.mean(0, keepdim=True).expand_as(h))
    with pytest.raises(ValueError, match="bridge reads one of"):
        SASLM(thinker, model.head, ["a"], reads="words")


def test_a_critic_reading_bridge_reads_the_context_critic_and_the_speech_loss_leaves_it_alone(tiny):
    old, items, _ = tiny
    lm = build_model(SLMConfig(hidden_size=16, layers=1, heads=2, intermediate_size=32, bf16=False), old.vocab, 0)
    thinker = Thinker(copy.deepcopy(old.thinker), old.tokenizer)
    model = SASLM(thinker, IntentSpeechHead(lm, old.vocab, 4, "add"), ["a", "b", "c", "d"], reads="critic")
    critic = copy.deepcopy(model.critic_context.state_dict())
    train_stage(model, items, dataclasses.replace(CFG, critic_weight=0.0), 1, 3, 0)   # the speech loss alone
    assert all(torch.equal(v, critic[k]) for k, v in model.critic_context.state_dict().items())
    assert model.head.project.weight.abs().sum() > 0                   # while the bridge learned
    _, context = critic_probs(model, items)
    for p, r, d in zip(context, token_features(model, items)["h"], items):
        assert r.shape == (len(d.reply), 4)
        np.testing.assert_allclose(r.numpy(), np.broadcast_to(p, r.shape), rtol=1e-5, atol=1e-6)
