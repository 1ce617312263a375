"""Mixtures over alpha, the erosion analysis and the paper-number tables."""
import numpy as np
import pandas as pd
import pytest

from slmlib import erosion
from slmlib.evaluate import summarise
from slmlib.paper_numbers import paper_table
from slmlib.scaling.data import filtered_pool, mixtures


def test_mixtures_follow_p1_proportions_and_nest():
    real = [f"r{i}" for i in range(100)]
    pool = [f"s{i}" for i in range(300)]
    sets, sizes = mixtures(real, pool, (0.0, 0.5, 0.67, 0.8, 1.0), 1.25, seed=0)
    s = sizes.set_index("alpha")
    # the pool allows 300 synthetic at 80 %: 75 real
    assert s.n_real[0.8] == 75 and s.n_synthetic[0.8] == 300
    assert s.n_real[1.0] == 0 and s.n_synthetic[1.0] == 300          # capped by the pool
    assert np.allclose(s.realised_alpha[[0.0, 0.5, 0.8, 1.0]], [0.0, 0.5, 0.8, 1.0])
    syn = {a: [i for i in ids if i.startswith("s")] for a, ids in sets.items()}
    assert set(syn[0.5]) <= set(syn[0.67]) <= set(syn[0.8])
    assert {i for i in sets[0.0]} == {i for i in sets[0.8] if i.startswith("r")}
    with pytest.raises(ValueError, match="empty"):
        mixtures(real, [], (0.5,), 1.25, 0)
    with pytest.raises(ValueError, match="alpha must lie"):
        mixtures(real, pool, (1.5,), 1.25, 0)


class _Transcripts:
    """Stands in for the stage cache: the judge's transcripts of the pool, already computed."""

    def __init__(self, hyps):
        self.hyps = hyps

    def run(self, name, params, compute, inputs):
        return type("Step", (), {"value": self.hyps})()


@pytest.mark.parametrize("max_wer, kept", [(0.0, [True, False, False]),   # P1's 40 %
                                            (0.5, [True, True, False]),
                                            (0.7, [True, True, True])])
def test_filtered_pool_uses_p1_threshold_unless_given(max_wer, kept):
    lang = "en"           # space-separated words: the WERs below are exact
    pool = pd.DataFrame({"id": ["a", "b", "c"], "lang": lang, "split": "train", "is_real": False,
                         "text": [" ".join("abcdefghi")] * 3, "system": "s",
                         "duration": 1.0, "audio_sha": ["1", "2", "3"], "faults": [()] * 3,
                         "path": ["a", "b", "c"]})
    judges = type("Judges", (), {"keys": {lang: "k"}})()
    hyps = ["a b c d e f g h i", "a b c d e v w x y", "a b c t u v w x y"]   # WER 0, 4/9, 6/9
    scored = filtered_pool(pool, lang, judges, _Transcripts(hyps), 1, "judge", max_wer)
    assert list(scored.keep) == kept
    with pytest.raises(ValueError, match="filter_max_wer"):
        filtered_pool(pool.assign(lang="xx"), "xx", judges, _Transcripts(hyps), 1, "judge", 0.0)


def test_mixture_entropy_is_concave_with_interior_maximum():
    p_real = np.array([0.25, 0.25, 0.25, 0.25, 0.0])
    p_syn = np.array([0.0, 0.0, 0.1, 0.1, 0.8])
    curve = erosion.mixture_entropy(p_real, p_syn, np.linspace(0, 1, 51))
    h = curve.H_mixture.to_numpy()
    assert np.all(np.diff(h, 2) < 1e-9)                       # concave
    a = erosion.predicted_alpha_star(curve)
    assert 0 < a < 1
    # Eq. 22: the derivative changes sign at the maximum
    assert curve.dH_dalpha.iloc[0] > 0 > curve.dH_dalpha.iloc[-1]
    assert erosion.entropy_bits(p_real) == pytest.approx(2.0)


def _per_utt(rng, alphas=(0.0, 0.5, 1.0), seeds=(0, 1), n=12):
    rows = []
    for a in alphas:
        for s in seeds:
            for i in range(n):
                tokens = rng.integers(0, 50 - int(40 * a), 30)
                rows.append({"id": f"t{i}", "alpha": a, "seed": s, "silent": False, "lang": "en",
                             "text": f"word number {i}", "hypothesis": f"word numbr {i}",
                             "tokens": tokens, "token_entropy": erosion.entropy_bits(
                                 erosion.token_distribution([tokens], 50)),
                             "wer": 0.8 - 0.5 * a + rng.normal(0, 0.02),
                             "cer": 0.5 - 0.3 * a, "word_errors": 3, "ref_words": 5,
                             "f0_std_hz": 30 - 10 * a + rng.normal(0, 1),
                             "f0_range_hz": 90 - 20 * a, "f0_std_st": 3 - a, "f0_corr": 0.5,
                             "f0_rmse_hz": 20.0, "energy_std_db": 6.0, "repetition": 0.0})
    return pd.DataFrame(rows)


def test_trends_and_hp_validation_read_the_data():
    per_utt = _per_utt(np.random.default_rng(0))
    models = erosion.per_model(per_utt)
    assert len(models) == 6
    t = erosion.trends(models).set_index("metric")
    assert t.loc["wer", "rho"] < -0.8 and t.loc["H_p", "rho"] < -0.8
    peak = erosion.measured_peak(models, "H_p")
    assert peak["peak_alpha"] == 0.0 and not peak["interior"]
    pairs = erosion.hp_validation_pairs(per_utt, wer_tolerance=0.1)
    assert len(pairs) > 0
    assert (pairs.wer_high - pairs.wer_low).abs().max() <= 0.1 + 1e-9
    table = erosion.hp_validation_table(pairs).set_index("metric")
    assert table.loc["token_entropy", "difference"] > 0
    text = erosion.findings(erosion.trends(models), 0.3, [peak], table.reset_index(), models)
    assert "WER falls as alpha rises: holds" in text
    assert "Step budget" not in text


def test_findings_weigh_the_step_budget_against_the_codec_ceiling():
    models = erosion.per_model(_per_utt(np.random.default_rng(0)))
    budget = pd.DataFrame({"alpha": 1.0, "steps": [800, 400], "cer": [0.50, 0.60],
                           "cer_low": [0.48, 0.58], "cer_high": [0.52, 0.62], "cer_chance": 0.9,
                           "ceiling_cer": 0.40})
    text = erosion.findings(erosion.trends(models), 0.3, [], pd.DataFrame(), models, budget)
    assert "400 -> 800 steps moves CER from 0.600" in text and "budget-limited" in text
    assert "CER minus the ceiling is +0.200 at 400 steps, +0.100 at 800 steps" in text


def test_summarise_has_cis_and_pooled_entropy():
    per_utt = _per_utt(np.random.default_rng(1), alphas=(0.0,), seeds=(0,))
    s = summarise(per_utt, pd.Series(0.1, index=per_utt.id.unique()))
    assert s["wer_low"] <= s["wer"] <= s["wer_high"]
    assert s["H_p_low"] <= s["H_p"] <= s["H_p_high"]
    assert s["calibrated_cer"] == pytest.approx(0.4)


def test_summarise_by_text_counts_a_text_spoken_thrice_once():
    per_utt = _per_utt(np.random.default_rng(1), alphas=(0.0,), seeds=(0,))
    thrice = pd.concat([per_utt] * 3, ignore_index=True)
    once, pooled = summarise(per_utt), summarise(thrice, groups="id")
    for col in ("wer", "wer_low", "wer_high", "cer_low", "cer_high", "H_p"):
        assert pooled[col] == pytest.approx(once[col]), col
    as_rows = summarise(thrice)           # rows taken as independent: intervals too narrow
    assert as_rows["wer_high"] - as_rows["wer_low"] < 0.8 * (once["wer_high"] - once["wer_low"])


def test_paper_tables_load():
    t1 = paper_table("P1_table1")
    assert len(t1) == 10 and t1.alpha.is_monotonic_increasing
    with pytest.raises(KeyError, match="known"):
        paper_table("P9_table1")


def test_digests_keep_order_where_it_carries_meaning():
    from slmlib.scaling.pipeline import digest, tokens_digest

    assert digest(["b", "a"]) == digest(["a", "b"])                  # a set of clips
    a, b = np.array([1, 2]), np.array([3])
    assert tokens_digest([a, b]) != tokens_digest([b, a])            # prompt i belongs to item i
    assert tokens_digest([a, b]) == tokens_digest([a.copy(), b.copy()])
