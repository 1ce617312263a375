"""Metrics of P1 §2.2: token entropy H_p (Eq. 3), repetition rate (Eq. 25), WER and CER.

WER follows P1: text normalised, Thai and Lao word-segmented (PyThaiNLP / laonlp), Levenshtein
distance over words (``jiwer.process_words``). Two aggregates are reported because papers
differ: the mean of per-utterance WER (seed-tts-eval) and corpus WER (all errors over all
reference words). CER is over the normalised characters, spaces removed in Thai and Lao
(which do not write them between words).
"""
from __future__ import annotations

from typing import Iterable

import jiwer
import numpy as np
import pandas as pd

from slmlib.text.normalize import normalise, words_for_wer


# --- speech tokens ----------------------------------------------------------------------
def token_entropy(sequences: Iterable[np.ndarray]) -> float:
    """H_p: base-2 entropy of the pooled token frequencies over all sequences (P1 Eq. 3)."""
    tokens = np.concatenate([np.asarray(s).ravel() for s in sequences] or [np.array([])])
    if len(tokens) == 0:
        raise ValueError("no tokens: entropy is undefined")
    _, counts = np.unique(tokens, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def utterance_entropies(sequences: Iterable[np.ndarray]) -> np.ndarray:
    """H_p of each sequence on its own (P1 Tab. 2 needs a per-utterance version, which the
    paper does not define; this is Eq. 3 applied to one utterance's tokens)."""
    return np.array([token_entropy([s]) if len(s) else np.nan for s in sequences])


def repetition_rate(tokens: np.ndarray, k: int = 4) -> float:
    """P1 Eq. 25: the share of positions i < N-k where y_i = ... = y_{i+k} (runs of k+1)."""
    y = np.asarray(tokens).ravel()
    n = len(y) - k
    if n <= 0:
        return 0.0
    same = np.ones(n, dtype=bool)
    for j in range(1, k + 1):
        same &= y[j:j + n] == y[:n]
    return float(same.mean())


# --- transcripts --------------------------------------------------------------------------
def characters(text: str, lang: str) -> str:
    """The characters CER counts: normalised text, without spaces in Thai and Lao."""
    text = normalise(text)
    return text.replace(" ", "") if lang in ("th", "lo") else text


def error_rates(references: list[str], hypotheses: list[str], lang: str) -> pd.DataFrame:
    """Per utterance: word and character errors and reference lengths, plus WER and CER."""
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    rows = []
    for ref, hyp in zip(references, hypotheses):
        ref_words, hyp_words = words_for_wer(ref, lang), words_for_wer(hyp, lang)
        ref_chars, hyp_chars = characters(ref, lang), characters(hyp, lang)
        if not ref_words or not ref_chars:
            raise ValueError(f"empty reference text {ref!r}: error rates are undefined")
        word_errors = _edits(ref_words, hyp_words)
        char_errors = _edits(list(ref_chars), list(hyp_chars))
        rows.append({"word_errors": word_errors, "ref_words": len(ref_words),
                     "char_errors": char_errors, "ref_chars": len(ref_chars),
                     "wer": word_errors / len(ref_words), "cer": char_errors / len(ref_chars)})
    return pd.DataFrame(rows)


def utterance_wer(reference: str, hypothesis: str, lang: str) -> float:
    """WER of one transcript (1.0 for an empty one)."""
    return float(error_rates([reference], [hypothesis], lang).wer.iloc[0])


def _edits(ref: list[str], hyp: list[str]) -> int:
    if not hyp:
        return len(ref)
    out = jiwer.process_words(" ".join(ref), " ".join(hyp))
    return out.substitutions + out.deletions + out.insertions


def summarise_errors(scores: pd.DataFrame) -> dict[str, float]:
    """Mean per-utterance WER/CER (seed-tts-eval) and corpus WER/CER (errors / words)."""
    return {"wer_mean": float(scores.wer.mean()),
            "wer_corpus": float(scores.word_errors.sum() / scores.ref_words.sum()),
            "cer_mean": float(scores.cer.mean()),
            "cer_corpus": float(scores.char_errors.sum() / scores.ref_chars.sum()),
            "utterances": len(scores)}
