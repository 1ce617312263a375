import numpy as np
import pytest

from slmlib.codec.analysis import analyse, speaker_stats
from slmlib.codec.config import CodecConfig
from slmlib.codec.tokenizer import SpeechCodec
from slmlib.prosody import f0_contour
from slmlib.world.render import UtteranceSpec, render
from slmlib.world.voices import real_speakers

TEXTS = [("the", "small", "dog", "will", "find", "a", "red", "ball"),
         ("we", "should", "meet", "the", "old", "man", "near", "the", "river"),
         ("they", "might", "hear", "the", "music", "tonight"),
         ("my", "friend", "could", "open", "this", "door", "slowly")]
CFG = CodecConfig(codebook_size=32, fit_frames=5000)


@pytest.fixture(scope="module")
def clips(espeak):
    voice = real_speakers("en", 1, (160, 180), 0)[0]
    return [render(UtteranceSpec(f"c{i}", "train", t, t, voice, "neutral", i)).audio
            for i, t in enumerate(TEXTS)]


@pytest.fixture(scope="module")
def fitted(clips):
    frames = [analyse(c, CFG.n_cepstra, CFG.frame_ms) for c in clips]
    stats = speaker_stats(frames)
    return SpeechCodec.fit_frames(CFG, [(f, stats) for f in frames]), stats


def test_token_rate_vocabulary_and_determinism(fitted, clips):
    codec, stats = fitted
    tokens = codec.encode(clips[0], stats)
    assert tokens.dtype == np.int64 and tokens.ndim == 1
    assert abs(len(tokens) - len(clips[0]) / 16000 * 25) <= 1      # 25 tokens per second
    assert tokens.min() >= 0 and tokens.max() < CFG.vocab_size == 32 * 13
    assert np.array_equal(tokens, codec.encode(clips[0], stats))
    assert np.array_equal(codec.decode(tokens, stats), codec.decode(tokens, stats))


def test_decode_keeps_length_and_pitch(fitted, clips):
    codec, stats = fitted
    tokens = codec.encode(clips[1], stats)
    y = codec.decode(tokens, stats)
    assert abs(len(y) - len(tokens) * 16000 / 25) < 16000 * 0.02
    _, a = f0_contour(clips[1])
    _, b = f0_contour(y)
    n = min(len(a), len(b))
    both = (a[:n] > 0) & (b[:n] > 0)
    assert np.corrcoef(np.log(a[:n][both]), np.log(b[:n][both]))[0, 1] > 0.8


def test_timbre_is_not_in_the_tokens(fitted, clips):
    codec, stats = fitted
    tokens = codec.encode(clips[2], stats)
    higher = type(stats)(stats.cepstra_mean, stats.cepstra_std, stats.log_f0_median + np.log(2))
    _, low = f0_contour(codec.decode(tokens, stats))
    _, high = f0_contour(codec.decode(tokens, higher))
    assert 10 < 12 * np.log2(np.median(high[high > 0]) / np.median(low[low > 0])) < 14


def test_save_and_load_round_trip(fitted, clips, tmp_path):
    codec, stats = fitted
    loaded = SpeechCodec.from_pretrained(codec.save_pretrained(tmp_path / "codec"))
    assert loaded.config == codec.config
    assert np.array_equal(loaded.encode(clips[3], stats), codec.encode(clips[3], stats))
    with pytest.raises(FileNotFoundError, match="not a saved SpeechCodec"):
        SpeechCodec.from_pretrained(tmp_path)


def test_bad_input(fitted, clips):
    codec, stats = fitted
    with pytest.raises(ValueError, match="16000 Hz"):
        codec.encode(clips[0], stats, sample_rate=22050)
    with pytest.raises(ValueError, match="shorter than 0.1 s"):
        codec.encode(np.zeros(100), stats)
    with pytest.raises(ValueError, match="NaN"):
        codec.encode(np.full(16000, np.nan), stats)
    with pytest.raises(ValueError, match="voiced"):
        codec.timbre([np.zeros(16000)])
    silence = codec.encode(np.zeros(16000), stats)        # silence encodes to unvoiced tokens
    assert (silence % CFG.n_pitch_codes == 0).all()
    clipped = codec.encode(np.clip(clips[0] * 20, -1, 1), stats)
    assert len(clipped) == len(codec.encode(clips[0], stats))
    with pytest.raises(ValueError, match="tokens must lie"):
        codec.decode(np.array([CFG.vocab_size]), stats)
    with pytest.raises(ValueError, match="whole number"):
        CodecConfig(tokens_per_second=30).frames_per_token


def test_ceiling_ladder_adds_one_stage_at_a_time(fitted, clips):
    import dataclasses

    from slmlib.codec import ceiling

    codec, stats = fitted
    rungs = ceiling.ladder(codec, clips[1], stats)
    assert list(rungs) == ["10 ms steps", "20 ms steps", "40 ms steps", "+ pitch codes",
                           "+ content codes", "codec", "codec, clip's own timbre"]
    assert np.array_equal(rungs["codec"], codec.decode(codec.encode(clips[1], stats), stats))
    for y in rungs.values():
        assert y.dtype == np.float32 and abs(len(y) - len(clips[1])) < 16000 * 0.05
    every_rung = {r for _, with_it, without in ceiling.stages(CFG) for r in (with_it, without)}
    assert every_rung == set(rungs) | {"original"}
    # the unquantised 10 ms rung keeps the melody; 40 ms averaging keeps less spectral detail
    _, a = f0_contour(clips[1])
    _, b = f0_contour(rungs["10 ms steps"])
    n = min(len(a), len(b))
    both = (a[:n] > 0) & (b[:n] > 0)
    assert np.corrcoef(np.log(a[:n][both]), np.log(b[:n][both]))[0, 1] > 0.9
    fast = dataclasses.replace(CFG, tokens_per_second=50)
    assert [s for s, *_ in ceiling.stages(fast)] == [
        "WORLD vocoder, 40-d envelope", "averaging frames to 20 ms", "pitch codes", "content codes",
        "both codes", "timbre from reference clips"]


def test_ceiling_summary_costs_are_paired_differences():
    import pandas as pd

    from slmlib.codec import ceiling

    rng = np.random.default_rng(0)
    base = rng.uniform(0.1, 0.3, 40)
    steps = {"original": 0.0, "10 ms steps": 0.02, "20 ms steps": 0.05, "40 ms steps": 0.1,
             "+ pitch codes": 0.12, "+ content codes": 0.25, "codec": 0.3, "codec, clip's own timbre": 0.28}
    scores = pd.concat([pd.DataFrame({"lang": "th", "id": [f"u{i}" for i in range(40)], "cer": base + d,
                                      "condition": c}) for c, d in steps.items()])
    summary = ceiling.summarise_ceiling(scores, CFG)
    cost = summary[(summary.lang == "th") & (summary.kind == "cost (CER)")].set_index("what")
    assert cost.loc["content codes", "estimate"] == pytest.approx(0.15)
    assert cost.loc["timbre from reference clips", "estimate"] == pytest.approx(0.02)
    # a constant difference has a zero-width interval
    assert cost.loc["pitch codes", "low"] == pytest.approx(cost.loc["pitch codes", "high"])
    text = ceiling.findings(summary)
    assert "th: CER 0.2" in text and "The costliest: content codes." in text
    assert list(ceiling.table(summary, "CER").index) == list(steps)     # ladder order, not alphabetical
