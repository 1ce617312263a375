"""Phonemise every word once and prove espeak-ng really says it.

espeak-ng drops unknown phoneme mnemonics silently (``[[mɯ:1]]`` comes out as just ``m``), so
each word's spelling is spoken once and the phonemes espeak reports through its event
callback are compared with the ones we asked for. Words that fail either the G2P or this
check are kept out of the sentence generator, and their share is reported.
"""
from __future__ import annotations

from dataclasses import dataclass

from slmlib.text.g2p import G2PError, espeak_string, phonemise_word
from slmlib.world.espeak import engine
from slmlib.world.voices import ESPEAK_VOICE


@dataclass(frozen=True)
class WordCheck:
    word: str
    lang: str
    spelling: str | None        # what goes between [[ ]] (th/lo) or the word itself (en)
    error: str | None           # why the word cannot be rendered, if it cannot


def _normalise(phonemes: str) -> str:
    # espeak reports long vowels without their length mark and splits i@/W@/u@ in two;
    # compare the phoneme sequences as strings without length marks.
    return phonemes.replace(":", "")


def check_word(word: str, lang: str) -> WordCheck:
    try:
        syllables = phonemise_word(word, lang)
    except G2PError as err:
        return WordCheck(word, lang, None, f"g2p: {err}")
    spelling = espeak_string(syllables)
    voice = ESPEAK_VOICE[lang]
    if lang == "en":
        spoken = engine().synth(word, voice)
        if not spoken.spoken_phonemes or len(spoken.word_starts) != 1:
            return WordCheck(word, lang, None, "espeak: no phonemes for this word")
        return WordCheck(word, lang, spelling, None)
    spoken = engine().synth(f"[[{spelling}]]", voice)
    want = _normalise("".join(p for s in syllables for p in s.phonemes))
    got = _normalise("".join(spoken.spoken_phonemes))
    if want != got:
        return WordCheck(word, lang, None, f"espeak: asked for {want!r}, said {got!r}")
    return WordCheck(word, lang, spelling, None)


def check_words(words: list[str], lang: str) -> list[WordCheck]:
    return [check_word(w, lang) for w in words]
