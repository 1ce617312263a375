"""Command line: ``python -m slmlib run --profile default [--only 01,02] [-p key=value ...]``,
``python -m slmlib publish --profile default`` (results to ``outputs/reference/``),
``python -m slmlib corpus common_voice <folder> --lang lo --out <folder>`` (a real corpus)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from slmlib import paths
from slmlib.config import PROFILES, ConfigError


def _parse_overrides(pairs: list[str]) -> dict[str, str]:
    overrides = {}
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(f"override {pair!r} must look like key=value, e.g. -p seed=1")
        key, value = pair.split("=", 1)
        overrides[key.strip()] = value.strip()
    return overrides


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="slmlib", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="execute the notebooks in order with papermill")
    run.add_argument("--profile", default="default", help=f"one of {', '.join(PROFILES)}")
    run.add_argument("--only", default=None, help="comma-separated notebook numbers, e.g. 01,02")
    run.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                     help="override a config field, e.g. -p world.n_real_speakers=8")

    prep = sub.add_parser("prepare", help="inject parameters into copies of the notebooks (nbval)")
    prep.add_argument("--profile", default="smoke")
    prep.add_argument("--dest", type=Path, required=True)
    prep.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE")

    pub = sub.add_parser("publish", help="copy a run's small results to outputs/reference/<profile>")
    pub.add_argument("--profile", default="default")
    pub.add_argument("--only", default=None, metavar="PATHS",
                     help="comma-separated parts of the profile folder to replace, e.g. "
                          "'report,notebooks/06_report.ipynb' (default: everything)")

    times = sub.add_parser("timings", help="compute seconds per cached stage (where the time goes)")
    times.add_argument("--since", default=None,
                       help="only steps finished after this time, e.g. '2026-11-29 00:39' (UTC)")

    corpus = sub.add_parser("corpus", help="import a real corpus on disk into a manifest (16 kHz FLAC)")
    corpus.add_argument("kind", choices=["common_voice", "fleurs", "ljspeech", "hf_dataset"])
    corpus.add_argument("root", type=Path, help="the corpus folder (or a datasets folder / Parquet file)")
    corpus.add_argument("--lang", required=True, help="language code, e.g. lo, th, en")
    corpus.add_argument("--split", default="test", help="our split for its rows: train, dev, test or judge")
    corpus.add_argument("--out", type=Path, required=True, help="folder for the FLAC clips and manifest.parquet")

    show = sub.add_parser("config", help="print a profile's resolved config")
    show.add_argument("--profile", default="default")
    show.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE")

    args = parser.parse_args(argv)
    from slmlib import runner
    from slmlib.config import canonical_json, load_config

    try:
        overrides = _parse_overrides(getattr(args, "param", []))
        if args.command == "config":
            import json
            print(json.dumps(json.loads(canonical_json(load_config(args.profile, overrides))), indent=1))
        elif args.command == "timings":
            import pandas as pd

            from slmlib.cache import NOT_RECORDED, StageCache
            since = pd.Timestamp(args.since, tz="UTC").timestamp() if args.since else None
            cache = StageCache(paths.cache_dir())
            summary = cache.stage_summary(since)
            print(summary.round({"seconds": 1, "mean": 1, "max": 1, "share": 3}).to_string(index=False))
            print(f"total compute: {summary.seconds.sum() / 60:.1f} min in {int(summary.steps.sum())} steps")
            for where, steps in cache.timings(since).machine.value_counts().items():
                print(f"{steps} steps computed on {where}" if where != NOT_RECORDED else
                      f"{steps} steps from before the cache recorded machines")
        elif args.command == "corpus":
            from slmlib.data import corpora, manifest
            table = corpora.LOADERS[args.kind](args.root, args.out / "clips", lang=args.lang, split=args.split)
            path = manifest.save(table, args.out / "manifest.parquet")
            print(f"{len(table)} clips, {table.duration.sum() / 3600:.2f} h, "
                  f"{table.speaker.nunique()} speakers -> {path}")
        elif args.command == "publish":
            files = runner.publish_reference(args.profile, only=args.only.split(",") if args.only else None)
            print(f"{len(files)} files in {paths.outputs_root() / 'reference' / args.profile}")
        elif args.command == "prepare":
            for path in runner.prepare_notebooks(args.profile, args.dest, overrides):
                print(path)
        else:
            only = args.only.split(",") if args.only else None
            results = runner.run_notebooks(args.profile, overrides, only)
            for r in results:
                print(f"{r.notebook:<28} {r.seconds:8.1f} s  {r.output}")
            if not results:
                print("no notebooks to run")
            print(f"outputs: {paths.profile_dir(args.profile)}")
            print(f"report:  {runner.report_location(args.profile)}")
    except (ConfigError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except runner.NotebookFailed as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
