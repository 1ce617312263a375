import numpy as np
import pytest

from slmlib.text.lexicon import open_class_words
from slmlib.text.normalize import words_for_wer
from slmlib.text.sentences import CLOSED_CLASSES, SentenceGenerator


@pytest.fixture(scope="module", params=["th", "lo", "en"])
def generator(request):
    return SentenceGenerator(request.param, open_class_words(request.param, 80))


def test_open_classes_come_from_shipped_lists():
    for lang in ("th", "lo", "en"):
        words = open_class_words(lang, 50)
        assert set(words) == {"N", "V", "ADJ"}
        assert all(len(ws) >= 20 for ws in words.values()), lang


def test_sentences_are_seeded_bounded_and_unique(generator):
    a = generator.unique_sentences(50, np.random.default_rng(3), 4, 12)
    b = generator.unique_sentences(50, np.random.default_rng(3), 4, 12)
    assert [s.text for s in a] == [s.text for s in b]
    assert len({s.text for s in a}) == 50
    assert all(4 <= len(s.words) <= 12 for s in a)
    if generator.lang == "en":
        assert all(s.text == " ".join(s.words) for s in a)
    else:
        assert all(" " not in s.text for s in a)


def test_wer_segmentation_recovers_thai_words():
    gen = SentenceGenerator("th", open_class_words("th", 80))
    s = gen.sentence(np.random.default_rng(0), 4, 8)
    assert "".join(words_for_wer(s.text, "th")) == s.text


def test_unsupported_language():
    with pytest.raises(ValueError, match="unsupported language"):
        SentenceGenerator("fr", {"N": {"a": 1.0}})


def test_closed_classes_render(espeak):
    from slmlib.world.lexicon_check import check_word
    for lang, classes in CLOSED_CLASSES.items():
        for words in classes.values():
            for w in words:
                assert check_word(w, lang).error is None, (lang, w)
