"""DPO as a script, for several GPUs (the preference stages of notebooks 03 and 04):

    accelerate launch --config_file configs/accelerate/multi_gpu.yaml -m slmlib.align.dpo_job job.json
    python -m slmlib.align.dpo_job job.json

:func:`fit_dpo` is what the stages call: :func:`slmlib.align.dpo.train_dpo` in process, or with
``slm.launch`` set, a job file (start model, pairs, set weights, settings) run under that
command. One process trains exactly the in-process policy; the policy and its log are written
to the job's ``out`` folder.
"""
from __future__ import annotations

import dataclasses
import json
import pickle
from pathlib import Path

from slmlib.align.config import AlignConfig
from slmlib.align.dpo import DPO_LOG, Pair, train_dpo
from slmlib.launch import launch_beside, script_main, training_summary

PAIRS_FILE = "pairs.pkl"


def write_job(folder: Path, start: Path, pairs: list[Pair], weights: dict[str, float], cfg: AlignConfig,
              seed: int, out: Path, device: str = "cpu", log_every: int = 5,
              reference: Path | None = None) -> Path:
    """Write ``job.json`` (the pairs beside it) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / PAIRS_FILE).write_bytes(pickle.dumps(pairs))
    job = {"start": str(Path(start).resolve()), "pairs": PAIRS_FILE, "weights": weights,
           "align": dataclasses.asdict(cfg), "seed": seed, "out": str(Path(out).resolve()), "device": device,
           "log_every": log_every, "reference": str(Path(reference).resolve()) if reference else None}
    path = folder / "job.json"
    path.write_text(json.dumps(job, indent=1))
    return path


def run_job(path: Path) -> list[dict]:
    job = json.loads(Path(path).read_text())
    pairs = pickle.loads((Path(path).parent / job["pairs"]).read_bytes())
    return train_dpo(job["start"], pairs, job["weights"], AlignConfig(**job["align"]), job["seed"], Path(job["out"]),
                     job["device"], job["log_every"], job["reference"])


def fit_dpo(start: Path, pairs: list[Pair], weights: dict[str, float], cfg: AlignConfig, seed: int, out: Path,
            device: str = "cpu", log_every: int = 5, reference: Path | None = None, launch: str = "") -> list[dict]:
    """:func:`train_dpo` in this process, or as this script under ``launch`` (the job written
    beside ``out`` and removed once the policy is saved; a failed run keeps it)."""
    if not launch:
        return train_dpo(start, pairs, weights, cfg, seed, out, device, log_every, reference)
    return launch_beside(out, launch, "slmlib.align.dpo_job", lambda folder: write_job(
        folder, start, pairs, weights, cfg, seed, out, device, log_every, reference), DPO_LOG)


def main(argv: list[str] | None = None) -> None:
    script_main("slmlib.align.dpo_job", __doc__, run_job, training_summary, argv)


if __name__ == "__main__":
    main()
