"""What every benchmark shares: the results file and how a benchmark adds its numbers to it."""
from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).with_name("results.json")


def merge_results(parts: dict) -> None:
    """Add or replace top-level sections of bench/results.json, keeping the others."""
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    RESULTS.write_text(json.dumps({**previous, **parts}, indent=1))
