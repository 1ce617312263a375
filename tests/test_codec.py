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
