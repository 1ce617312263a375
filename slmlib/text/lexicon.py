"""Word lists with parts of speech, from data that installed packages ship (no downloads).

* Thai: pythainlp's UD unigram tagger dictionary (word -> UPOS) weighted by TNC corpus frequency.
* Lao: laonlp's Yunshan-Cup tagger dictionary (frequent, unambiguous word -> tag) plus the
  tagger's corpus vocabulary typed by the Lao-English dictionary; no frequency list ships, so
  tagger-dictionary words (frequent by construction) weigh 3x.
* English: single-word glosses of the Lao-English dictionary typed by its POS column,
  weighted by wordfreq's Zipf frequency.

Closed classes (pronouns, auxiliaries, particles, ...) are small hand-written lists in
:mod:`slmlib.text.sentences`; this module supplies the open classes N, V and ADJ.
"""
from __future__ import annotations

import collections
import csv
import functools
import json
import re
from importlib import resources

OPEN_CLASSES = ("N", "V", "ADJ")
THAI_LETTERS = re.compile(r"[\u0e01-\u0e4e]+")
LAO_LETTERS = re.compile(r"[\u0e81-\u0edf]+")
LAO_DICT_POS = {"n": "N", "v": "V", "adj": "ADJ"}


def _package_file(package: str, name: str):
    return resources.files(package).joinpath(name)


@functools.lru_cache(maxsize=None)
def _lao_english_rows() -> tuple[dict, ...]:
    with _package_file("laonlp.corpus", "lao-eng-dictionary.csv").open(encoding="utf-8") as fh:
        return tuple(csv.DictReader(fh))


def thai_open_class() -> dict[str, dict[str, float]]:
    from pythainlp.corpus import tnc

    tags = json.loads(_package_file("pythainlp.corpus", "pos_tud_unigram.json")
                      .read_text(encoding="utf-8-sig"))
    freq = dict(tnc.word_freqs())
    upos = {"NOUN": "N", "VERB": "V", "ADJ": "ADJ"}
    out: dict[str, dict[str, float]] = {c: {} for c in OPEN_CLASSES}
    for word, tag in tags.items():
        if tag in upos and THAI_LETTERS.fullmatch(word) and freq.get(word, 0) > 0:
            out[upos[tag]][word] = float(freq[word])
    return out


def lao_open_class() -> dict[str, dict[str, float]]:
    from laonlp.corpus import lao_words

    tagger = json.loads(_package_file("laonlp.corpus", "ptagger_Yunshan-Cup_corpus.json")
                        .read_text(encoding="utf-8-sig"))
    known = set(lao_words())
    out: dict[str, dict[str, float]] = {c: {} for c in OPEN_CLASSES}
    for word, tag in tagger["tagdict"].items():
        if tag in OPEN_CLASSES and LAO_LETTERS.fullmatch(word):
            out[tag][word] = 3.0
    corpus = {k[len("i word "):] for k in tagger["weights"] if k.startswith("i word ")}
    typed = collections.defaultdict(collections.Counter)
    for row in _lao_english_rows():
        pos = LAO_DICT_POS.get(row["Type"].strip().lower())
        if pos:
            typed[row["LaoWord"].strip()][pos] += 1
    for word in corpus & known:
        if word in typed and LAO_LETTERS.fullmatch(word):
            pos = typed[word].most_common(1)[0][0]
            out[pos].setdefault(word, 1.0)
    return out


def english_open_class(min_zipf: float = 3.3) -> dict[str, dict[str, float]]:
    import wordfreq

    typed = collections.defaultdict(collections.Counter)
    for row in _lao_english_rows():
        gloss = row["English"].strip().lower()
        pos = LAO_DICT_POS.get(row["Type"].strip().lower())
        if pos and re.fullmatch(r"[a-z]{3,10}", gloss):
            typed[gloss][pos] += 1
    out: dict[str, dict[str, float]] = {c: {} for c in OPEN_CLASSES}
    for word, counts in typed.items():
        pos, n = counts.most_common(1)[0]
        zipf = wordfreq.zipf_frequency(word, "en")
        if n >= 2 and zipf >= min_zipf:
            out[pos][word] = 10 ** zipf
    return out


OPEN_CLASS_SOURCES = {"th": thai_open_class, "lo": lao_open_class, "en": english_open_class}


def stopwords(lang: str) -> frozenset[str]:
    """Function words, kept out of the open classes (the templates place them by hand)."""
    if lang == "th":
        from pythainlp.corpus import thai_stopwords
        return frozenset(thai_stopwords())
    if lang == "lo":
        text = _package_file("laonlp.corpus", "stopwords_lao.txt").read_text(encoding="utf-8")
        return frozenset(text.split())
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
    return frozenset(ENGLISH_STOP_WORDS)


def open_class_words(lang: str, per_class: int) -> dict[str, dict[str, float]]:
    """The ``per_class`` most frequent N, V and ADJ words of a language, with weights."""
    if lang not in OPEN_CLASS_SOURCES:
        raise ValueError(f"unsupported language {lang!r}; supported: {', '.join(OPEN_CLASS_SOURCES)}")
    full = OPEN_CLASS_SOURCES[lang]()
    stop = stopwords(lang)
    return {pos: dict(sorted(((w, f) for w, f in words.items() if w not in stop),
                             key=lambda kv: (-kv[1], kv[0]))[:per_class])
            for pos, words in full.items()}
