"""Judging throughput: the ASR judge transcribing clips (log-mel, CTC recogniser, prefix beam
search with its character LM) on slmlib's process pool against a single process, in the same run.

Renders ``--utterances`` smoke-world Thai clips and transcribes them with a world ASR judge
through :func:`slmlib.judges.pipeline.transcribe` (notebook 00's judge evaluation), with one
worker (in this process) and with ``--workers``, each twice: first cold (a new pool's worker
start-up, loading the judge and building its LM included), then warm, as the notebooks' later
calls find the kept pool (:func:`slmlib.parallel.map_chunks`). The judge is ``--asr`` (a saved
judge's folder), else the stage cache's Thai judge with the most training (notebook 00's), else
one trained here for ``--steps`` steps on the rendered clips (it reads little, so its beam
search has little to do and the ratio says less). Merges the numbers into bench/results.json.
Usage: .venv/bin/python bench/bench_judges.py [--utterances 384] [--workers 2]
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from slmlib import paths
from slmlib.data.manifest import SAMPLE_RATE, load_audio
from slmlib.judges.asr import ASRConfig, train_asr
from slmlib.judges.pipeline import pretrained_asr_judges, transcribe
from slmlib.world.build import render_rows

try:                      # run as a script (bench/bench_judges.py) or as a module
    from bench_world import smoke_specs
    from common import merge_results, timed
except ImportError:
    from bench.bench_world import smoke_specs
    from bench.common import merge_results, timed


def cached_thai_judge() -> str:
    """The Thai ASR judge in the stage cache trained for the most steps (the default profile's
    rather than the smoke profile's), the newest of those; or ""."""
    found = []
    for meta in (paths.cache_dir() / "judges.asr").glob("*/meta.json"):
        params = json.loads(meta.read_text())["params"]
        if params.get("lang") == "th":
            found.append((params["asr"]["steps"], meta.stat().st_mtime, str(meta.parent / "asr")))
    return max(found)[2] if found else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--utterances", type=int, default=384)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--asr", default=None, help="a saved world ASR judge's folder")
    parser.add_argument("--steps", type=int, default=150, help="training steps when no judge is given or cached")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as root:
        folder = Path(root)
        rows = render_rows(smoke_specs(args.utterances, args.workers), folder)
        clips = [str(folder / r["path"]) for r in rows]
        wavs = [load_audio(p) for p in clips]
        audio_s = sum(len(w) for w in wavs) / SAMPLE_RATE
        judge, source = (args.asr, "given") if args.asr else (cached_thai_judge(), "stage cache")
        if not judge:
            asr = train_asr(wavs, [r["spoken_text"] for r in rows], ASRConfig(steps=args.steps))
            judge, source = str(asr.save_pretrained(folder / "asr")), f"trained here, {args.steps} steps"
        judges = pretrained_asr_judges(judge, ["th"])
        langs = ["th"] * len(clips)

        # the first call of each kind is cold: it builds the judge's LM, and on the pool it also
        # starts the workers and loads the judge there
        (single, single_cold_s), (single_again, single_s), (pooled, cold_s), (pooled_again, pool_s) = (
            timed(transcribe, clips, langs, judges, w) for w in (1, 1, args.workers, args.workers))

    result = {"utterances": len(clips), "audio_seconds": round(audio_s, 1),
              "judge": judge, "judge_from": source,
              "single_process_cold_clips_per_s": round(len(clips) / single_cold_s, 2),
              "single_process_clips_per_s": round(len(clips) / single_s, 2),
              f"new_pool_{args.workers}_workers_clips_per_s": round(len(clips) / cold_s, 2),
              f"kept_pool_{args.workers}_workers_clips_per_s": round(len(clips) / pool_s, 2),
              "rtf_one_core": round(single_s / audio_s, 4),
              "ratio_new_pool_vs_single_cold": round(single_cold_s / cold_s, 2),
              "ratio_pool_vs_single": round(single_s / pool_s, 2),
              "pool_transcripts_identical": single == single_again == pooled == pooled_again,
              "empty_transcripts": sum(not h for h in single)}
    print(json.dumps(result, indent=1, ensure_ascii=False))
    merge_results({"judging": result})


if __name__ == "__main__":
    main()
