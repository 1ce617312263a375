"""Real-corpus loaders on tiny fixtures written here: every layout into the manifest format at
16 kHz, with the bad rows (missing file, unreadable audio, empty text) skipped and counted."""
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from slmlib.data import corpora, manifest


def tone(path, rate, seconds=0.5, fmt=None):
    t = np.arange(int(rate * seconds)) / rate
    sf.write(path, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), rate, format=fmt)
    return path


def check_clips(table: pd.DataFrame, n: int):
    manifest.validate(table)
    assert len(table) == n
    for p in table.path:
        assert sf.info(p).samplerate == manifest.SAMPLE_RATE
        assert manifest.load_audio(p).size > 0
    assert table.is_real.all() and (table.system == "real").all()


def test_common_voice_with_bad_rows(tmp_path):
    root = tmp_path / "cv-lo"
    (root / "clips").mkdir(parents=True)
    tone(root / "clips" / "a.mp3", 48000, fmt="MP3")
    tone(root / "clips" / "b.wav", 44100)
    (root / "clips" / "broken.mp3").write_bytes(b"not audio at all")
    tone(root / "clips" / "silent-text.wav", 48000)
    rows = [("c1", "a.mp3", "ສະບາຍດີ"), ("c2", "b.wav", "ຂອບໃຈ"), ("c3", "missing.mp3", "ບໍ່ມີ"),
            ("c4", "broken.mp3", "ເສຍ"), ("c5", "silent-text.wav", "  ")]
    pd.DataFrame(rows, columns=["client_id", "path", "sentence"]).to_csv(root / "test.tsv", sep="\t", index=False)
    with pytest.warns(corpora.SkippedRows, match=r"skipped 3 of 5 rows \(1 empty text, 1 missing file, 1 unreadable audio\)"):
        table = corpora.common_voice(root, tmp_path / "out", lang="lo")
    check_clips(table, 2)
    assert set(table.text) == {"ສະບາຍດີ", "ຂອບໃຈ"} and set(table.lang) == {"lo"}
    assert table.duration.round(2).tolist() == [0.5, 0.5]


def test_ljspeech_folder_resampled_from_22k(tmp_path):
    root = tmp_path / "LJ"
    (root / "wavs").mkdir(parents=True)
    tone(root / "wavs" / "LJ001-0001.wav", 22050)
    tone(root / "wavs" / "LJ001-0002.wav", 22050)
    (root / "metadata.csv").write_text("LJ001-0001|Printing, in 1500|Printing, in fifteen hundred\n"
                                       "LJ001-0002|Second one|\n", encoding="utf-8")
    table = corpora.ljspeech(root, tmp_path / "out")
    check_clips(table, 2)
    assert table.text.tolist() == ["Printing, in fifteen hundred", "Second one"]
    assert set(table.speaker) == {"LJ"}


def test_fleurs_folder(tmp_path):
    root = tmp_path / "th_th"
    (root / "audio" / "test").mkdir(parents=True)
    tone(root / "audio" / "test" / "1.wav", 16000)
    line = "\t".join(["7", "1.wav", "สวัสดี ครับ", "สวัสดี ครับ", "ส|ว", "8000", "MALE"])
    (root / "test.tsv").write_text(line + "\n", encoding="utf-8")
    table = corpora.fleurs(root, tmp_path / "out", lang="th")
    check_clips(table, 1)
    assert table.text.iloc[0] == "สวัสดี ครับ"


def test_saved_datasets_audio_dataset(tmp_path):
    datasets = pytest.importorskip("datasets")
    paths = [str(tone(tmp_path / f"{i}.wav", 8000)) for i in range(3)]
    ds = datasets.Dataset.from_dict({"audio": paths, "sentence": ["one", "", "three"],
                                     "client": ["s1", "s2", "s1"]})
    ds = ds.cast_column("audio", datasets.Audio(decode=False))
    datasets.DatasetDict({"test": ds}).save_to_disk(str(tmp_path / "saved"))
    with pytest.raises(ValueError, match="choose one with hf_split"):
        corpora.hf_dataset(tmp_path / "saved", tmp_path / "out", lang="en")
    with pytest.warns(corpora.SkippedRows, match="1 empty text"):
        table = corpora.hf_dataset(tmp_path / "saved", tmp_path / "out", lang="en", hf_split="test",
                                   speaker_column="client")
    check_clips(table, 2)
    assert table.speaker.tolist() == ["s1", "s1"]


def test_nothing_usable_and_wrong_folders_say_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="Common Voice language folder"):
        corpora.common_voice(tmp_path, tmp_path / "out", lang="lo")
    (tmp_path / "metadata.csv").write_text("x|hello|\n")
    with pytest.raises(ValueError, match="no usable rows"), pytest.warns(corpora.SkippedRows):
        corpora.ljspeech(tmp_path, tmp_path / "out")


def test_cli_writes_a_manifest(tmp_path):
    root = tmp_path / "LJ"
    (root / "wavs").mkdir(parents=True)
    tone(root / "wavs" / "a.wav", 22050)
    (root / "metadata.csv").write_text("a|hello there|\n")
    proc = subprocess.run([sys.executable, "-m", "slmlib", "corpus", "ljspeech", str(root), "--lang", "en",
                           "--split", "train", "--out", str(tmp_path / "imported")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    table = manifest.load(tmp_path / "imported" / "manifest.parquet")
    assert table.split.tolist() == ["train"] and "1 clips" in proc.stdout


def test_corpus_rows_join_the_world_manifest(tmp_path, espeak):
    from slmlib.world.render import UtteranceSpec, render, write_flac
    from slmlib.world.voices import real_speakers

    voice = real_speakers("en", 1, (160, 180), 0)[0]
    words = ("the", "old", "man", "will", "open", "the", "door")
    audio = render(UtteranceSpec("w0", "train", words, words, voice, "neutral", 0)).audio
    world = pd.DataFrame([{"id": "en-w0", "path": str(tmp_path / "w0.flac"), "lang": "en", "text": " ".join(words),
                           "words": list(words), "spoken_text": " ".join(words), "speaker": voice.name,
                           "system": "real", "is_real": True, "emotion": "neutral", "split": "train",
                           "faults": [], "duration": len(audio) / 16000, "n_words": 7,
                           "audio_sha": write_flac(tmp_path / "w0.flac", audio)}])
    root = tmp_path / "LJ"
    (root / "wavs").mkdir(parents=True)
    sf.write(root / "wavs" / "LJ001-0001.wav", audio, 16000)
    (root / "metadata.csv").write_text("LJ001-0001|The old man will open the door.|\n", encoding="utf-8")
    subprocess.run([sys.executable, "-m", "slmlib", "corpus", "ljspeech", str(root), "--lang", "en",
                    "--split", "train", "--out", str(tmp_path / "lj")], check=True, capture_output=True)

    both = corpora.with_corpora(world, [tmp_path / "lj"])
    assert both.corpus.tolist() == ["world", "ljspeech"] and both.is_real.all()
    added = both.iloc[1]
    assert added.spoken_text == added.text == "The old man will open the door."
    assert added.n_words == 7 and added.faults == [] and not added.fault_loop
    # a clip's digest is the world's digest of the same 16-bit samples (cache keys are built from them)
    assert corpora.as_world_rows(world.drop(columns="audio_sha")).audio_sha.tolist() == world.audio_sha.tolist()
    with pytest.raises(ValueError, match="not in the world"):
        corpora.with_corpora(world.assign(lang="th"), [tmp_path / "lj"])
    with pytest.raises(ValueError, match="ids already in the manifest"):
        corpora.with_corpora(world.assign(id=added.id), [tmp_path / "lj"])
    with pytest.raises(FileNotFoundError, match="python -m slmlib corpus"):
        corpora.with_corpora(world, [tmp_path / "nothing"])
