import json

from bench import common
from slmlib.hardware import machine


def test_bench_sections_say_where_they_were_measured(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "RESULTS", tmp_path / "results.json")
    common.merge_results({"codec": {"ratio": 1.8}})
    (tmp_path / "results.json").write_text(json.dumps({**json.loads((tmp_path / "results.json").read_text()),
                                                       "world": {"ratio": 1.5, "machine": "elsewhere"}}))
    common.merge_results({"codec": {"ratio": 1.9}})
    results = json.loads((tmp_path / "results.json").read_text())
    assert results == {"codec": {"ratio": 1.9, "machine": machine()}, "world": {"ratio": 1.5, "machine": "elsewhere"}}
