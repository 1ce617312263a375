"""Real judges by local path (Whisper for WER, WavLM for P1's SIM) wired into the stages that
judge generated speech, on tiny randomly initialised models of the same architectures."""
import numpy as np
import pandas as pd
import pytest

from slmlib.codec.analysis import analyse, speaker_stats
from slmlib.codec.config import CodecConfig
from slmlib.codec.tokenizer import SpeechCodec
from slmlib.evaluate import judge_tokens
from slmlib.judges.asr import ASR, ASRConfig, CharVocab, CTCRecognizer
from slmlib.judges.by_path import folder_key, load_asr, speaker_embedder
from slmlib.judges.config import JudgesConfig
from slmlib.judges.pipeline import train_asr_judges, transcribe
from slmlib.judges.speaker import embed
from slmlib.world.render import UtteranceSpec, render, write_flac
from slmlib.world.voices import real_speakers

TEXTS = [("the", "small", "dog", "will", "find", "a", "red", "ball"),
         ("we", "should", "meet", "the", "old", "man", "near", "the", "river")]


@pytest.fixture(scope="module")
def spoken(espeak, tmp_path_factory):
    """Two rendered clips on disk, a small codec fitted on them (saved) and the speaker's stats."""
    folder = tmp_path_factory.mktemp("spoken")
    voice = real_speakers("en", 1, (160, 180), 0)[0]
    clips = [render(UtteranceSpec(f"c{i}", "train", t, t, voice, "neutral", i)).audio
             for i, t in enumerate(TEXTS)]
    paths = []
    for i, c in enumerate(clips):
        paths.append(str(folder / f"c{i}.flac"))
        write_flac(folder / f"c{i}.flac", c)
    cfg = CodecConfig(codebook_size=16, fit_frames=3000)
    frames = [analyse(c, cfg.n_cepstra, cfg.frame_ms) for c in clips]
    stats = speaker_stats(frames)
    codec = SpeechCodec.fit_frames(cfg, [(f, stats) for f in frames])
    codec.save_pretrained(folder / "codec")
    return clips, paths, folder / "codec", codec, stats


def test_load_asr_takes_a_world_judge_or_a_transformers_model(tmp_path, tiny_whisper):
    from slmlib.judges.hf_asr import PipelineASR

    cfg, vocab = ASRConfig(), CharVocab.from_texts(["abc"])
    ASR(cfg, vocab, CTCRecognizer(cfg, len(vocab))).save_pretrained(tmp_path / "world")
    assert isinstance(load_asr(str(tmp_path / "world"), "en"), ASR)
    whisper = load_asr(str(tiny_whisper), "en")
    assert isinstance(whisper, PipelineASR) and whisper.generate_kwargs["language"] == "en"
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="save_pretrained"):
        load_asr(str(tmp_path / "empty"), "en")


def test_speaker_embedder_is_resemblyzer_by_default_and_wavlm_layer_12_by_path(spoken, tiny_wavlm):
    clips = spoken[0]
    assert speaker_embedder("") is embed
    wavlm = speaker_embedder(str(tiny_wavlm))
    v = wavlm(clips[0])
    assert v.shape == (16,) and np.linalg.norm(v) == pytest.approx(1.0, abs=1e-5)


def test_folder_key_follows_the_files(tmp_path, tiny_wavlm):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tiny_wavlm, copy)
    assert folder_key(str(copy)) == folder_key(str(tiny_wavlm))
    (copy / "extra.bin").write_bytes(b"x")
    assert folder_key(str(copy)) != folder_key(str(tiny_wavlm))


def test_asr_model_by_path_replaces_the_world_recognisers(spoken, tiny_whisper):
    _, paths, *_ = spoken
    manifest = pd.DataFrame({"lang": ["en", "th"]})
    cfg = JudgesConfig(asr_model=str(tiny_whisper))
    judges = train_asr_judges(manifest, None, cfg, None, seed=0, workers=1)   # nothing is trained
    assert set(judges.folders) == {"en", "th"} and set(judges.folders.values()) == {str(tiny_whisper)}
    assert judges.judge_keys("en") == [folder_key(str(tiny_whisper))]
    hyps = transcribe(paths, ["en", "en"], judges, workers=1)
    assert len(hyps) == 2 and all(isinstance(h, str) for h in hyps)
    assert hyps == load_asr(str(tiny_whisper), "en").transcribe(spoken[0])


def test_judge_tokens_with_whisper_and_wavlm_by_path(spoken, tiny_whisper, tiny_wavlm, tmp_path):
    clips, paths, codec_folder, codec, stats = spoken
    items = pd.DataFrame({"id": ["u0", "u1"], "lang": "en", "text": [" ".join(t) for t in TEXTS],
                          "speaker": "s0", "reference_path": paths[0], "recording_path": paths})
    tokens = [codec.encode(c, stats) for c in clips]
    args = (items, tokens, str(codec_folder), {"en": str(tiny_whisper)}, {"s0": stats})
    real = judge_tokens(*args, tmp_path / "a", workers=1, speaker_model=str(tiny_wavlm))
    world = judge_tokens(*args, tmp_path / "b", workers=1)
    assert list(real.id) == ["u0", "u1"] and real.hypothesis.map(type).eq(str).all()
    assert real.cer.between(0, 10).all() and real.speaker_sim.between(-1, 1).all()
    # the SIM comes from the model asked for: WavLM's numbers are not resemblyzer's
    assert not np.allclose(real.speaker_sim, world.speaker_sim)
    assert list(real.hypothesis) == list(world.hypothesis)       # same recogniser both times
