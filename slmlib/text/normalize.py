"""Text normalisation and word segmentation for WER, as P1 scores it (PyThaiNLP / laonlp)."""
from __future__ import annotations

import unicodedata


def normalise(text: str) -> str:
    """NFC, lower case, punctuation and symbols removed (apostrophes kept), whitespace collapsed.

    Works on Unicode categories, not ``\\w``: Thai and Lao vowel and tone marks are combining
    marks (Mn), which ``\\w`` does not match.
    """
    text = unicodedata.normalize("NFC", text).lower()
    kept = (" " if unicodedata.category(c)[0] in "PS" and c != "'" else c for c in text)
    return " ".join("".join(kept).split())


def words_for_wer(text: str, lang: str) -> list[str]:
    """Words of a transcript: whitespace for English, dictionary segmentation for Thai/Lao."""
    text = normalise(text)
    if lang == "en":
        return text.split()
    if lang == "th":
        from pythainlp.tokenize import word_tokenize
        return [w for w in word_tokenize(text.replace(" ", ""), engine="newmm") if w.strip()]
    if lang == "lo":
        from laonlp.tokenize import word_tokenize
        return [w for w in word_tokenize(text.replace(" ", "")) if w.strip()]
    raise ValueError(f"unsupported language {lang!r}; supported: th, lo, en")
