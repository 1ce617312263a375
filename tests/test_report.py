"""The report: the verdict rule, the interval helpers, and that the committed reference report
is exactly what the report code builds from the committed reference results."""
import json

import numpy as np
import pandas as pd
import pytest

from slmlib import paths
from slmlib.report import RunResults, MissingResults, structure_differences, write_report
from slmlib.report.claims import NOT_REPRODUCED, PARTLY, REPRODUCED, contrast, judge, peak, spearman_ci

REFERENCE = paths.outputs_root() / "reference" / "default"


@pytest.mark.parametrize("est, expect, verdict", [
    ((0.5, 0.2, 0.8), "up", REPRODUCED),
    ((0.5, -0.1, 1.1), "up", PARTLY),
    ((-0.5, -0.8, -0.2), "up", NOT_REPRODUCED),
    ((-0.1, -0.3, 0.1), "up", NOT_REPRODUCED),
    ((-0.5, -0.8, -0.2), "down", REPRODUCED),
    ((0.0, -0.1, 0.1), "same", REPRODUCED),
    ((0.3, 0.1, 0.5), "same", NOT_REPRODUCED),
    ((-0.3, -0.5, -0.1), "not up", REPRODUCED),
    ((0.3, 0.1, 0.5), "not up", NOT_REPRODUCED),
    ((0.3, np.nan, np.nan), "up", PARTLY),
    ((np.nan, np.nan, np.nan), "up", NOT_REPRODUCED),
])
def test_one_rule_decides_every_verdict(est, expect, verdict):
    assert judge(est, expect)[0] == verdict


def test_unpaired_contrast_combines_the_two_intervals():
    t = pd.DataFrame({"system": ["A", "B"], "cer": [0.5, 0.3], "cer_low": [0.4, 0.2], "cer_high": [0.6, 0.4]})
    d, lo, hi = contrast(t, "A", "B", "cer")
    assert d == pytest.approx(0.2)
    assert hi - lo == pytest.approx(2 * 1.96 * np.hypot(0.2 / 3.92, 0.2 / 3.92))
    assert np.isnan(contrast(t, "A", "missing", "cer")[0])


def test_peak_needs_an_interior_maximum_that_clears_both_ends():
    t = pd.DataFrame({"alpha": [0, 0.5, 1], "H_p": [1.0, 2.0, 1.2], "H_p_low": [0.9, 1.9, 1.1],
                      "H_p_high": [1.1, 2.1, 1.3]})
    at, (margin, lo, hi) = peak(t, "H_p")
    assert at == 0.5 and margin == pytest.approx(0.8) and lo > 0
    at, margin = peak(t.assign(H_p=[3.0, 2.0, 1.0]), "H_p")
    assert at == 0 and np.isnan(margin[0])


def test_spearman_interval_contains_rho_and_stays_in_range():
    rho, lo, hi = spearman_ci(-0.9, 12)
    assert -1 < lo < rho < hi < 1


def test_missing_results_name_the_notebook_to_run(tmp_path):
    with pytest.raises(MissingResults, match="03_dgsa"):
        RunResults(tmp_path).table("dgsa", "system_table")


def test_structure_differences_are_named():
    ref = {"sections": [{"title": "S", "claims": ["a", "b"], "tables": {"T": ["x", "y"]}}]}
    ours = {"sections": [{"title": "S", "claims": ["a"], "tables": {"T": ["x"]}}]}
    diffs = structure_differences(ours, ref)
    assert any("claim b is missing" in d for d in diffs)
    assert any("table 'T' has columns" in d for d in diffs)
    assert structure_differences(ref, ref) == []


def test_run_table_says_where_each_notebook_ran_or_that_the_log_did_not_say(tmp_path):
    from slmlib.report.document import run_table

    (tmp_path / "run_log.json").write_text(json.dumps([
        {"notebook": "00_a", "seconds": 90.0},
        {"notebook": "01_b", "seconds": 30.0, "finished": "2026-12-02 13:00 UTC", "machine": "AMD EPYC, 2 cores"}]))
    t = run_table(RunResults(tmp_path).run_log())
    assert t.to_dict("records") == [
        {"notebook": "00_a", "minutes": 1.5, "finished": "not recorded", "machine": "not recorded"},
        {"notebook": "01_b", "minutes": 0.5, "finished": "2026-12-02 13:00 UTC", "machine": "AMD EPYC, 2 cores"}]


@pytest.mark.skipif(not (REFERENCE / "report" / "claims.csv").exists(), reason="no committed reference report")
def test_committed_reference_report_is_what_the_code_builds(tmp_path):
    report = write_report(RunResults(REFERENCE), tmp_path, "default")
    committed = pd.read_csv(REFERENCE / "report" / "claims.csv")
    ours = pd.read_csv(tmp_path / "claims.csv")
    assert list(ours.id) == list(committed.id)
    assert list(ours.verdict) == list(committed.verdict)
    np.testing.assert_allclose(ours[["ours", "low", "high"]], committed[["ours", "low", "high"]], rtol=1e-9)
    reference = json.loads((REFERENCE / "report" / "structure.json").read_text())
    assert structure_differences(json.loads((tmp_path / "structure.json").read_text()), reference) == []
    html = report.html.read_text()
    assert html.count("data:image/png;base64,") >= 1 and "<h2" in html
