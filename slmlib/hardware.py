"""What this machine's processor can do, for choices that depend on it."""
from __future__ import annotations

import functools
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import torch


@functools.lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The processor's feature flags from /proc/cpuinfo (empty where there is none)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    line = next((x for x in text.splitlines() if x.startswith("flags")), "flags:")
    return frozenset(line.split(":", 1)[1].split())


def bf16_supported(device: str) -> bool:
    """bf16 autocast pays off on GPUs with bf16 and on CPUs with AMX tiles. Elsewhere it costs
    time: emulated on an AVX2 CPU (AMD EPYC) it made the ASR judge 5x slower than float32, and
    on an Intel Xeon with AVX512-BF16 but no AMX (2026-12-01, one thread) the SLM's training
    step ran at 0.54-0.77x and the ASR judge's at 0.70-0.81x of float32's speed. torch's CPU
    capability says only "AVX512" on both kinds of AVX-512 CPU, so the flags decide where the
    kernel lists them."""
    if device.startswith("cuda"):
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    flags = cpu_flags()
    if flags:
        return "amx_bf16" in flags
    return "AMX" in torch.backends.cpu.get_cpu_capability()


@contextmanager
def torch_threads(n: int | None = None) -> Iterator[None]:
    """Run a block on ``n`` torch threads (None: on as many as now, for a block that may set its
    own), then restore the count. Small recurrent models on short clips are fastest on one:
    resemblyzer's LSTM took 7.6 s per clip on two threads next to a busy core and 0.07 s on one
    (measured on the 2-core machine)."""
    old = torch.get_num_threads()
    torch.set_num_threads(n or old)
    try:
        yield
    finally:
        torch.set_num_threads(old)
