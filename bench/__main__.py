"""Every benchmark in one command: ``.venv/bin/python -m bench`` (about 5 minutes on 2 cores).

Runs the world, codec, judging and SLM benchmarks (each compares our path with a plain baseline
in the same run and merges its numbers into bench/results.json), then summarises the pipeline from
what is already on disk: each notebook's wall time per profile (``outputs/<profile>/
run_log.json``) and where the compute goes per cached stage. Prints one table of ratios and
how long the benchmarks took (recorded as ``bench_seconds``).
``--model`` is a trained SLM folder for the generation benchmark; by default the newest
notebook-01 model in the stage cache, else a random one (which stops speaking at once, so
its generation ratio says little).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from slmlib import paths
from bench.common import RESULTS, merge_results
from slmlib.cache import StageCache

HERE = Path(__file__).parent
RATIOS = [("world_rendering", "ratio_pool_vs_single", "world rendering: process pool vs one process", None),
          ("codec", "ratio_pool_vs_single_encode", "codec encoding: process pool vs one process", None),
          ("judging", "ratio_pool_vs_single", "ASR judging: kept process pool vs one process", None),
          ("slm_training", "ratio_slmlib_vs_plain", "SLM training step: slmlib vs plain transformers loop", 0.95),
          ("slm_training", "ratio_effective_bucketed_vs_random", "effective tokens/s: length buckets vs random batches", 1.3),
          ("slm_generation", "ratio_slmlib_vs_plain", "generation: slmlib vs model.generate (batch 8)", 2.0)]


def newest_slm() -> str:
    models = sorted((paths.cache_dir() / "slm.sft").glob("*/model"), key=lambda p: p.stat().st_mtime)
    return str(models[-1]) if models else ""


def pipeline_summary() -> dict:
    """Notebook wall times per profile and the ten largest stages by compute time."""
    out = {}
    for profile in ("smoke", "default"):
        log = paths.profile_dir(profile) / "run_log.json"
        if log.exists():
            out[f"{profile}_notebook_seconds"] = {e["notebook"]: e["seconds"] for e in json.loads(log.read_text())}
    if paths.cache_dir().exists():
        stages = StageCache(paths.cache_dir()).stage_summary()
        out["stage_compute_minutes"] = {r.name: round(r.seconds / 60, 1) for r in stages.head(10).itertuples()}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=None, help="trained SLM folder for the generation benchmark")
    parser.add_argument("--quick", action="store_true", help="fewer utterances and steps (a smoke check)")
    args = parser.parse_args()
    model = newest_slm() if args.model is None else args.model
    quick = args.quick
    start = time.perf_counter()
    runs = [["bench_world.py", "--utterances", "96" if quick else "384"],
            ["bench_codec.py", "--utterances", "24" if quick else "192"],
            ["bench_judges.py", "--utterances", "24" if quick else "384", *(["--steps", "20"] if quick else [])],
            ["bench_slm.py", "--steps", "2" if quick else "8", "--requests", "8" if quick else "64",
             *(["--model", model] if model else [])]]
    for script, *rest in runs:
        print(f"== {script} {' '.join(rest)}", flush=True)
        subprocess.run([sys.executable, str(HERE / script), *rest], check=True)
    elapsed = round(time.perf_counter() - start, 1)
    merge_results({"pipeline": {**pipeline_summary(), "bench_seconds": elapsed, "quick": quick}})
    results = json.loads(RESULTS.read_text())
    rows = [{"benchmark": what, "ratio": results.get(section, {}).get(key), "goal": goal}
            for section, key, what, goal in RATIOS]
    print(pd.DataFrame(rows).to_string(index=False))
    for profile in ("smoke", "default"):
        seconds = results["pipeline"].get(f"{profile}_notebook_seconds")
        if seconds:
            names = ", ".join(sorted(n.split("_")[0] for n in seconds))
            print(f"{profile}: {sum(seconds.values()) / 60:.1f} min over notebooks {names} (each one's last run; "
                  "cached stages reused)")
    print(f"benchmarks: {elapsed / 60:.1f} min{' (--quick)' if quick else ''}")


if __name__ == "__main__":
    main()
