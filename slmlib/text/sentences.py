"""Seeded template sentences for Thai, Lao and English.

No Thai or Lao sentence corpus ships offline, and a tag-bigram model mined from tagger weights
gives word salad, so sentences come from SVO templates: hand-written closed classes (pronouns,
auxiliaries, negation, particles, prepositions, numerals, classifiers, conjunctions) around
frequency-weighted open-class words from :mod:`slmlib.text.lexicon`. The result is grammatical
in shape and nonsense in meaning, which is all a TTS world needs: learnable, consistent text.

Thai and Lao are written without spaces between words (as the script is); the word list is
kept beside the text for word-level faults, alignment and WER segmentation.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

CLOSED_CLASSES: dict[str, dict[str, tuple[str, ...]]] = {
    "th": {
        "PRON": ("ผม", "ฉัน", "เขา", "เธอ", "เรา", "คุณ", "พ่อ", "แม่", "น้อง", "ครู"),
        "AUX": ("จะ", "ต้อง", "ได้", "กำลัง", "ควร", "อยาก", "เคย"),
        "NEG": ("ไม่",),
        "ADV": ("มาก", "แล้ว", "อีก", "ด้วย", "ทุกวัน", "ตอนเช้า", "วันนี้", "พรุ่งนี้", "เสมอ"),
        "PART": ("นะ", "ครับ", "ค่ะ", "จ้ะ"),
        "PREP": ("ใน", "กับ", "จาก", "บน", "ของ", "ให้", "ใกล้"),
        "NUM": ("หนึ่ง", "สอง", "สาม", "สี่", "ห้า", "หก"),
        "CLF": ("คน", "ตัว", "อัน", "ชิ้น", "หลัง", "เล่ม"),
        "CONJ": ("และ", "แต่", "เพราะ", "ถ้า"),
        "Q": ("ไหม", "หรือเปล่า"),
    },
    "lo": {
        "PRON": ("ຂ້ອຍ", "ເຈົ້າ", "ລາວ", "ເຮົາ", "ພວກເຂົາ", "ພໍ່", "ແມ່", "ນ້ອງ", "ຄູ"),
        "AUX": ("ຈະ", "ຕ້ອງ", "ໄດ້", "ກຳລັງ", "ຄວນ", "ຢາກ", "ເຄີຍ"),
        "NEG": ("ບໍ່",),
        "ADV": ("ຫຼາຍ", "ແລ້ວ", "ອີກ", "ມື້ນີ້", "ມື້ອື່ນ", "ຕອນເຊົ້າ", "ສະເໝີ"),
        "PART": ("ເດີ", "ເນາະ", "ແດ່"),
        "PREP": ("ໃນ", "ກັບ", "ຈາກ", "ເທິງ", "ຂອງ", "ໃຫ້", "ໃກ້"),
        "NUM": ("ໜຶ່ງ", "ສອງ", "ສາມ", "ສີ່", "ຫ້າ", "ຫົກ"),
        "CLF": ("ຄົນ", "ໂຕ", "ອັນ", "ຫຼັງ", "ຫົວ"),
        "CONJ": ("ແລະ", "ແຕ່", "ເພາະ", "ຖ້າ"),
        "Q": ("ບໍ",),
    },
    "en": {
        "PRON": ("i", "you", "he", "she", "we", "they"),
        "DET": ("the", "a", "this", "that", "every", "my", "our", "their"),
        "AUX": ("will", "can", "should", "must", "might", "could", "would"),
        "NEG": ("not",),
        "ADV": ("today", "again", "slowly", "quickly", "now", "later", "often", "soon", "tonight"),
        "PREP": ("in", "on", "with", "from", "near", "under", "behind", "after"),
        "CONJ": ("and", "but", "because", "so"),
    },
}

LANGUAGES = tuple(CLOSED_CLASSES)


@dataclass(frozen=True)
class Sentence:
    lang: str
    words: tuple[str, ...]

    @property
    def text(self) -> str:
        """Raw script as the SLM reads it: no spaces in Thai and Lao, spaces in English."""
        return (" " if self.lang == "en" else "").join(self.words)


class SentenceGenerator:
    """Draw template sentences from closed classes and weighted open-class words."""

    def __init__(self, lang: str, open_class: Mapping[str, Mapping[str, float]]):
        if lang not in CLOSED_CLASSES:
            raise ValueError(f"unsupported language {lang!r}; supported: {', '.join(LANGUAGES)}")
        self.lang = lang
        self.closed = CLOSED_CLASSES[lang]
        self.open: dict[str, tuple[tuple[str, ...], np.ndarray]] = {}
        for pos, words in open_class.items():
            if not words:
                raise ValueError(f"{lang}: no {pos} words to build sentences from")
            items = sorted(words.items())
            weights = np.array([w for _, w in items], dtype=float) ** 0.5  # flatten the Zipf head
            self.open[pos] = (tuple(w for w, _ in items), weights / weights.sum())

    def _pick(self, rng: np.random.Generator, pos: str) -> str:
        if pos in self.open:
            words, p = self.open[pos]
            return words[rng.choice(len(words), p=p)]
        options = self.closed[pos]
        return options[rng.integers(len(options))]

    def _clause(self, rng: np.random.Generator) -> list[str]:
        opt = lambda p: rng.random() < p   # noqa: E731 - a local shorthand for optional slots
        if self.lang == "en":
            subj = ["PRON"] if opt(0.4) else ["DET"] + (["ADJ"] if opt(0.4) else []) + ["N"]
            slots = subj + ["AUX"] + (["NEG"] if opt(0.2) else []) + ["V"]
            slots += ["DET"] + (["ADJ"] if opt(0.5) else []) + ["N"]
            slots += (["PREP", "DET", "N"] if opt(0.4) else []) + (["ADV"] if opt(0.4) else [])
        else:
            # Thai and Lao put negation before the auxiliary (ไม่เคย, ບໍ່ໄດ້)
            slots = ["PRON" if opt(0.6) else "N"] + (["NEG"] if opt(0.2) else [])
            slots += (["AUX"] if opt(0.6) else []) + ["V", "N"]
            slots += ["NUM", "CLF"] if opt(0.2) else (["ADJ"] if opt(0.5) else [])
            slots += (["PREP", "N"] if opt(0.35) else []) + (["ADV"] if opt(0.4) else [])
        return [self._pick(rng, pos) for pos in slots]

    def sentence(self, rng: np.random.Generator, min_words: int, max_words: int) -> Sentence:
        """One sentence of ``min_words``..``max_words`` words (clauses chained by a conjunction)."""
        if not 1 <= min_words <= max_words:
            raise ValueError(f"need 1 <= min_words <= max_words, got {min_words}, {max_words}")
        for _ in range(1000):
            words = self._clause(rng)
            while len(words) < min_words:
                words += [self._pick(rng, "CONJ")] + self._clause(rng)
            if self.lang != "en" and rng.random() < 0.3:
                words.append(self._pick(rng, "PART" if rng.random() < 0.7 else "Q"))
            if len(words) <= max_words:
                return Sentence(self.lang, tuple(words))
        raise ValueError(f"cannot fit a sentence into {min_words}-{max_words} words")

    def unique_sentences(self, n: int, rng: np.random.Generator, min_words: int,
                         max_words: int) -> list[Sentence]:
        """``n`` sentences with distinct texts, in the order drawn."""
        seen: dict[str, Sentence] = {}
        attempts = 0
        while len(seen) < n:
            s = self.sentence(rng, min_words, max_words)
            seen.setdefault(s.text, s)
            attempts += 1
            if attempts > 50 * n + 1000:
                raise ValueError(f"{self.lang}: only {len(seen)} distinct sentences after "
                                 f"{attempts} draws; enlarge the vocabulary (world.vocab_per_class)")
        return list(seen.values())

    def vocabulary(self) -> set[str]:
        """Every word this generator can emit (what the G2P must cover)."""
        words = {w for options in self.closed.values() for w in options}
        return words | {w for ws, _ in self.open.values() for w in ws}
