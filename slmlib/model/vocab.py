"""One vocabulary for text characters, speech tokens and specials, and the sequence layout.

    <bos> <lang> [<prompt> prompt-speech-tokens] <text> raw-script-characters <speech> speech-tokens <eos>

Characters rather than a trained BPE: P1 feeds raw Thai/Lao script with no G2P, and at this
model size a character vocabulary is the smallest that covers every script of the world.
Ids: specials, then language tags, then characters, then the codec's speech tokens, so that
speech token ``t`` is id ``speech_offset + t``.

A pretrained backbone keeps its own tokenizer instead (:class:`PretrainedTextVocab`): its text
ids, and so its trained embeddings, stay where they are, and the specials, language tags and
speech tokens are appended after them as new rows.
"""
from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from slmlib.later import later

SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>", "<prompt>", "<text>", "<speech>")
VOCAB_FILE = "slm_vocab.json"
IGNORE = -100            # label of positions without loss (the HF convention)


class VocabError(ValueError):
    """Text or tokens the vocabulary cannot encode."""


@dataclass(frozen=True)
class SpeechVocab:
    languages: tuple[str, ...]
    characters: tuple[str, ...]
    n_speech: int
    # speech token t = content * pitch_codes + pitch (the codec's layout), declared for a model
    # with a factorised speech embedding and head (slmlib.model.factorised); 1 = not declared
    pitch_codes: int = later(1)

    @classmethod
    def build(cls, texts: Iterable[str], languages: Sequence[str], n_speech: int,
              pitch_codes: int = 1) -> "SpeechVocab":
        chars = sorted({c for t in texts for c in unicodedata.normalize("NFC", t)})
        return cls(tuple(sorted(languages)), tuple(chars), int(n_speech), int(pitch_codes))

    # --- ids ---------------------------------------------------------------------------------
    def id(self, special: str) -> int:
        return SPECIALS.index(special)

    @property
    def pad_id(self) -> int:
        return self.id("<pad>")

    @property
    def eos_id(self) -> int:
        return self.id("<eos>")

    def lang_id(self, lang: str) -> int:
        if lang not in self.languages:
            raise VocabError(f"language {lang!r} is not in the vocabulary {self.languages}")
        return len(SPECIALS) + self.languages.index(lang)

    @property
    def char_offset(self) -> int:
        return len(SPECIALS) + len(self.languages)

    @property
    def speech_offset(self) -> int:
        return self.char_offset + len(self.characters)

    @property
    def size(self) -> int:
        return self.speech_offset + self.n_speech

    def is_text(self, ids):
        """Which ids (an int tensor or array) are text tokens."""
        return (ids >= self.char_offset) & (ids < self.speech_offset)

    def text_ids(self, text: str) -> list[int]:
        text = unicodedata.normalize("NFC", text).strip()
        if not text:
            raise VocabError("empty text: there is nothing to synthesise")
        unk = self.id("<unk>")
        return [self._char_ids.get(c, unk) for c in text]

    @cached_property
    def _char_ids(self) -> dict[str, int]:
        return {c: self.char_offset + i for i, c in enumerate(self.characters)}

    def speech_ids(self, tokens: np.ndarray) -> list[int]:
        tokens = np.asarray(tokens, dtype=np.int64)
        if len(tokens) and (tokens.min() < 0 or tokens.max() >= self.n_speech):
            raise VocabError(f"speech tokens must lie in [0, {self.n_speech}), got "
                             f"{tokens.min()}..{tokens.max()}: was the vocabulary built for this codec?")
        return (tokens + self.speech_offset).tolist()

    # --- sequences ---------------------------------------------------------------------------
    def prefix(self, lang: str, text: str, prompt: np.ndarray | None = None) -> list[int]:
        """Everything up to and including ``<speech>``: what generation starts from."""
        ids = [self.id("<bos>"), self.lang_id(lang)]
        if prompt is not None and len(prompt):
            ids += [self.id("<prompt>"), *self.speech_ids(prompt)]
        return ids + [self.id("<text>"), *self.text_ids(text), self.id("<speech>")]

    def training_example(self, lang: str, text: str, speech: np.ndarray,
                         prompt: np.ndarray | None = None) -> tuple[list[int], list[int]]:
        """(input ids, labels): the loss falls on the speech tokens and ``<eos>`` only."""
        prefix = self.prefix(lang, text, prompt)
        target = self.speech_ids(speech) + [self.eos_id]
        return prefix + target, [IGNORE] * len(prefix) + target

    def speech_from_ids(self, ids: Sequence[int]) -> np.ndarray:
        """Generated ids -> codec tokens, cut at the first ``<eos>`` (non-speech ids dropped)."""
        ids = np.asarray(ids, dtype=np.int64)
        stop = np.flatnonzero(ids == self.eos_id)
        ids = ids[: stop[0]] if len(stop) else ids
        ids = ids[(ids >= self.speech_offset) & (ids < self.size)]
        return ids - self.speech_offset

    # --- artefact ------------------------------------------------------------------------
    def save_pretrained(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / VOCAB_FILE
        path.write_text(json.dumps({"specials": SPECIALS, "languages": self.languages,
                                    "characters": self.characters, "n_speech": self.n_speech,
                                    "pitch_codes": self.pitch_codes}, ensure_ascii=False, indent=1))
        return path

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> "SpeechVocab":
        """The vocabulary saved in ``folder`` (either kind)."""
        data = json.loads((Path(folder) / VOCAB_FILE).read_text())
        if tuple(data["specials"]) != SPECIALS:
            raise VocabError(f"{folder} was saved with other special tokens {data['specials']}")
        if "n_text" in data:
            return PretrainedTextVocab(tuple(data["languages"]), (), int(data["n_speech"]),
                                       tokenizer_path=str(folder), n_text=int(data["n_text"]))
        return cls(tuple(data["languages"]), tuple(data["characters"]), int(data["n_speech"]),
                   int(data.get("pitch_codes", 1)))


@dataclass(frozen=True)
class PretrainedTextVocab(SpeechVocab):
    """Text through a pretrained LM's own tokenizer: ids ``0 .. n_text-1`` are its tokens (their
    trained embeddings are kept), then our specials, language tags and speech tokens."""

    tokenizer_path: str = ""
    n_text: int = 0

    @classmethod
    def from_tokenizer(cls, path: str | Path, languages: Sequence[str], n_speech: int) -> "PretrainedTextVocab":
        from transformers import AutoTokenizer

        n_text = len(AutoTokenizer.from_pretrained(str(path)))
        return cls(tuple(sorted(languages)), (), int(n_speech), tokenizer_path=str(path), n_text=n_text)

    @cached_property
    def tokenizer(self):
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(self.tokenizer_path)

    def id(self, special: str) -> int:
        return self.n_text + SPECIALS.index(special)

    def lang_id(self, lang: str) -> int:
        return self.n_text + super().lang_id(lang)

    @property
    def char_offset(self) -> int:      # our ids start after the tokenizer's
        return self.n_text + len(SPECIALS) + len(self.languages)

    def is_text(self, ids):
        return ids < self.n_text

    def text_ids(self, text: str) -> list[int]:
        text = unicodedata.normalize("NFC", text).strip()
        if not text:
            raise VocabError("empty text: there is nothing to synthesise")
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def save_pretrained(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.tokenizer.save_pretrained(folder)
        path = folder / VOCAB_FILE
        path.write_text(json.dumps({"specials": SPECIALS, "languages": self.languages, "n_text": self.n_text,
                                    "n_speech": self.n_speech}, ensure_ascii=False, indent=1))
        return path


def build_vocab(texts: Iterable[str], languages: Sequence[str], n_speech: int,
                model_name_or_path: str = "", pitch_codes: int = 1) -> SpeechVocab:
    """Characters of ``texts`` for a model trained from scratch (``pitch_codes`` > 1 declares the
    speech tokens' (content, pitch) layout for a factorised head); the backbone's own tokenizer
    for a pretrained ``model_name_or_path``, whose speech rows are plain embedding rows."""
    if model_name_or_path:
        return PretrainedTextVocab.from_tokenizer(model_name_or_path, languages, n_speech)
    return SpeechVocab.build(texts, languages, n_speech, pitch_codes)
