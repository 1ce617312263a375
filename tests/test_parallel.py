import os
from pathlib import Path

import pytest
import torch

from slmlib import parallel
from slmlib.parallel import map_chunks


def _square_all(chunk, offset):
    return [x * x + offset for x in chunk]


def _pid_and_state(chunk, threads):
    before = (torch.get_num_threads(), float(torch.rand(1)), os.environ.get("SLMLIB_PARALLEL_TEST"))
    torch.set_num_threads(threads)
    return [(os.getpid(), before)] * len(chunk)


def _die(chunk):
    os._exit(1)


def test_map_chunks_keeps_order():
    items = list(range(11))
    assert map_chunks(_square_all, items, 3, 1) == [x * x + 1 for x in items]
    assert map_chunks(_square_all, [], 2, 0) == []
    assert map_chunks(_square_all, [4], 5, 0) == [16]


def test_kept_workers_start_each_call_as_new_ones(monkeypatch):
    """The pool outlives a call (same processes), but a thread count one call set or a random
    draw it made does not reach the next: every call sees a new worker's thread count, the same
    seeded generator in every worker, and the caller's environment as it is at the call."""
    first = map_chunks(_pid_and_state, [0, 1], 2, 1)
    monkeypatch.setenv("SLMLIB_PARALLEL_TEST", "set")
    second = map_chunks(_pid_and_state, [0, 1], 2, 3)
    assert {pid for pid, _ in first} & {pid for pid, _ in second}
    assert len({s[:2] for _, s in first + second}) == 1
    assert [s[2] for _, s in first] == [None, None] and [s[2] for _, s in second] == ["set", "set"]


def test_one_worker_in_this_process_leaves_its_thread_count():
    """With one worker the chunk runs here; a thread count it sets (judging sets one) must not
    reach this process's later work (the CI failure of 2026-12-01: the next in-process training
    ran on one thread while a fresh process used two)."""
    before = torch.get_num_threads()
    assert map_chunks(_pid_and_state, [0], 1, before + 1)[0][0] == os.getpid()
    assert torch.get_num_threads() == before


def test_a_broken_pool_is_replaced():
    with pytest.raises(parallel.BrokenProcessPool):
        map_chunks(_die, [0, 1], 2)
    assert map_chunks(_square_all, [2, 3], 2, 0) == [4, 9]


def test_kept_workers_exit_with_their_parent(tmp_path):
    """A killed parent (a kernel killed on restart) leaves no idle workers behind."""
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "parent.py"
    script.write_text("import os, time\nfrom slmlib.parallel import map_chunks\n\n"
                      "def pids(chunk):\n    return [os.getpid()] * len(chunk)\n\n"
                      "if __name__ == '__main__':\n"
                      "    print(*set(map_chunks(pids, [0, 1], 2)), flush=True)\n    time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    pids = [int(p) for p in proc.stdout.readline().split()]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 20
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert pids and not any(_alive(p) for p in pids)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").exists() and Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
