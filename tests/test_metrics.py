import numpy as np
import pytest

from slmlib.metrics import (error_rates, repetition_rate, summarise_errors, token_entropy,
                            utterance_entropies, utterance_wer)
from slmlib.prosody import aligned_f0_agreement, frechet_distance, prosody_features
from slmlib.stats import Resampler, bootstrap_ci, change_text, ci_text, paired_difference_ci, spearman_trend


@pytest.mark.parametrize("k", [2, 13, 1024])
def test_entropy_of_a_uniform_sequence_is_log2_k(k):
    seq = np.tile(np.arange(k), 3)
    assert token_entropy([seq]) == pytest.approx(np.log2(k))
    assert token_entropy([seq[:k], seq[k:]]) == pytest.approx(np.log2(k))   # pooled
    assert utterance_entropies([np.zeros(5), seq])[0] == 0.0
    with pytest.raises(ValueError, match="no tokens"):
        token_entropy([])


def test_repetition_rate():
    assert repetition_rate(np.full(50, 7)) == 1.0
    assert repetition_rate(np.tile([1, 2], 25)) == 0.0
    y = np.array([1, 2, 3, 3, 3, 3, 3, 4, 5, 6])    # one run of 5 -> 1 of 6 windows
    assert repetition_rate(y) == pytest.approx(1 / 6)
    assert repetition_rate(np.array([1, 1])) == 0.0


def test_error_rates_and_aggregates():
    assert utterance_wer("the dog ran", "the dog ran", "en") == 0.0
    assert utterance_wer("ข้าวมันไก่", "ข้าวมันไก่", "th") == 0.0
    assert utterance_wer("the dog ran", "", "en") == 1.0
    s = error_rates(["a b c d", "e f"], ["a b x d", "e f"], "en")
    assert s.wer.tolist() == [0.25, 0.0]
    agg = summarise_errors(s)
    assert agg["wer_mean"] == 0.125 and agg["wer_corpus"] == pytest.approx(1 / 6)
    assert s.cer[0] == pytest.approx(1 / 7)       # "a b c d" has 7 characters with spaces
    th = error_rates(["ข้าว มัน"], ["ข้าวมัน"], "th")   # Thai CER ignores spaces
    assert th.cer[0] == 0.0
    with pytest.raises(ValueError, match="empty reference"):
        error_rates([" "], ["a"], "en")


def test_statistics():
    est, lo, hi = bootstrap_ci(np.full(30, 0.4))
    assert est == lo == hi == pytest.approx(0.4)
    rng = np.random.default_rng(0)
    a = rng.normal(size=200)
    d, dlo, dhi = paired_difference_ci(a + 0.5, a)
    assert d == pytest.approx(0.5) and dhi - dlo < 1e-9   # same items: the shared noise cancels
    with pytest.raises(ValueError, match="same items"):
        paired_difference_ci(a, a[:10])
    t = spearman_trend([0, 1, 2, 3, 4], [1, 3, 4, 8, 9])
    assert t["rho"] == pytest.approx(1.0) and t["p"] < 0.05


def test_an_estimate_and_its_interval_print_one_way():
    assert ci_text(0.1234, 0.1, 0.15, ".2f") == "0.12 [0.10, 0.15]"
    assert change_text(0.012, -0.003, 0.03) == "+0.012 [-0.003, +0.030] (no clear change)"
    assert change_text(-0.05, -0.08, -0.01) == "-0.050 [-0.080, -0.010] (down)"
    assert change_text(0.05, 0.0, 0.09).endswith("(no clear change)")   # a bound on 0 is no evidence
    assert change_text(0.05, 0.001, 0.09).endswith("(up)")


def test_cluster_bootstrap_resamples_whole_groups():
    rng = np.random.default_rng(0)
    x = rng.random(40)
    x[5] = np.nan
    # one row per group: the plain bootstrap's draws, to the digit
    assert bootstrap_ci(x, groups=[f"t{i}" for i in range(40)]) == bootstrap_ci(x)
    # a text spoken three times the same way carries one text's evidence, not three
    per_text = rng.random(30)
    thrice = np.repeat(per_text, 3)
    texts = np.repeat(np.arange(30), 3)
    assert bootstrap_ci(thrice, groups=texts) == pytest.approx(bootstrap_ci(per_text))
    _, lo, hi = bootstrap_ci(thrice)
    _, glo, ghi = bootstrap_ci(thrice, groups=texts)
    assert ghi - glo > 1.4 * (hi - lo)            # about sqrt(3) wider than rows taken as independent
    d, dlo, dhi = paired_difference_ci(thrice + 0.2, thrice, groups=texts)
    assert d == pytest.approx(0.2) and dhi - dlo < 1e-9
    draw = Resampler(6, ["a", "a", "b", "c", "c", "c"])
    for seed in range(5):
        counts = np.bincount(draw(np.random.default_rng(seed)), minlength=6)
        a, b, c = counts[0], counts[2], counts[3]
        # every drawn group comes whole, and three groups are drawn
        assert counts[1] == a and counts[4] == counts[5] == c and a + b + c == 3
    with pytest.raises(ValueError, match="one group label per value"):
        Resampler(3, ["a", "b"])


def test_prosody_measures(espeak):
    from slmlib.world.render import UtteranceSpec, render
    from slmlib.world.voices import real_speakers

    voice = real_speakers("en", 1, (160, 180), 0)[0]
    words = ("the", "old", "man", "will", "open", "the", "door")
    flat = render(UtteranceSpec("p0", "train", words, words, voice, "calm", 1)).audio
    lively = render(UtteranceSpec("p1", "train", words, words, voice, "surprised", 1)).audio
    f_flat, f_lively = prosody_features(flat, 150.0), prosody_features(lively, 150.0)
    assert f_lively["f0_range_st"] > f_flat["f0_range_st"]
    assert f_lively["f0_shift_st"] > f_flat["f0_shift_st"]
    same = aligned_f0_agreement(lively, lively)
    assert same["f0_corr"] == pytest.approx(1.0) and same["f0_rmse_hz"] == pytest.approx(0.0)
    x = np.random.default_rng(1).normal(size=(300, 3))
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(x, x + 2.0) == pytest.approx(12.0, rel=1e-3)


def test_naturalness_proxy_prefers_real_like_intelligible_speech():
    import pandas as pd

    from slmlib.judges.proxies import PROSODY_COLUMNS, naturalness_proxy, speaker_proxy

    rng = np.random.default_rng(0)
    real = pd.DataFrame(rng.normal(size=(400, len(PROSODY_COLUMNS))), columns=PROSODY_COLUMNS)
    like = pd.DataFrame(rng.normal(size=(400, len(PROSODY_COLUMNS))), columns=PROSODY_COLUMNS)
    flat = like * 0.2
    good, bad = naturalness_proxy(like, real, 0.05), naturalness_proxy(flat, real, 0.05)
    assert good["frechet_per_dim"] < 0.05 < bad["frechet_per_dim"]
    assert good["naturalness_proxy"] > bad["naturalness_proxy"]
    assert naturalness_proxy(like, real, 1.4)["naturalness_proxy"] == 0.0
    assert speaker_proxy(np.array([0.8, 0.9])) == pytest.approx(0.85)


def test_rates_and_ratios():
    from slmlib.prosody import duration_ratio, speaking_rate

    assert speaking_rate("The dog, ran!", 2.0) == pytest.approx(4.5)     # 9 letters in 2 s
    assert duration_ratio(3.0, 2.0) == 1.5
    with pytest.raises(ValueError, match="positive"):
        speaking_rate("a", 0.0)
