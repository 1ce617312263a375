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


def test_judging_bench_reads_the_most_trained_thai_judge(tmp_path, monkeypatch):
    from bench import bench_judges

    monkeypatch.setattr(bench_judges.paths, "cache_dir", lambda: tmp_path)
    assert bench_judges.cached_thai_judge() == ""
    for key, lang, steps in [("a", "th", 900), ("b", "th", 40), ("c", "en", 2000)]:
        (tmp_path / "judges.asr" / key).mkdir(parents=True)
        (tmp_path / "judges.asr" / key / "meta.json").write_text(
            json.dumps({"params": {"lang": lang, "asr": {"steps": steps}}}))
    # the smoke profile's judge (40 steps) is newer, the English one trained longer: neither is read
    assert bench_judges.cached_thai_judge() == str(tmp_path / "judges.asr" / "a" / "asr")
