"""Words -> espeak-ng phoneme mnemonics, one word at a time.

espeak-ng 1.51's Thai text rules are wrong for nearly every word and it has no Lao voice, so
Thai and Lao go through a rule-based G2P that ships offline (tltk for Thai, lao2ipa for Lao),
then through a hand-written IPA -> espeak mnemonic table for the ``th`` voice (which uses the
Shan phoneme table). No library maps IPA to espeak mnemonics, hence the tables below; they come
from ``shared/notes/thai_lao_rendering.md``. English uses espeak-ng's own G2P, so its
"phonemes" are the word itself.

A word's phoneme string is a list of syllables, each a list of mnemonics plus an espeak tone
digit; :func:`espeak_string` joins them into what goes between ``[[`` and ``]]``.
"""
from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass


class G2PError(ValueError):
    """A word the rule-based G2P cannot turn into known espeak phonemes."""


@dataclass(frozen=True)
class Syllable:
    phonemes: tuple[str, ...]
    tone: int | None          # espeak tone digit (1-6), None for English

    def espeak(self) -> str:
        return "".join(self.phonemes) + (str(self.tone) if self.tone else "")


# --- IPA -> espeak (th voice) ------------------------------------------------------------
CONSONANTS = {
    "pʰ": "p_h", "tʰ": "t_h", "kʰ": "k_h", "cʰ": "tS", "tɕʰ": "tS",
    "p": "p", "t": "t", "k": "k", "c": "tS;", "tɕ": "tS;",
    "b": "b", "d": "d", "ʔ": "?", "m": "m", "n": "n", "ŋ": "N", "ɲ": "n^",
    "f": "f", "s": "s", "h": "h", "r": "r", "l": "l", "w": "w", "ʋ": "w", "j": "j",
}
VOWELS = {
    "a": "a", "aː": "a:", "i": "i", "iː": "i:", "ɯ": "W", "ɯː": "W:", "u": "u", "uː": "u:",
    "e": "e", "eː": "e:", "ɛ": "E", "ɛː": "E:", "o": "o", "oː": "o:",
    "ɔ": "O", "ɔː": "O:", "ᴐ": "O", "ᴐː": "O:", "ɤ": "@", "ɤː": "@:", "ə": "@", "əː": "@:",
    "iːa": "i@", "iə": "i@", "ia": "i@", "iːə": "i@",
    "ɯːa": "W@", "ɯə": "W@", "ɯa": "W@", "ɯːə": "W@",
    "uːa": "u@", "uə": "u@", "ua": "u@", "uːə": "u@",
}
# vowel + final glide -> one espeak diphthong phoneme, where the Shan table has one
GLIDE_DIPHTHONGS = {
    ("a", "j"): "ai", ("aː", "j"): "a:i", ("u", "j"): "ui", ("uː", "j"): "ui",
    ("o", "j"): "oi", ("oː", "j"): "oi", ("ɔ", "j"): "Oi", ("ɔː", "j"): "Oi",
    ("ᴐ", "j"): "Oi", ("ᴐː", "j"): "Oi", ("ɯ", "j"): "Wi", ("ɯː", "j"): "Wi",
    ("ɤ", "j"): "@i", ("ɤː", "j"): "@i", ("ə", "j"): "@i", ("əː", "j"): "@i",
    ("a", "w"): "au", ("aː", "w"): "a:u", ("i", "w"): "iu", ("iː", "w"): "iu",
    ("e", "w"): "eu", ("eː", "w"): "eu", ("ɛ", "w"): "Eu", ("ɛː", "w"): "Eu",
}
SYMBOLS = sorted({**CONSONANTS, **VOWELS}, key=len, reverse=True)   # longest match first

THAI_TONES = {"1": 3, "2": 2, "3": 5, "4": 4, "5": 1}      # tltk digit -> espeak Shan tone
THAI_TONE_NAMES = {3: "mid", 2: "low", 5: "falling", 4: "high", 1: "rising"}   # by espeak tone
LAO_TONES = {"˧˥": 4, "˩˧": 2, "˧": 6, "˥˨": 5, "˧˩": 3}   # lao2ipa letters -> espeak tone
TONE_LETTERS = "˥˦˧˨˩"


def ipa_syllable(ipa: str, tone: int) -> Syllable:
    """Segment one IPA syllable by longest match and map it to espeak mnemonics."""
    ipa = ipa.replace("ʷ", "w").replace("ɡ", "g")
    segments: list[str] = []
    i = 0
    while i < len(ipa):
        for sym in SYMBOLS:
            if ipa.startswith(sym, i):
                segments.append(sym)
                i += len(sym)
                break
        else:
            raise G2PError(f"IPA symbol {ipa[i]!r} (U+{ord(ipa[i]):04X}) in {ipa!r} has no espeak mapping")
    if not any(s in VOWELS for s in segments):
        raise G2PError(f"IPA syllable {ipa!r} has no vowel")
    if len(segments) >= 2 and (segments[-2], segments[-1]) in GLIDE_DIPHTHONGS:
        segments = segments[:-2] + ["\0" + GLIDE_DIPHTHONGS[(segments[-2], segments[-1])]]
    phonemes = tuple(s[1:] if s.startswith("\0") else CONSONANTS.get(s) or VOWELS[s]
                     for s in segments)
    return Syllable(phonemes, tone)


# --- Thai ------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _tltk():
    try:
        from tltk import nlp
    except ImportError as err:   # pragma: no cover - depends on the install
        raise G2PError("Thai G2P needs tltk: run `make setup` (it installs tltk with --no-deps)") from err
    return nlp


def thai_word(word: str) -> list[Syllable]:
    """A Thai word -> syllables, via tltk's IPA (with tone digits)."""
    try:
        ipa = _tltk().th2ipa(word)
    except Exception as err:   # tltk raises KeyError/IndexError on letters it has no rule for
        raise G2PError(f"tltk cannot read {word!r}: {type(err).__name__} {err}") from None
    ipa = ipa.replace("<s/>", " ").strip()
    syllables = []
    for part in re.split(r"[.\s]+", ipa):
        if not part:
            continue
        m = re.fullmatch(r"(.+?)([1-5])", part)
        if not m:
            raise G2PError(f"tltk gave {part!r} for {word!r}: no tone digit")
        syllables.append(ipa_syllable(m.group(1), THAI_TONES[m.group(2)]))
    if not syllables:
        raise G2PError(f"tltk gave nothing for {word!r}")
    return syllables


# --- Lao -------------------------------------------------------------------------------
def _lao_syllables(word: str) -> list[str]:
    from laonlp.tokenize import syllable_tokenize

    # decomposed sara am (ໍ + optional tone mark + າ) -> tone mark + ຳ; lao2ipa garbles it
    word = re.sub("\u0ecd([\u0ec8-\u0ecb]?)\u0eb2", "\\1\u0eb3", word)
    out: list[str] = []
    for syl in syllable_tokenize(word):
        if syl == "ໆ":                                   # repeat mark: say the previous syllable again
            if out:
                out.append(out[-1])
            continue
        out.append(syl)
    return out


def _lao2ipa(syllable: str) -> str:
    try:
        return _lao2ipa_raw(syllable)
    except Exception as err:   # lao2ipa raises on spellings it has no rule for
        raise G2PError(f"lao2ipa cannot read {syllable!r}: {type(err).__name__} {err}") from None


def _lao2ipa_raw(syllable: str) -> str:
    from lao2ipa import transliterate

    if syllable.startswith("ອ") and len(syllable) > 1:
        # Syllable-initial ອ is read as the vowel ɔː and its tone is lost; read it as ກ
        # (same consonant class) and turn the initial k back into a glottal stop.
        ipa = transliterate("ກ" + syllable[1:])
        return "ʔ" + ipa[1:] if ipa.startswith("k") else ipa
    return transliterate(syllable)


def _split_lao_tones(ipa: str) -> list[tuple[str, int]]:
    """'neː˧˥laː˧' -> [('neː', 4), ('laː', 6)]; every syllable must end in a known tone."""
    parts = re.findall(f"([^{TONE_LETTERS}]+)([{TONE_LETTERS}]+)", ipa)
    if not parts or "".join(a + b for a, b in parts) != ipa or any(t not in LAO_TONES for _, t in parts):
        raise G2PError(f"lao2ipa gave {ipa!r}: not a sequence of toned syllables")
    return [(segs, LAO_TONES[t]) for segs, t in parts]


def _lao_syllable_ipa(syllable: str) -> list[tuple[str, int]]:
    try:
        return _split_lao_tones(_lao2ipa(syllable))
    except G2PError:
        # Medial ວ/ອ (ວ່ອງ, ກວດ) makes lao2ipa lose the tone: take the tone from the same
        # syllable spelled with າ and the segments from the original.
        if not re.search("[ອວ]", syllable[1:]):
            raise
        segs = re.sub(f"[{TONE_LETTERS}]+", "", _lao2ipa(syllable))
        toned = _split_lao_tones(_lao2ipa(syllable[0] + re.sub("[ອວ]", "າ", syllable[1:])))
        if len(toned) != 1:
            raise
        return [(segs, toned[0][1])]


def lao_word(word: str) -> list[Syllable]:
    """A Lao word -> syllables, syllable by syllable through lao2ipa (more robust than words)."""
    syllables = []
    parts = _lao_syllables(word)
    if not parts:
        raise G2PError(f"laonlp cannot split {word!r} into syllables")
    for syl in parts:
        for segs, tone in _lao_syllable_ipa(syl):
            # Medial ວ/ອ in closed syllables loses its vowel (ກວດ -> kʷt): restore it as uːə.
            segs = re.sub(r"[ʷʋ]([ptkmnŋ])$", r"uːə\1", segs)
            syllables.append(ipa_syllable(segs, tone))
    return syllables


# --- English and the common entry point -----------------------------------------------
def english_word(word: str) -> list[Syllable]:
    """English goes through espeak's own G2P: the 'phonemes' are the spelling."""
    if not re.fullmatch(r"[a-z']+", word):
        raise G2PError(f"English words must be lower-case letters, got {word!r}")
    return [Syllable((word,), None)]


G2P = {"th": thai_word, "lo": lao_word, "en": english_word}


def phonemise_word(word: str, lang: str) -> list[Syllable]:
    if lang not in G2P:
        raise G2PError(f"unsupported language {lang!r}; supported: {', '.join(G2P)}")
    word = unicodedata.normalize("NFC", word.strip())
    if not word:
        raise G2PError("empty word")
    return G2P[lang](word)


def espeak_string(syllables: list[Syllable]) -> str:
    """The espeak phoneme-input spelling of one word (no brackets)."""
    return "".join(s.espeak() for s in syllables)
