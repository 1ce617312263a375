import pytest

from slmlib.text.g2p import G2PError, espeak_string, ipa_syllable, phonemise_word


@pytest.mark.parametrize("word,lang,expected", [
    ("ข้าว", "th", "k_ha:u5"),              # falling tone -> Shan tone 5
    ("กำลังใจ", "th", "kam3laN3tS;ai3"),     # mid tones, จ -> tS;
    ("ผีดิบ", "th", "p_hi:1dip2"),           # rising, low
    ("ສະບາຍດີ", "lo", "sa4ba:i2di:2"),
    ("ອານ", "lo", "?a:n2"),                  # initial ອ read as a glottal stop, tone kept
    ("ນ້ຳ", "lo", "nam5"),
    ("dog", "en", "dog"),
])
def test_fixed_words(word, lang, expected):
    assert espeak_string(phonemise_word(word, lang)) == expected


def test_decomposed_sara_am_equals_composed():
    assert phonemise_word("ນໍ້າ", "lo") == phonemise_word("ນ້ຳ", "lo")


def test_ipa_table():
    syl = ipa_syllable("kʰaːw", 5)
    assert syl.phonemes == ("k_h", "a:u") and syl.espeak() == "k_ha:u5"
    assert ipa_syllable("mɯːa", 1).phonemes == ("m", "W@")
    with pytest.raises(G2PError, match="no espeak mapping"):
        ipa_syllable("kʘa", 1)


def test_bad_input_is_named():
    with pytest.raises(G2PError, match="unsupported language 'fr'"):
        phonemise_word("bonjour", "fr")
    with pytest.raises(G2PError, match="empty"):
        phonemise_word("  ", "th")
    with pytest.raises(G2PError, match="lower-case"):
        phonemise_word("Hello!", "en")
