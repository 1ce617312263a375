"""Process pools for the CPU-bound stages (rendering, WORLD analysis, judging, encoding).

Two kinds: :func:`process_pool`, a fresh pool for jobs that own their process (training runs
that set seeds and threads), and the pools behind :func:`map_chunks`, kept alive for the whole
session. Why keep those: a spawned worker spends about 3.4 s importing torch and slmlib before
it does any work (measured on 2 cores), and the notebooks call ``map_chunks`` hundreds of
times (every judged condition of every system); a kept worker also keeps the judges it loaded
(``slmlib.judges.by_path.load_asr`` caches per process).
"""
from __future__ import annotations

import os
import signal
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context, parent_process
from multiprocessing.connection import wait
from typing import Any, Callable, Sequence

_SHARED: dict[int, ProcessPoolExecutor] = {}
_FRESH_THREADS = 0        # torch's thread count in a newly spawned worker


def process_pool(workers: int, initializer: Callable[[], None] | None = None) -> ProcessPoolExecutor:
    """A pool of ``workers`` processes started with spawn, not fork: a notebook kernel may
    hold threads (torch, zmq) that fork would copy in a broken state."""
    return ProcessPoolExecutor(max_workers=max(1, workers), mp_context=get_context("spawn"),
                               initializer=initializer)


def _exit_with_parent() -> None:
    wait([parent_process().sentinel])
    os._exit(0)


def _start_worker() -> None:
    """Record a new worker's torch threads; leave Ctrl-C to the parent (a kernel's interrupt or
    shutdown reaches the whole process group), which drops the pool (:func:`map_chunks`); and
    exit when the parent dies (a killed kernel), instead of waiting idle for work forever."""
    import torch

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, daemon=True).start()
    global _FRESH_THREADS
    _FRESH_THREADS = torch.get_num_threads()


def _run_chunk(environ: dict[str, str], fn: Callable[..., list], chunk: list, *args: Any) -> list:
    """``fn(chunk, *args)`` in a kept worker as in one spawned for the call: the caller's
    environment variables now, torch's thread count as a new process has it (judging sets one
    thread; that must not change the next stage's numbers), and torch's generator seeded with 0,
    whatever earlier calls drew (a new process seeds it at random, so unseeded draws in a worker
    were never reproducible; now they are)."""
    import torch

    if os.environ != environ:
        os.environ.clear()
        os.environ.update(environ)
    torch.set_num_threads(_FRESH_THREADS)
    torch.manual_seed(0)
    return fn(chunk, *args)


def shared_pool(workers: int) -> ProcessPoolExecutor:
    """The session's kept pool of ``workers`` processes (started on first use)."""
    if workers not in _SHARED:
        _SHARED[workers] = process_pool(workers, _start_worker)
    return _SHARED[workers]


def map_chunks(fn: Callable[..., list], items: Sequence, workers: int, *args: Any) -> list:
    """``fn(chunk, *args)`` on ``workers`` interleaved chunks of ``items`` in parallel, on the
    session's kept pool; the per-item results come back in the order of ``items``. One worker
    runs in this process (no pool), so a stage that already runs inside a worker process can
    call this. A pool whose worker died (out of memory, killed) is dropped, so the next call
    starts a new one; so does one interrupted with Ctrl-C."""
    workers = max(1, min(workers, len(items)))
    if not items:
        return []
    if workers == 1:
        from slmlib.hardware import torch_threads

        # a worker function sets its own threads (judging: one); here that must not outlive the
        # call, or every later stage of this kernel would train on one thread (and, on some
        # processors, sum in another order than a fresh process does)
        with torch_threads():
            return list(fn(list(items), *args))
    chunks = [list(items[i::workers]) for i in range(workers)]
    pool = shared_pool(workers)
    try:
        parts = list(pool.map(_run_chunk, [dict(os.environ)] * workers, [fn] * workers, chunks,
                              *[[a] * workers for a in args]))
    except BrokenProcessPool:
        _SHARED.pop(workers, None)
        raise
    except KeyboardInterrupt:           # the workers finish their chunk and exit; the next call starts anew
        _SHARED.pop(workers).shutdown(wait=False, cancel_futures=True)
        raise
    out: list = [None] * len(items)
    for w, part in enumerate(parts):
        out[w::workers] = part
    return out
