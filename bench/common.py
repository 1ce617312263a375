"""What every benchmark shares: the results file and how a benchmark adds its numbers to it."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

from slmlib.cache import atomic_write_text
from slmlib.hardware import machine

RESULTS = Path(__file__).with_name("results.json")


def merge_results(parts: dict) -> None:
    """Add or replace top-level sections of bench/results.json, keeping the others; each
    section says the machine it was measured on (sections are rerun one at a time, and ratios
    move with the processor: the README's table has one column per machine)."""
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    stamped = {k: {**v, "machine": machine()} if isinstance(v, dict) else v for k, v in parts.items()}
    atomic_write_text(RESULTS, json.dumps({**previous, **stamped}, indent=1))


def timed(fn: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    """``fn(*args)`` and the wall seconds it took."""
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start
