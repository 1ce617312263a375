import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from slmlib.cache import StageCache
from slmlib.hardware import machine

WORKER = Path(__file__).with_name("cache_worker.py")


def test_a_step_runs_once_and_is_then_reused(tmp_path):
    cache = StageCache(tmp_path)
    calls = []

    def compute(folder):
        calls.append(1)
        (folder / "a.txt").write_text("hello")
        return {"answer": 42}

    first = cache.run("s", {"x": 1}, compute)
    second = cache.run("s", {"x": 1}, compute)
    assert calls == [1]
    assert not first.reused and second.reused
    assert second.value == {"answer": 42} and (second.path / "a.txt").read_text() == "hello"
    other = cache.run("s", {"x": 2}, compute)
    assert other.key != first.key and len(calls) == 2
    assert cache.key("s", {"x": 1}, ["up1"]) != cache.key("s", {"x": 1}, ["up2"])
    assert set(cache.timings()["name"]) == {"s"}


def test_a_failing_step_leaves_nothing_behind(tmp_path):
    cache = StageCache(tmp_path)

    def boom(folder):
        (folder / "partial").write_text("x")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        cache.run("s", {}, boom)
    assert list((tmp_path / "s").iterdir()) == []


def _run_worker(root, log, n, pause):
    return subprocess.Popen([sys.executable, str(WORKER), str(root), str(log), str(n), str(pause)])


def _finished(root):
    return sorted(root.glob("toy_step/*/meta.json"))


def test_killed_run_resumes_without_recomputing(tmp_path):
    n = 6
    killed_root, killed_log = tmp_path / "killed", tmp_path / "killed.log"
    proc = _run_worker(killed_root, killed_log, n, pause=0.4)
    deadline = time.time() + 60
    while len(_finished(killed_root)) < 2 and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = len(_finished(killed_root))
    assert 2 <= done_before < n, "the kill must land midway"
    started_before = killed_log.read_text().split()

    assert _run_worker(killed_root, killed_log, n, pause=0.0).wait() == 0
    computed = killed_log.read_text().split()[len(started_before):]
    assert len(_finished(killed_root)) == n
    assert computed == [str(i) for i in range(done_before, n)], "finished steps were recomputed"

    clean_root = tmp_path / "clean"
    assert _run_worker(clean_root, tmp_path / "clean.log", n, pause=0.0).wait() == 0
    cache_k, cache_c = StageCache(killed_root), StageCache(clean_root)
    for i in range(n):
        a = cache_k.run("toy_step", {"i": i}, _never)
        b = cache_c.run("toy_step", {"i": i}, _never)
        assert a.key == b.key and a.value == b.value
        np.testing.assert_array_equal(np.load(a.path / "x.npy"), np.load(b.path / "x.npy"))
    cache_k.clean_temporaries()
    assert not list(killed_root.glob("toy_step/.tmp-*"))


def _never(folder):
    raise AssertionError("a finished step was recomputed")


def test_stage_summary_says_where_the_time_goes(tmp_path, monkeypatch, capsys):
    cache = StageCache(tmp_path)
    for x, pause in [(1, 0.05), (2, 0.05), (3, 0.01)]:
        cache.run("slow" if x < 3 else "fast", {"x": x}, lambda folder, p=pause: time.sleep(p))
    s = cache.stage_summary().set_index("name")
    assert list(s.index) == ["slow", "fast"] and s.loc["slow", "steps"] == 2
    assert s.loc["slow", "seconds"] >= 0.1 and s.share.sum() == pytest.approx(1.0)
    assert cache.stage_summary(since=time.time() + 60).empty
    assert set(cache.timings().machine) == {machine()}       # which processor made each result
    from slmlib import paths
    from slmlib.__main__ import main
    monkeypatch.setattr(paths, "cache_dir", lambda: tmp_path)
    assert main(["timings", "--since", "2000-01-01"]) == 0
    assert f"3 steps computed on {machine()}" in capsys.readouterr().out
