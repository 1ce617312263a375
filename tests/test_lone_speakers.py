"""A speaker with a single evaluation clip (common in real corpora such as Common Voice) has no
other clip to take a style prompt from: the evaluation leaves the clip out and says so."""
import pandas as pd
import pytest

from slmlib.codec.analysis import analyse, speaker_stats
from slmlib.codec.config import CodecConfig
from slmlib.codec.pipeline import FittedCodec
from slmlib.codec.tokenizer import SpeechCodec
from slmlib.scaling.pipeline import evaluation_items
from slmlib.world.render import UtteranceSpec, render, write_flac
from slmlib.world.voices import real_speakers

TEXTS = [("the", "small", "dog", "will", "find", "a", "red", "ball"),
         ("we", "should", "meet", "the", "old", "man", "near", "the", "river"),
         ("they", "might", "hear", "the", "music", "tonight")]


def test_a_speaker_without_a_second_clip_is_left_out_with_a_warning(espeak, tmp_path):
    rows = []
    for voice, n in zip(real_speakers("en", 2, (160, 180), 0), (3, 2)):      # 3 clips, then 2
        for i, words in enumerate(TEXTS[:n]):
            audio = render(UtteranceSpec(f"{voice.name}-{i}", "test", words, words, voice, "neutral", i)).audio
            path = tmp_path / f"{voice.name}-{i}.flac"
            rows.append({"id": f"{voice.name}-{i}", "lang": "en", "split": "test", "is_real": True,
                         "speaker": voice.name, "path": str(path), "text": " ".join(words), "emotion": "neutral",
                         "audio_sha": write_flac(path, audio), "audio": audio})
    manifest = pd.DataFrame(rows)
    cfg = CodecConfig(codebook_size=16, fit_frames=3000)
    frames = [analyse(a, cfg.n_cepstra, cfg.frame_ms) for a in manifest.audio]
    codec = SpeechCodec.fit_frames(cfg, [(f, speaker_stats(frames)) for f in frames])
    fitted = FittedCodec(codec, {}, 0.0, "key", tmp_path)
    # each speaker's first clip gives its timbre; the second speaker keeps one clip, with no other to prompt with
    with pytest.warns(UserWarning, match="leaves out 1 en test clips"):
        items, timbres = evaluation_items(manifest.drop(columns="audio"), fitted, "en", 0)
    first, second = manifest.speaker.unique()
    assert list(items.speaker) == [first, first] and set(timbres) == {first, second}
    assert not set(items.id) & {f"{first}-0", f"{second}-0"}          # reference clips are never items
