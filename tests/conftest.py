import numpy as np
import pytest
import torch

from slmlib.model.config import SLMConfig
from slmlib.model.data import Utterance, encode_examples, with_prompts
from slmlib.model.train import train_slm
from slmlib.model.vocab import SpeechVocab


@pytest.fixture(autouse=True)
def _leaves_torch_threads():
    """Every test leaves torch's thread count as it found it: a later test that trains in this
    process and compares with a fresh process would otherwise run on another count."""
    before = torch.get_num_threads()
    yield
    assert torch.get_num_threads() == before, "the test left torch's thread count changed"


@pytest.fixture(scope="session")
def espeak():
    """The espeak-ng engine; the test command installs espeak-ng, so a missing one fails."""
    from slmlib.world.espeak import engine
    return engine()


@pytest.fixture(scope="session")
def sft(tmp_path_factory):
    """A tiny SLM trained for 20 steps on 32 five-letter texts (speaker s0): (folder, vocab, utterances)."""
    vocab = SpeechVocab.build(["abcde "], ["en"], 30)
    rng = np.random.default_rng(0)
    utts = []
    for i in range(32):
        text = "".join(rng.choice(list("abcde"), 5))
        utts.append(Utterance("en", text, "s0", np.array([(ord(c) * 3) % 30 for c in text])))
    cfg = SLMConfig(hidden_size=32, layers=1, heads=2, intermediate_size=64, steps=20,
                    batch_size=8, warmup=2, lr=5e-3, bf16=False)
    folder = tmp_path_factory.mktemp("sft")
    train_slm(encode_examples(vocab, with_prompts(utts, 0.0, 4, 0)), vocab, cfg, 0, folder)
    return folder, vocab, utts


@pytest.fixture(scope="session")
def tiny_whisper(tmp_path_factory):
    """A randomly initialised Whisper with a byte-level vocabulary, saved like a real one."""
    import json

    from transformers import (WhisperConfig, WhisperFeatureExtractor, WhisperForConditionalGeneration,
                              WhisperProcessor, WhisperTokenizer)
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    folder = tmp_path_factory.mktemp("whisper")
    (folder / "vocab.json").write_text(json.dumps({c: i for i, c in enumerate(bytes_to_unicode().values())}))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    eot = "<|endoftext|>"
    tok = WhisperTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), unk_token=eot,
                           bos_token=eot, eos_token=eot, pad_token=eot)
    tok.add_special_tokens({"additional_special_tokens": [
        "<|startoftranscript|>", "<|en|>", "<|th|>", "<|lo|>", "<|translate|>", "<|transcribe|>",
        "<|notimestamps|>"]})
    ids = tok.convert_tokens_to_ids
    cfg = WhisperConfig(vocab_size=len(tok), d_model=32, encoder_layers=1, decoder_layers=1,
                        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64,
                        decoder_ffn_dim=64, max_target_positions=64, pad_token_id=ids(eot),
                        bos_token_id=ids(eot), eos_token_id=ids(eot),
                        decoder_start_token_id=ids("<|startoftranscript|>"))
    model = WhisperForConditionalGeneration(cfg)
    gen = model.generation_config          # what a multilingual Whisper's generation config holds
    gen.max_length, gen.is_multilingual, gen._from_model_config = 12, True, False
    gen.lang_to_id = {f"<|{lang}|>": ids(f"<|{lang}|>") for lang in ("en", "th", "lo")}
    gen.task_to_id = {task: ids(f"<|{task}|>") for task in ("transcribe", "translate")}
    gen.no_timestamps_token_id = ids("<|notimestamps|>")
    model.save_pretrained(folder)
    WhisperProcessor(WhisperFeatureExtractor(), tok).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_wavlm(tmp_path_factory):
    """A randomly initialised WavLM with P1's 12 layers (tiny widths), saved like a real one."""
    from transformers import Wav2Vec2FeatureExtractor, WavLMConfig, WavLMModel

    folder = tmp_path_factory.mktemp("wavlm")
    cfg = WavLMConfig(hidden_size=16, num_hidden_layers=12, num_attention_heads=2, intermediate_size=32,
                      conv_dim=(16, 16), conv_stride=(5, 4), conv_kernel=(10, 8),
                      num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2)
    WavLMModel(cfg).save_pretrained(folder)
    Wav2Vec2FeatureExtractor(sampling_rate=16000).save_pretrained(folder)
    return folder
