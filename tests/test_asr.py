import dataclasses
import json

import jiwer
import numpy as np
import pytest
import torch

from slmlib.judges.asr import (ASR, ASRConfig, CharVocab, CTCRecognizer, _mel_filters, choose_stride, log_mel,
                               spec_augment, train_asr)
from slmlib.world.render import UtteranceSpec, render
from slmlib.world.voices import synthetic_systems

TEXTS = ["the dog will find a ball", "we should meet the old man", "they might hear music",
         "my friend could open this door", "a cat can see the red ball", "she would not swim today"]
TINY = ASRConfig(conv_channels=64, hidden=64, layers=1, lr=3e-3, warmup_steps=20, steps=300, stride=2,
                 vtlp_warps=())


@pytest.fixture(scope="module")
def data(espeak):
    voice = synthetic_systems("en", 1, (160, 170), 0.0, 0)[0]
    wavs = [render(UtteranceSpec(f"a{i}", "train", tuple(t.split()), tuple(t.split()), voice,
                                 "neutral", i)).audio for i, t in enumerate(TEXTS)]
    return wavs, TEXTS


@pytest.fixture(scope="module")
def trained(data):
    return train_asr(*data, cfg=TINY)


def test_vocab_and_features():
    vocab = CharVocab.from_texts(["ab", "ba c"])
    assert len(vocab) == 5 and vocab.decode(vocab.encode("ab c")) == "ab c"
    with pytest.raises(ValueError, match="not in the recogniser's vocabulary"):
        vocab.encode("z")
    feats = log_mel(np.random.default_rng(0).normal(size=16000).astype(np.float32))
    assert feats.shape == (101, 40) and torch.isfinite(feats).all()
    with pytest.raises(ValueError, match="mono audio"):
        log_mel(np.zeros(10))


def test_ctc_learns_its_training_clips(trained, data):
    losses = [r["loss"] for r in trained.log]
    assert np.mean(losses[-20:]) < 0.3 * np.mean(losses[:20])
    wavs, texts = data
    assert jiwer.cer(texts, trained.transcribe(wavs)) < 0.3


def test_save_load_and_determinism(trained, data, tmp_path):
    wavs, _ = data
    loaded = ASR.from_pretrained(trained.save_pretrained(tmp_path / "asr"))
    assert loaded.transcribe(wavs) == trained.transcribe(wavs)
    again = train_asr(wavs[:2], TEXTS[:2], ASRConfig(conv_channels=16, hidden=16, layers=1, steps=5))
    same = train_asr(wavs[:2], TEXTS[:2], ASRConfig(conv_channels=16, hidden=16, layers=1, steps=5))
    assert [r["loss"] for r in again.log] == [r["loss"] for r in same.log]
    with pytest.raises(ValueError, match="as many transcripts"):
        train_asr(wavs[:2], TEXTS[:1], TINY)


def test_a_judge_saved_before_layer_norm_vtlp_and_the_lm_loads_as_trained(data, tmp_path):
    wavs, texts = data
    old_cfg = ASRConfig(conv_channels=16, hidden=16, layers=1, steps=5, layer_norm=False, vtlp_warps=(),
                        lm_order=0, encoder="gru")
    folder = train_asr(wavs[:2], texts[:2], old_cfg).save_pretrained(tmp_path / "old")
    meta = json.loads((folder / "asr_config.json").read_text())
    for option in ("layer_norm", "vtlp_warps", "lm_order", "lm_weight", "length_bonus", "beam", "encoder"):
        del meta["config"][option]                    # what an earlier version wrote
    (folder / "asr_config.json").write_text(json.dumps(meta))
    (folder / "lm_texts.json").unlink()
    loaded = ASR.from_pretrained(folder)
    assert loaded.cfg == old_cfg and isinstance(loaded.model.norm, torch.nn.Identity) and loaded.lm is None
    assert isinstance(loaded.model.rnn, torch.nn.GRU) and loaded.transcribe(wavs[:1])
    assert isinstance(CTCRecognizer(ASRConfig(conv_channels=8, hidden=8), 5).norm, torch.nn.LayerNorm)


def test_the_lm_decoder_is_saved_with_the_judge(trained, data, tmp_path):
    wavs, texts = data
    assert trained.cfg.lm_order and trained.lm_texts == sorted(set(texts))
    folder = trained.save_pretrained(tmp_path / "lm")
    assert ASR.from_pretrained(folder).lm_texts == trained.lm_texts
    greedy = ASR(dataclasses.replace(trained.cfg, lm_order=0), trained.vocab, trained.model)
    assert jiwer.cer(texts, trained.transcribe(wavs)) <= jiwer.cer(texts, greedy.transcribe(wavs))
    (folder / "lm_texts.json").unlink()
    with pytest.raises(FileNotFoundError, match="lm_texts.json"):
        ASR.from_pretrained(folder)


@pytest.mark.parametrize("encoder", ["mingru", "gru"])
@pytest.mark.parametrize("stride", [2, 3, 4, 5, 6, 8])
def test_output_lengths_follow_the_stride(stride, encoder):
    model = CTCRecognizer(ASRConfig(conv_channels=8, hidden=8, layers=1, stride=stride, encoder=encoder), 5)
    lengths = torch.tensor([101, 57, 9])
    logp, out = model(torch.zeros(3, 101, 40), lengths)
    assert out.tolist() == [(n - 1) // stride + 1 for n in lengths.tolist()]
    assert logp.shape[1] == out.max() and torch.allclose(logp.exp().sum(-1), torch.ones(()))


def test_an_unknown_encoder_is_refused():
    with pytest.raises(ValueError, match="unknown ASR encoder 'lstm'"):
        ASRConfig(encoder="lstm")
    assert ASRConfig().layers == 3 and ASRConfig(encoder="gru").layers == 2 and ASRConfig(layers=1).layers == 1


def test_stride_leaves_room_for_every_character():
    assert choose_stride(np.full(100, 12.0)) == 4      # Thai-like: 25 frames/s >= 1.6 x 12
    assert choose_stride(np.full(100, 19.0)) == 3      # English-like
    assert choose_stride(np.full(100, 30.0)) == 2


def test_vtlp_warps_move_the_mel_filters():
    base, down, up = (_mel_filters(40, a).numpy() for a in (1.0, 1.1, 0.9))
    assert np.allclose(_mel_filters(40, 1.0).numpy(), base)
    peak = lambda fb: fb.argmax(1)[5:35]              # filter centres (FFT bins), away from the ends
    assert (peak(down) < peak(base)).all() and (peak(up) > peak(base)).all()
    wav = np.random.default_rng(0).normal(size=8000).astype(np.float32)
    assert not torch.allclose(log_mel(wav, warp=1.1), log_mel(wav))


def test_spec_augment_masks_within_each_clip_and_repeats_with_its_seed():
    x, lengths = torch.ones(3, 50, 40), torch.tensor([50, 30, 10])
    cfg = ASRConfig(time_masks=2, time_mask_frames=8, freq_masks=2, freq_mask_bands=6)
    a = spec_augment(x, lengths, cfg, torch.Generator().manual_seed(0))
    b = spec_augment(x, lengths, cfg, torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and torch.equal(x, torch.ones(3, 50, 40))     # input untouched
    masked = (a == 0).float()
    assert 0 < masked.mean() < 0.5
    assert (masked[1, 30:] == 0).all() and (masked[2, 10:] == 0).all()   # padding left alone
    # at most 2 x 8 masked frames (whole rows) and 2 x 6 masked channels per clip
    assert (masked[0].all(1).sum() <= 16) and (masked[0].all(0).sum() <= 12)


def test_regularised_training_is_deterministic_and_leaves_inference_alone(data):
    wavs, texts = data
    cfg = ASRConfig(conv_channels=16, hidden=16, layers=2, steps=5, dropout=0.2, time_masks=1,
                    freq_masks=1, vtlp_warps=(0.9, 1.0, 1.1))
    one, two = train_asr(wavs[:3], texts[:3], cfg), train_asr(wavs[:3], texts[:3], cfg)
    assert [r["loss"] for r in one.log] == [r["loss"] for r in two.log]
    assert one.transcribe(wavs[:2]) == one.transcribe(wavs[:2])        # dropout off in eval


def test_the_padded_bidirectional_gru_matches_packed_sequences():
    torch.manual_seed(0)
    model = CTCRecognizer(ASRConfig(conv_channels=24, hidden=16, layers=3, encoder="gru"), 7)
    assert not any(k.startswith("_one_way") for k in model.state_dict())   # old judges still load
    h = torch.randn(4, 30, 24, requires_grad=True)
    lengths = torch.tensor([30, 17, 25, 1])
    packed = torch.nn.utils.rnn.pack_padded_sequence(h, lengths, batch_first=True, enforce_sorted=False)
    expected = torch.nn.utils.rnn.pad_packed_sequence(model.rnn(packed)[0], batch_first=True)[0]
    ours = model._bidirectional(h, lengths)
    valid = (torch.arange(30)[None] < lengths[:, None])[..., None]
    torch.testing.assert_close(ours * valid, expected * valid, atol=1e-5, rtol=1e-5)
    grad_ours = torch.autograd.grad((ours * valid).sum(), model.rnn.weight_hh_l1_reverse)[0]
    grad_expected = torch.autograd.grad((expected * valid).sum(), model.rnn.weight_hh_l1_reverse)[0]
    torch.testing.assert_close(grad_ours, grad_expected, atol=1e-5, rtol=1e-4)
