"""Notebook 05's tables when every system speaks the test replies with several sampling seeds."""
import numpy as np
import pandas as pd
import pytest

from slmlib.saslm.config import SASLMConfig
from slmlib.saslm.pipeline import REAL, deltas, emo_align_by_sample, findings

METRICS = ("emo_match", "wer", "cer", "f0_std_hz", "speaker_sim")


def _per_utt(systems: dict[str, np.ndarray], dialogues: int, rng: np.random.Generator) -> pd.DataFrame:
    """Per-utterance rows: ``systems`` maps a name to its emo_match per (sample, dialogue)."""
    frames = []
    for name, match in systems.items():
        for k, row in enumerate(match):
            frames.append(pd.DataFrame({"system": name, "id": [f"d{i}" for i in range(dialogues)], "sample": k,
                                        "emo_match": row.astype(float),
                                        **{m: rng.random(dialogues) for m in METRICS[1:]}}))
    return pd.concat(frames, ignore_index=True)


def test_deltas_pair_dialogues_averaged_over_their_seeds():
    rng = np.random.default_rng(0)
    vib = rng.integers(0, 2, (3, 40))
    plain = rng.integers(0, 2, (3, 40))
    per = _per_utt({"VIB + AdaLN": vib, "Plain TTS": plain}, 40, rng)
    row = deltas(per).set_index("metric").loc["emo_match"]
    assert row.n == 40                                   # dialogues, not dialogue-seed rows
    assert row.delta == pytest.approx((vib.mean(0) - plain.mean(0)).mean())
    # the baseline's rows in another order pair the same dialogues
    shuffled = deltas(per.sample(frac=1.0, random_state=1)).set_index("metric").loc["emo_match"]
    assert shuffled.delta == pytest.approx(row.delta)


def test_emo_align_by_sample_and_the_findings_line():
    rng = np.random.default_rng(2)
    steady = np.ones((3, 10))
    wobbly = np.array([np.r_[np.ones(8), np.zeros(2)], np.r_[np.ones(2), np.zeros(8)], np.ones(10) * 0.0])
    per = _per_utt({"Plain TTS": steady, "VIB + AdaLN": wobbly, REAL: steady[:1]}, 10, rng)
    table = emo_align_by_sample(per)
    assert list(table.system) == ["Plain TTS", "VIB + AdaLN"]           # the recordings have no sampler
    assert list(table.columns) == ["system", "sample 0", "sample 1", "sample 2", "range"]
    assert table.set_index("system").range.to_dict() == pytest.approx({"Plain TTS": 0.0, "VIB + AdaLN": 0.8})
    system_table = pd.DataFrame({"system": [REAL], "emo_align": [1.0]})
    probe = pd.DataFrame({"representation": ["e", "h (pre-trained thinker)", "h (after stage 2)", "z"],
                          "accuracy": [0.2, 0.3, 0.4, 0.5], "chance": 1 / 6})
    text = findings(system_table, pd.DataFrame(columns=["system", "baseline", "metric"]), probe, by_sample=table)
    assert "with 3 sampling seeds" in text and "up to 80.0 pt (VIB + AdaLN)" in text
    one_seed = emo_align_by_sample(per[per["sample"] == 0])
    assert "sampling seeds" not in findings(system_table, pd.DataFrame(columns=["system", "baseline", "metric"]),
                                            probe, by_sample=one_seed)


def test_the_label_line_says_whether_a_pathway_carries_the_clean_label():
    rng = np.random.default_rng(3)
    chance = (np.arange(120) % 6 == 0)[None].repeat(3, 0)                # 1 in 6, every seed
    often = (np.arange(120) % 2 == 0)[None].repeat(3, 0)                 # 1 in 2
    systems = {"Plain TTS": chance, "Naive addition": chance, "AdaLN (no VIB)": chance,
               "Label via addition": often, "Label via AdaLN": chance}
    paired = deltas(_per_utt(systems, 120, rng))
    probe = pd.DataFrame({"representation": ["e", "h (pre-trained thinker)", "h (after stage 2)", "z"],
                          "accuracy": [0.2, 0.3, 0.4, 0.5], "chance": 1 / 6})
    text = findings(pd.DataFrame({"system": [REAL], "emo_align": [1.0]}), paired, probe)
    line = next(x for x in text.splitlines() if x.startswith("- The bridges fed the true label"))
    assert "Label via addition minus the plain TTS +33.3 pt" in line and "Label via AdaLN minus the plain TTS +0.0" in line
    assert line.endswith("one pathway carries a clean label to the speech and the other does not.")
    none = deltas(_per_utt({**systems, "Label via addition": chance}, 120, rng))
    assert "neither pathway carries" in findings(pd.DataFrame({"system": [REAL], "emo_align": [1.0]}), none, probe)
    tiny = pd.DataFrame([{"system": "+ Self-reward", "baseline": "VIB + AdaLN", "metric": "emo_match",
                          "delta": -1e-18, "low": -0.04, "high": 0.04}])
    assert "EmoAlign +0.0 pt [-4.0, +4.0]" in findings(pd.DataFrame({"system": [REAL], "emo_align": [1.0]}), tiny, probe)


def test_at_least_one_evaluation_seed():
    with pytest.raises(ValueError, match="eval_seeds must be at least 1"):
        SASLMConfig(eval_seeds=0)
