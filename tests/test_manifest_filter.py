import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from slmlib.data import manifest as mf
from slmlib.data.filter import FilterConfig, filter_quality, filter_synthetic, has_loop
from slmlib.metrics import utterance_wer


def _rows(tmp_path):
    path = tmp_path / "a.flac"
    sf.write(path, np.zeros(1600, dtype=np.float32), 16000)
    base = dict(path=str(path), lang="en", speaker="s", system="en-SA", is_real=False,
                emotion="neutral", split="dev")
    return pd.DataFrame([
        {**base, "id": "clean1", "text": "the dog will find a ball", "duration": 2.0, "faults": []},
        {**base, "id": "clean2", "text": "a cat can see the red ball", "duration": 2.3, "faults": []},
        {**base, "id": "clean3", "text": "we should meet the old man", "duration": 2.1, "faults": []},
        {**base, "id": "loop", "text": "they might hear the music", "duration": 3.4, "faults": ["loop"]},
        {**base, "id": "trunc", "text": "my friend could open this door", "duration": 1.0, "faults": ["truncate"]},
    ])


def test_manifest_validation_names_the_problem(tmp_path):
    df = _rows(tmp_path)
    mf.validate(df)
    with pytest.raises(mf.ManifestError, match="lacks columns split"):
        mf.validate(df.drop(columns="split"))
    with pytest.raises(mf.ManifestError, match="empty text"):
        mf.validate(df.assign(text=["", *df.text[1:]]))
    path = mf.save(df, tmp_path / "m.parquet")
    assert mf.load(path).id.tolist() == df.id.tolist()
    assert len(mf.to_dataset(df)) == len(df)


def test_audio_errors(tmp_path):
    bad = tmp_path / "bad.flac"
    bad.write_bytes(b"not audio")
    with pytest.raises(mf.AudioError, match="cannot read"):
        mf.load_audio(bad)
    wrong = tmp_path / "w.wav"
    sf.write(wrong, np.zeros(100, dtype=np.float32), 22050)
    with pytest.raises(mf.AudioError, match="22050 Hz, expected 16000"):
        mf.load_audio(wrong)


def test_loops_and_wer():
    assert has_loop("a b b b c".split()) and has_loop("x a b a b a b".split())
    assert not has_loop("a b a c a b".split())
    assert utterance_wer("the dog ran", "the dog ran", "en") == 0.0
    assert utterance_wer("the dog ran", "", "en") == 1.0
    assert utterance_wer("ข้าวมันไก่", "ข้าวมันไก่", "th") == 0.0


def test_filter_catches_loops_and_truncation(tmp_path):
    df = _rows(tmp_path)
    hyp = pd.Series(list(df.text[:3]) + ["they might hear hear hear hear the music",
                                         "my friend could"])
    scored = filter_synthetic(df, hyp)
    assert scored.keep.tolist() == [True, True, True, False, False]
    quality = filter_quality(scored).set_index("what").rate
    assert quality["any fault"] == 1.0 and quality["clean clips kept"] == 1.0
    with pytest.raises(ValueError, match="no WER threshold for \\['en'\\]"):
        filter_synthetic(df, hyp, FilterConfig(max_wer={"th": 0.4}))
