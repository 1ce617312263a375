"""Codec throughput: WORLD analysis + tokenisation (encode) and synthesis (decode) real-time
factors on one core, and slmlib's process pool against a single process for encoding, in the
same run.

Renders ``--utterances`` smoke-world Thai clips (real and synthetic voices), fits a small codec
on them (the smoke profile's codebook), then times encode and decode clip by clip. RTF =
compute seconds / audio seconds (below 1 is faster than real time). Merges the numbers into
bench/results.json. Usage: .venv/bin/python bench/bench_codec.py [--utterances 96] [--workers 2]
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from slmlib.codec.analysis import analyse, speaker_stats
from slmlib.codec.config import CodecConfig
from slmlib.codec.tokenizer import SpeechCodec
from slmlib.data.manifest import SAMPLE_RATE, load_audio
from slmlib.parallel import map_chunks

try:                      # run as a script (bench/bench_codec.py) or as a module
    from bench_world import smoke_specs
    from common import merge_results, timed
except ImportError:
    from bench.bench_world import smoke_specs
    from bench.common import merge_results, timed


def _encode_part(jobs: list[tuple[str, str]], codec_dir: str, stats: dict) -> list[np.ndarray]:
    codec = SpeechCodec.from_pretrained(codec_dir)
    return [codec.encode(load_audio(path), stats[speaker]) for path, speaker in jobs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--utterances", type=int, default=96)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    from slmlib.world.build import render_rows

    cfg = CodecConfig.smoke()
    with tempfile.TemporaryDirectory() as root:
        folder = Path(root)
        rows = render_rows(smoke_specs(args.utterances, args.workers), folder)
        paths = [str(folder / r["path"]) for r in rows]
        speakers = [r["speaker"] for r in rows]
        wavs = [load_audio(p) for p in paths]
        audio_s = sum(len(w) for w in wavs) / SAMPLE_RATE
        frames = [analyse(w, cfg.n_cepstra, cfg.frame_ms, aperiodicity=True) for w in wavs]
        stats = {s: speaker_stats([f for f, t in zip(frames, speakers) if t == s]) for s in set(speakers)}
        codec = SpeechCodec.fit_frames(cfg, [(f, stats[s]) for f, s in zip(frames, speakers)])
        codec.save_pretrained(folder / "codec")

        tokens, encode_s = timed(lambda: [codec.encode(w, stats[s]) for w, s in zip(wavs, speakers)])
        _, decode_s = timed(lambda: [codec.decode(t, stats[s]) for t, s in zip(tokens, speakers)])
        # the pool's time includes worker start-up and loading the codec
        pooled, pool_s = timed(map_chunks, _encode_part, list(zip(paths, speakers)), args.workers,
                               str(folder / "codec"), stats)
        identical = all(np.array_equal(a, b) for a, b in zip(tokens, pooled))

    result = {"utterances": len(wavs), "audio_seconds": round(audio_s, 1),
              "encode_rtf_one_core": round(encode_s / audio_s, 4), "decode_rtf_one_core": round(decode_s / audio_s, 4),
              f"encode_pool_{args.workers}_workers_rtf": round(pool_s / audio_s, 4),
              "ratio_pool_vs_single_encode": round(encode_s / pool_s, 2), "pool_tokens_identical": identical}
    print(json.dumps(result, indent=1))
    merge_results({"codec": result})


if __name__ == "__main__":
    main()
