"""World rendering throughput: slmlib's process pool vs a single process, in the same run.

Prints utterances per second for both and their ratio, and merges the numbers into
bench/results.json. Usage: .venv/bin/python bench/bench_world.py [--utterances 384]
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from slmlib.cache import StageCache
from slmlib.config import load_config
from slmlib.parallel import map_chunks
from slmlib.world.build import build_lexicon, build_texts, make_specs, render_rows

try:                      # run as a script (bench/bench_world.py) or as a module
    from common import merge_results, timed
except ImportError:
    from bench.common import merge_results, timed


def _render_part(specs) -> list[dict]:
    with tempfile.TemporaryDirectory() as folder:
        return render_rows(specs, Path(folder))


def smoke_specs(n: int, workers: int) -> list:
    """``n`` utterance specs of the smoke world's Thai (real and synthetic voices), repeated
    as needed."""
    cfg = load_config("smoke").world
    with tempfile.TemporaryDirectory() as root:
        cache = StageCache(root)
        lexicon, key = build_lexicon("th", cfg, cache, workers)
        texts = build_texts("th", cfg, 0, lexicon, cache, key)
        specs = make_specs("th", cfg, 0, texts, dict(zip(lexicon.word, lexicon.spelling)))
    return (specs * (n // len(specs) + 1))[:n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--utterances", type=int, default=384)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    specs = smoke_specs(args.utterances, args.workers)
    real_share = sum(s.voice.is_real for s in specs) / len(specs)

    single = len(specs) / timed(_render_part, specs)[1]
    pooled = len(specs) / timed(map_chunks, _render_part, specs, args.workers)[1]   # includes worker start-up

    result = {"utterances": len(specs), "real_share": round(real_share, 2),
              "single_process_utt_per_s": round(single, 2),
              f"pool_{args.workers}_workers_utt_per_s": round(pooled, 2),
              "ratio_pool_vs_single": round(pooled / single, 2)}
    print(json.dumps(result, indent=1))
    merge_results({"world_rendering": result})


if __name__ == "__main__":
    main()
