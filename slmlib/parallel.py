"""Process pools for the CPU-bound stages (rendering, WORLD analysis, lexicon checks)."""
from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any, Callable, Sequence


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` processes started with spawn, not fork: a notebook kernel may
    hold threads (torch, zmq) that fork would copy in a broken state."""
    return ProcessPoolExecutor(max_workers=max(1, workers), mp_context=get_context("spawn"))


def map_chunks(fn: Callable[..., list], items: Sequence, workers: int, *args: Any) -> list:
    """``fn(chunk, *args)`` on ``workers`` interleaved chunks of ``items`` in parallel; the
    per-item results come back in the order of ``items``. One worker runs in this process
    (no pool), so a stage that already runs inside a worker process can call this."""
    workers = max(1, min(workers, len(items)))
    if not items:
        return []
    if workers == 1:
        return list(fn(list(items), *args))
    chunks = [list(items[i::workers]) for i in range(workers)]
    with process_pool(workers) as pool:
        parts = list(pool.map(fn, chunks, *[[a] * workers for a in args]))
    out: list = [None] * len(items)
    for w, part in enumerate(parts):
        out[w::workers] = part
    return out
