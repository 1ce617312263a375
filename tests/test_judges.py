import numpy as np
import pandas as pd
import pytest

from slmlib.judges.emotion import EmotionJudge, emo_align, emotion_features
from slmlib.judges.speaker import WavLMSimilarity
from slmlib.world.render import UtteranceSpec, render
from slmlib.world.voices import real_speakers

WORDS = [("the", "old", "man", "will", "open", "the", "door"),
         ("we", "should", "meet", "my", "friend", "today"),
         ("a", "small", "dog", "can", "find", "the", "red", "ball")]


@pytest.fixture(scope="module")
def expressive(espeak):
    """Two speakers x three texts x (sad, surprised), with each speaker's register."""
    rows = []
    for voice in real_speakers("en", 2, (160, 180), 0):
        for emotion in ("sad", "surprised"):
            for i, words in enumerate(WORDS):
                audio = render(UtteranceSpec(f"{voice.name}{emotion}{i}", "train", words, words,
                                             voice, emotion, i)).audio
                rows.append({"audio": audio, "text": " ".join(words), "emotion": emotion,
                             "speaker": voice.name, "hz": 120.0 * voice.f0_ratio * voice.espeak_pitch / 50})
    return rows


def test_emotion_judge_separates_clear_emotions(expressive, tmp_path):
    feats = pd.DataFrame([emotion_features(r["audio"], r["text"], r["hz"]) for r in expressive])
    labels = [r["emotion"] for r in expressive]
    assert np.isfinite(feats.to_numpy()).all()
    judge = EmotionJudge.fit(feats, labels)
    assert emo_align(list(judge.predict(feats)), labels) == 1.0
    loaded = EmotionJudge.from_pretrained(judge.save_pretrained(tmp_path / "emo"))
    assert list(loaded.predict(feats)) == list(judge.predict(feats))
    assert loaded.classes == ["sad", "surprised"]
    with pytest.raises(ValueError, match="lacks"):
        judge.predict(feats.drop(columns="f0_std_st"))
    with pytest.raises(FileNotFoundError):
        EmotionJudge.from_pretrained(tmp_path)


def test_wavlm_similarity_on_a_tiny_random_model(tmp_path, expressive):
    from transformers import Wav2Vec2FeatureExtractor, WavLMConfig, WavLMModel

    cfg = WavLMConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                      conv_dim=(16, 16), conv_stride=(5, 4), conv_kernel=(10, 8),
                      num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2)
    WavLMModel(cfg).save_pretrained(tmp_path / "wavlm")
    Wav2Vec2FeatureExtractor(sampling_rate=16000).save_pretrained(tmp_path / "wavlm")
    sim = WavLMSimilarity(str(tmp_path / "wavlm"), layer=2)
    a, b = expressive[0]["audio"], expressive[-1]["audio"]
    assert sim.similarity(a, a) == pytest.approx(1.0, abs=1e-5)
    assert -1.0 <= sim.similarity(a, b) <= 1.0
    with pytest.raises(ValueError, match="layer 12 does not exist"):
        WavLMSimilarity(str(tmp_path / "wavlm"), layer=12)
    with pytest.raises(ValueError, match="resample"):
        sim.embed(a, sample_rate=22050)


def test_whisper_by_local_path(tiny_whisper, expressive):
    from slmlib.judges.hf_asr import PipelineASR

    asr = PipelineASR(str(tiny_whisper))
    clips = [r["audio"] for r in expressive[:3]]
    texts = asr.transcribe(clips)
    assert asr.is_whisper and len(texts) == 3 and all(isinstance(t, str) for t in texts)
    assert asr.transcribe(clips) == texts                    # greedy decoding is deterministic
    with pytest.raises(ValueError, match="resample"):
        asr.transcribe(clips, sample_rate=8000)


def test_emotion_classifier_by_local_path(tmp_path, expressive):
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2ForSequenceClassification

    from slmlib.judges.hf_emotion import PipelineEmotion

    labels = ["neu", "hap", "sad", "ang", "fear"]
    cfg = Wav2Vec2Config(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                         conv_dim=(16, 16), conv_stride=(5, 4), conv_kernel=(10, 4), num_feat_extract_layers=2,
                         num_labels=len(labels), id2label=dict(enumerate(labels)),
                         label2id={l: i for i, l in enumerate(labels)}, classifier_proj_size=16)
    Wav2Vec2ForSequenceClassification(cfg).save_pretrained(tmp_path / "emo")
    Wav2Vec2FeatureExtractor(sampling_rate=16000).save_pretrained(tmp_path / "emo")
    judge = PipelineEmotion(str(tmp_path / "emo"), label_map={"fear": "fearful"})
    assert judge.labels == ["neutral", "happy", "sad", "angry", "fearful"]
    clips = [r["audio"] for r in expressive[:3]]
    probs = judge.probabilities(clips)
    assert probs.shape == (3, 5) and np.allclose(probs.sum(axis=1), 1, atol=1e-4)
    assert judge.predict(clips) == [judge.labels[i] for i in probs.argmax(axis=1)]
    with pytest.raises(ValueError, match="resample"):
        judge.predict(clips, sample_rate=8000)


def test_speaker_gap_is_held_out_over_training_speakers_cer():
    from slmlib.judges.pipeline import findings, speaker_gap

    dev = pd.DataFrame({"lang": ["th"] * 4 + ["en"] * 2, "cer": [0.1] * 4 + [0.2, 0.2]})
    test = pd.DataFrame({"lang": ["th"] * 6 + ["lo"] * 2, "is_real": [True] * 5 + [False] + [True] * 2,
                         "condition": ["original"] * 4 + ["resynthesis", "original", "original", "original"],
                         "cer": [0.3, 0.3, 0.3, 0.3, 0.9, 0.0, 0.5, 0.5]})
    gap = speaker_gap(dev, test)
    # en has no held-out rows and lo no dev rows; th: only real original clips count
    assert gap.lang.tolist() == ["th"]
    row = gap.iloc[0]
    assert row["training speakers"] == 0.1 and row["held-out speakers"] == 0.3
    assert row["ratio"] == pytest.approx(3.0) and row["ratio low"] == pytest.approx(row["ratio high"])
    summary = pd.DataFrame({"lang": ["th"], "kind": ["real"], "condition": ["original"], "cer_mean": [0.3],
                            "cer_low": [0.3], "cer_high": [0.3], "wer_mean": [0.5], "wer_corpus": [0.5],
                            "cer_corpus": [0.3]})
    table = pd.DataFrame({"lang": ["th"], "stride": [4], "train_seconds": [1.0], "data_seconds": [1.0]})
    emotion = pd.DataFrame({"emotion": ["sad", "happy"], "predicted": ["sad", "sad"]})
    quality = pd.DataFrame({"what": ["any fault", "precision (rejected that had a fault)", "clean clips kept"],
                            "rate": [0.5, 0.5, 0.5]})
    assert "3.00x [3.00, 3.00]" in findings(summary, table, emotion, quality, gap)
