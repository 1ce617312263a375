"""TDSC (P1 §4): the temperature curriculum, the judge's filters, the pairs and the update."""
import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from slmlib.align.config import AlignConfig, TDSCConfig
from slmlib.align.tdsc import (apply_filters, choose_pairs, round_temperatures, round_texts, t_max,
                               tokens_per_character, update)
from slmlib.cache import StageCache
from slmlib.model.config import SLMConfig
from slmlib.model.data import Utterance
from slmlib.model.train import load_slm


def test_curriculum_follows_p1_app_d2_and_the_ablations_change_one_thing():
    from slmlib.align.tdsc_pipeline import variants

    cfg = TDSCConfig()
    assert [t_max(cfg, k) for k in range(1, 6)] == pytest.approx([0.9, 1.0, 1.1, 1.2, 1.3])
    assert round_temperatures(cfg, 5) == pytest.approx([0.7, 1.0, 1.3])
    v = variants(cfg, SLMConfig())
    assert [t_max(v["TDSC w/o curriculum"], k) for k in (1, 5)] == pytest.approx([1.3, 1.3])
    assert round_temperatures(v["TDSC w/o multi-temperature"], 3) == [1.0, 1.0, 1.0]
    assert not v["TDSC w/o DPO"].dpo and v["TDSC"].dpo
    st = v["Self-training"]
    assert round_temperatures(st, 2) == [SLMConfig().temperature] and st.per_temperature == 1
    assert not st.dpo and math.isinf(st.max_error)
    # the ablations are P1 Tab. 8's rows, by name
    from slmlib.paper_numbers import paper_table
    assert set(paper_table("P1_table8").system) <= set(v)
    assert set(paper_table("P1_table4").system) - set(v) == {"SFT", "Rejection sampling"}


def test_round_texts_are_fresh_per_round_and_shared_by_variants():
    utts = [Utterance("lo", f"t{i}", "sys", np.arange(3)) for i in range(50)]
    cfg = TDSCConfig(pool_texts=10)
    a, b = round_texts(utts, cfg, 1), round_texts(utts, cfg, 2)
    assert len(a) == 10 and [u.text for u in a] != [u.text for u in b]
    assert [u.text for u in round_texts(utts, dataclasses.replace(cfg, dpo=False), 1)] == [u.text for u in a]


def _candidates(rows):
    return pd.DataFrame([{"text_index": t, "temperature": 1.0, "group": 0, "lang": "en", "text": "abcd",
                          "speaker": "s0", "tokens": np.arange(n), "n_tokens": n, "cer": cer, "wer": cer,
                          "repetition": rep} for t, n, cer, rep in rows])


def test_filters_and_pairs_follow_p1_eq16_and_keep_length_out_of_the_preference():
    rate = 2.0                                  # tokens per character: "abcd" expects 8 tokens
    cfg = TDSCConfig(max_error=0.4, loser_min_error=0.4)
    c = apply_filters(_candidates([
        (0, 8, 0.3, 0.0),      # accepted
        (0, 8, 0.1, 0.0),      # accepted, lowest error -> winner
        (0, 30, 0.9, 0.0),     # too long: never a loser, however bad
        (0, 8, 0.1, 0.5),      # loops: neither
        (0, 9, 0.7, 0.0),      # passes length and repetition, high error -> loser
        (1, 8, 0.2, 0.0),      # text 1: a winner but no high-error candidate -> no pair
        (2, 8, 0.8, 0.0),      # text 2: nothing accepted -> no pair
    ]), cfg, rate)
    assert c.length_ratio.iloc[0] == pytest.approx(1.0) and not c.passes_length.iloc[2]
    assert c.accepted.tolist() == [True, True, False, False, False, True, False]
    pairs = choose_pairs(c, cfg)
    assert pairs[["text_index", "winner", "loser"]].values.tolist() == [[0, 1, 4]]
    # without the length filter the over-long candidate becomes the loser
    loose = apply_filters(c, dataclasses.replace(cfg, min_length=0.0, max_length=math.inf), rate)
    assert choose_pairs(loose, cfg).loser.tolist() == [2]
    with pytest.raises(ValueError, match="error measure"):
        apply_filters(c, dataclasses.replace(cfg, error="mos"), rate)


def test_a_winner_is_never_its_own_loser():
    cfg = TDSCConfig(max_error=1.01, loser_min_error=0.5)
    c = apply_filters(_candidates([(0, 8, 0.9, 0.0), (0, 8, 0.9, 0.0)]), cfg, 2.0)
    assert choose_pairs(c, cfg).empty


def test_tokens_per_character_counts_cer_characters():
    utts = [Utterance("lo", "ກ ຂ", "s", np.arange(4)), Utterance("en", "ab", "s", np.arange(2))]
    assert tokens_per_character(utts) == pytest.approx(6 / 4)     # Lao spaces are not characters


def test_update_trains_sft_then_dpo_and_caches(sft, tmp_path):
    folder, vocab, utts = sft
    cache = StageCache(tmp_path / "cache")
    cfg = TDSCConfig(max_error=0.5, loser_min_error=0.5, sft_epochs=1.0, dpo_epochs=1.0, batch_pairs=2)
    slm = SLMConfig(hidden_size=32, layers=1, heads=2, intermediate_size=64, batch_size=4, bf16=False)
    align = AlignConfig(bf16=False)
    rows = []
    for t, u in enumerate(utts[:4]):
        rows.append({"text_index": t, "lang": "en", "text": u.text, "speaker": "s0", "tokens": u.tokens,
                     "n_tokens": len(u.tokens), "cer": 0.1, "wer": 0.1, "repetition": 0.0,
                     "temperature": 0.7, "group": 0})
        bad = np.full(len(u.tokens), 7)
        rows.append({**rows[-1], "tokens": bad, "cer": 0.9, "wer": 0.9})
    c = apply_filters(pd.DataFrame(rows), cfg, tokens_per_character(utts))
    pairs = choose_pairs(c, cfg)
    assert len(pairs) == 4
    model, key, log = update(folder, "k0", folder, "k0", c, pairs, cfg, slm, align, cache)
    assert log["accepted"] == 4 and log["pairs"] == 4 and len(log["dpo"]) == 2 and len(log["sft"]) == 1
    assert model.name == "dpo" and (model / "config.json").exists() and key != "k0"
    load_slm(model)
    again = update(folder, "k0", folder, "k0", c, pairs, cfg, slm, align, cache)
    assert again[1] == key                                       # cached
    # without DPO the SFT model is the result; with nothing accepted the model stays
    no_dpo = update(folder, "k0", folder, "k0", c, pairs, dataclasses.replace(cfg, dpo=False), slm, align, cache)
    assert no_dpo[0].name == "sft" and no_dpo[2]["pairs"] == 0
    none = c.assign(accepted=False)
    assert update(folder, "k0", folder, "k0", none, pairs.iloc[:0], cfg, slm, align, cache)[:2] == (folder, "k0")
    with pytest.raises(ValueError, match="reference"):
        update(folder, "k0", folder, "k0", c, pairs, dataclasses.replace(cfg, reference="x"), slm, align, cache)


def test_pass_rate_interval_is_over_texts():
    from slmlib.align.tdsc_pipeline import pass_rate

    c = pd.DataFrame({"text_index": np.repeat(np.arange(20), 3),
                      "accepted": np.tile([True, False, False], 20)})
    p = pass_rate(c)
    assert p["pass_rate"] == pytest.approx(1 / 3)
    assert p["pass_rate_low"] == pytest.approx(1 / 3) and p["pass_rate_high"] == pytest.approx(1 / 3)
    c.loc[c.text_index < 10, "accepted"] = True
    p = pass_rate(c)
    assert p["pass_rate_low"] < p["pass_rate"] < p["pass_rate_high"]


def _rows(system, cers, k=0, style="off"):
    n = len(cers)
    return pd.DataFrame({"id": [f"u{i}" for i in range(n)], "system": system, "round": k, "style": style,
                         "sample": 0, "alpha": 1.0, "cer": cers, "wer": np.array(cers) * 1.5,
                         "repetition": 0.0, "f0_std_st": 1.0, "lang": "en",
                         "text": [f"text number {i}" for i in range(n)], "hypothesis": "a text"})


def test_findings_judge_p1s_claim_item_by_item():
    from slmlib.align.tdsc_pipeline import final_rows, findings

    rng = np.random.default_rng(0)
    base = rng.uniform(0.6, 0.9, 40)
    per_utt = pd.concat([_rows("SFT", base), _rows("Self-training", base - 0.01, k=2),
                         _rows("TDSC", base - 0.2, k=1), _rows("TDSC", base - 0.1, k=2),
                         _rows("Rejection sampling (best of 4)", base - 0.3)])
    final = final_rows(per_utt)
    assert set(final[final.system == "TDSC"]["round"]) == {2}
    table = pd.DataFrame([{"system": s, "style": "off", "H_p": 9.0} for s in final.system.unique()])
    rounds = pd.DataFrame([{"system": "TDSC", "round": k, "cer": c, "cer_low": c - 0.01, "cer_high": c + 0.01,
                            "cer_chance": 0.95, "wer": c, "H_p": h, "H_p_low": h - 0.05, "H_p_high": h + 0.05,
                            "repetition": 0.01, "pass_rate": p, "pass_rate_low": p - 0.05,
                            "pass_rate_high": p + 0.05} for k, c, h, p in
                           [(0, 0.75, 9.0, np.nan), (1, 0.6, 9.2, 0.3), (2, 0.65, 9.3, 0.6)]])
    text = findings(table, per_utt, rounds, pd.DataFrame(), TDSCConfig(rounds=2))
    last = text.splitlines()[-1]
    assert "partly holds" in last                                  # rejection sampling is better
    assert "CER fell below SFT: yes" in last and "and relative to chance: yes" in last
    assert "beat self-training: yes" in last
    assert "beat rejection sampling: no" in last and "pass rate rose: yes" in last and "H_p rose: yes" in last
    assert "TDSC minus SFT (same test items): CER -0.100 [-0.100, -0.100] (down)" in text
