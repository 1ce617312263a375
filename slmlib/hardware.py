"""What this machine's processor can do, for choices that depend on it."""
from __future__ import annotations

import functools
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import torch


@functools.lru_cache(maxsize=1)
def _cpuinfo() -> dict[str, str]:
    """The first processor's fields in /proc/cpuinfo (empty where there is none)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {}
    fields: dict[str, str] = {}
    for line in text.split("\n\n")[0].splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields


def cpu_flags() -> frozenset[str]:
    """The processor's feature flags from /proc/cpuinfo (empty where there is none)."""
    return frozenset(_cpuinfo().get("flags", "").split())


def machine() -> str:
    """What a run ran on, in one line: processor (with its family, since "AMD EPYC" alone names
    both an AVX2 and an AVX-512 part), cores, its widest vector or matrix units, the precision
    training uses there, torch, and the GPU if any. Float results differ between processors:
    notebook 01's alpha = 0 models, trained under the same cache keys on an AMD EPYC with
    AVX-512 (2026-12-02) and on an Intel Xeon (the reference), spoke other tokens (H_p 10.09 vs
    10.15 bits). A run log that says where each notebook ran says which numbers to expect again."""
    import os
    import platform

    info = _cpuinfo()
    name = info.get("model name") or platform.processor() or "unknown processor"
    if info.get("cpu family"):
        name += f" (family {info['cpu family']}, model {info.get('model', '?')})"
    flags = cpu_flags()
    units = next((label for flag, label in (("amx_bf16", "AMX"), ("avx512_bf16", "AVX512-BF16"),
                                            ("avx512f", "AVX-512"), ("avx2", "AVX2")) if flag in flags), "")
    parts = [name, f"{os.cpu_count()} cores"] + ([units] if units else []) + \
        [f"{'bf16 autocast' if bf16_supported('cpu') else 'float32'} on CPU", f"torch {torch.__version__}"]
    if torch.cuda.is_available():
        parts.append(f"GPU {torch.cuda.get_device_name(0)}")
    return ", ".join(parts)


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
