"""DPO machinery shared by DGSA and TDSC."""
import math

import numpy as np
import pytest
import torch

from slmlib.align.config import AlignConfig
from slmlib.align.dpo import Pair, dgsa_weights, dpo_terms, sequence_logprobs, train_dpo
from slmlib.model.data import Utterance
from slmlib.model.train import TrainingError, load_slm


def test_dgsa_weights_follow_p1():
    assert dgsa_weights(0.8) == pytest.approx({"stab": 0.4, "expr": 0.6})
    assert dgsa_weights(0.5) == {"stab": 1.0, "expr": 0.0}       # reduces to stability only
    assert dgsa_weights(0.3)["expr"] == 0.0
    assert dgsa_weights(1.0)["expr"] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        dgsa_weights(0.8, alpha_star=1.0)


def test_dpo_terms_at_the_reference_are_log2():
    x = torch.tensor([-5.0, -7.0])
    t = dpo_terms(x, x - 1, x, x - 1, beta=0.1)
    assert torch.allclose(t["loss"], torch.full((2,), math.log(2)))
    t = dpo_terms(x + 1, x - 1, x, x, beta=0.1)
    assert (t["margin"] > 0).all() and (t["loss"] < math.log(2)).all()


def test_reductions_and_training_moves_margins(sft, tmp_path):
    folder, vocab, utts = sft
    rng = np.random.default_rng(1)
    pairs = [Pair("en", u.text, u.tokens, rng.integers(0, 30, len(u.tokens)),
                  group="stab" if i % 2 else "expr") for i, u in enumerate(utts[:16])]
    model, _ = load_slm(folder)
    s = sequence_logprobs(model, vocab, pairs[:4], "chosen", "sum")
    m = sequence_logprobs(model, vocab, pairs[:4], "chosen", "mean")
    lengths = torch.tensor([len(p.chosen) + 1 for p in pairs[:4]], dtype=torch.float)
    assert torch.allclose(s / lengths, m, atol=1e-5)
    with pytest.raises(ValueError, match="reduction"):
        sequence_logprobs(model, vocab, pairs[:1], "chosen", "max")
    cfg = AlignConfig(steps=15, batch_pairs=8, lr=1e-3, warmup=1, bf16=False)
    log = train_dpo(folder, pairs, {"stab": 0.5, "expr": 0.5}, cfg, 0, tmp_path / "dpo", log_every=1)
    assert log[-1]["loss"] < log[0]["loss"]
    assert log[-1]["stab/margin"] > 0 and log[-1]["expr/accuracy"] > 0.5
    with pytest.raises(ValueError, match="no weight"):
        train_dpo(folder, pairs, {"stab": 1.0}, cfg, 0, tmp_path / "x")
    with pytest.raises(TrainingError, match="weight 0"):
        train_dpo(folder, pairs, {"stab": 0.0, "expr": 0.0}, cfg, 0, tmp_path / "x")
    # a set weighted 0 is never drawn: only "expr" pairs in the log
    off = train_dpo(folder, pairs, {"stab": 0.0, "expr": 1.0}, AlignConfig(steps=2, batch_pairs=4, bf16=False),
                    0, tmp_path / "y", log_every=1)
    assert not any(k.startswith("stab/") for entry in off for k in entry)


def test_group_loss_is_p1_eq14_literally():
    from slmlib.align.dpo import weighted_group_loss

    losses = torch.tensor([1.0, 3.0, 10.0])
    groups = ["stab", "stab", "expr"]
    # 0.4 * mean(1, 3) + 0.6 * 10
    assert weighted_group_loss(losses, groups, {"stab": 0.4, "expr": 0.6}).item() == pytest.approx(6.8)
    # dropping one objective keeps the other at its weight (not renormalised)
    assert weighted_group_loss(losses[:2], groups[:2], {"stab": 0.4, "expr": 0.6}).item() == pytest.approx(0.8)


def test_dgsa_pairs_prefer_the_recording_and_never_prompt_with_it(sft):
    from slmlib.align.dgsa import dgsa_pairs, style_prompts

    folder, vocab, utts = sft
    utts = [Utterance(u.lang, u.text, f"s{i % 2}", u.tokens) for i, u in enumerate(utts[:8])]
    prompts = style_prompts(utts, 3, seed=0)
    for i, (u, p) in enumerate(zip(utts, prompts)):
        same = [v for j, v in enumerate(utts) if j != i and v.speaker == u.speaker]
        assert any(np.array_equal(p, v.tokens[:3]) for v in same)
    other = style_prompts(utts, 3, seed=0, random_speaker=True)
    for i, (u, p) in enumerate(zip(utts, other)):
        assert any(np.array_equal(p, v.tokens[:3]) for v in utts if v.speaker != u.speaker)
    model, _ = load_slm(folder)
    pairs, gen = dgsa_pairs(model, vocab, utts, prompts, temperature=1.0, top_p=0.9,
                            tokens_per_char=2.0, batch_size=4, seed=0, score_with_prompt=True)
    assert len(pairs) == 16 and {p.group for p in pairs} == {"stab", "expr"}
    assert all(np.array_equal(p.chosen, u.tokens) for p, u in zip(pairs[::2], utts))
    assert all(np.array_equal(p.rejected, e) for p, e in zip(pairs[::2], gen["expr"]))
    assert all(p.prompt is not None for p in pairs)


def test_systems_follow_p1_tables_3_and_7():
    from slmlib.align.pipeline import lambda_schedule, systems

    by_name = {s.name: s for s in systems(AlignConfig(alpha=0.8))}
    assert by_name["DGSA"].weights == {"stab": 0.4, "expr": 0.6}
    assert by_name["DGSA w/o expressivity"].weights == {"stab": 0.4, "expr": 0.0}
    assert by_name["DGSA w/o stability"].weights == {"stab": 0.0, "expr": 0.6}
    assert by_name["DGSA fixed lambda"].weights == {"stab": 0.5, "expr": 0.5}
    assert by_name["DGSA random-speaker pairs"].pairs == "random_speaker"
    assert by_name["SFT"].weights == {}
    sched = lambda_schedule(0.5, [0.0, 0.5, 0.75, 1.0])
    assert sched.lambda_expr.tolist() == pytest.approx([0.0, 0.0, 0.5, 1.0])
    assert (sched.lambda_stab + sched.lambda_expr).tolist() == pytest.approx([1.0] * 4)


def _judged(system, cers, f0s, sample=0):
    import pandas as pd

    return pd.DataFrame({"id": [f"u{i}" for i in range(len(cers))], "cer": cers, "f0_std_st": f0s,
                         "system": system, "style": "on", "sample": sample, "alpha": 0.8})


def test_rejection_sampling_keeps_the_lowest_cer_then_the_liveliest():
    import pandas as pd

    from slmlib.align.pipeline import rejection_sampling

    samples = pd.concat([_judged("SFT", [0.5, 0.2, 0.3], [1.0, 1.0, 1.0], 0),
                         _judged("SFT", [0.4, 0.2, 0.6], [2.0, 3.0, 9.0], 1)])
    best = rejection_sampling(samples).set_index("id")
    assert best.cer.tolist() == [0.4, 0.2, 0.3]
    assert best.f0_std_st.tolist() == [2.0, 3.0, 1.0]        # u1: tie on CER -> larger F0 std
    assert best.system.unique().tolist() == ["Rejection sampling (best of 2)"]


def test_paired_deltas_are_per_item_differences():
    import pandas as pd

    from slmlib.align.pipeline import paired_deltas

    rows = pd.concat([_judged("SFT", [0.5, 0.6, 0.7, 0.8], [1, 1, 1, 1]),
                      _judged("DGSA", [0.4, 0.5, 0.6, 0.7], [2, 2, 2, 2])])
    d = paired_deltas(rows, "SFT", metrics=("cer", "f0_std_st")).set_index("metric")
    assert d.loc["cer", "delta"] == pytest.approx(-0.1)
    assert d.loc["cer", "high"] == pytest.approx(-0.1)          # the same shift on every item
    assert d.loc["f0_std_st", "delta"] == pytest.approx(1.0) and d.loc["f0_std_st", "n"] == 4


def _dpo_inputs(sft):
    folder, vocab, utts = sft
    rng = np.random.default_rng(1)
    pairs = [Pair("en", u.text, u.tokens, rng.integers(0, 30, len(u.tokens)), group="stab" if i % 2 else "expr")
             for i, u in enumerate(utts[:16])]
    return folder, pairs, AlignConfig(steps=4, batch_pairs=8, lr=1e-3, warmup=1, bf16=False)


def test_dpo_as_a_script_trains_the_in_process_policy(sft, tmp_path):
    from slmlib.align.dpo_job import fit_dpo

    folder, pairs, cfg = _dpo_inputs(sft)
    weights = {"stab": 0.4, "expr": 0.6}
    direct = fit_dpo(folder, pairs, weights, cfg, 0, tmp_path / "direct", log_every=1)
    launched = fit_dpo(folder, pairs, weights, cfg, 0, tmp_path / "script", log_every=1, launch="python")
    assert launched == direct and not (tmp_path / "script.job").exists()
    a, b = load_slm(tmp_path / "direct")[0], load_slm(tmp_path / "script")[0]
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_dpo_under_accelerate_launch_on_two_cpu_processes(sft, tmp_path):
    import sys
    from pathlib import Path

    from slmlib.align.dpo_job import fit_dpo

    folder, pairs, cfg = _dpo_inputs(sft)
    accelerate = Path(sys.executable).with_name("accelerate")
    launch = f"{accelerate} launch --multi_gpu --num_processes 2 --num_machines 1 --mixed_precision no " \
             "--dynamo_backend no --main_process_port 29523"
    log = fit_dpo(folder, pairs, {"stab": 0.5, "expr": 0.5}, cfg, 0,
                  tmp_path / "ddp", log_every=1, launch=launch)
    assert [e["step"] for e in log] == [1, 2, 3, 4] and all(np.isfinite(e["loss"]) for e in log)
    policy, _ = load_slm(tmp_path / "ddp")
    assert all(torch.isfinite(p).all() for p in policy.parameters())
