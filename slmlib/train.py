"""One SLM training run as a script, for long runs and several GPUs:

    accelerate launch --config_file configs/accelerate/multi_gpu.yaml -m slmlib.train job.json
    torchrun --nproc_per_node 2 -m slmlib.train job.json    # DDP on CPU processes (gloo)
    python -m slmlib.train job.json                         # one process

A notebook (or anyone) writes the job with :func:`write_job`: the training examples, the
vocabulary, the SLM config, the seed and the output folder. The script calls
:func:`slmlib.model.train.train_slm`, so a one-process run gives exactly the model the
notebooks train in-process; under ``accelerate launch`` every process takes its share of each
step's batch. The model and its vocabulary are written to the job's ``out`` folder, where the
notebook reads them back (``load_slm``): notebook kernels cannot host multi-GPU training.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import pickle
from pathlib import Path

from slmlib.model.config import SLMConfig
from slmlib.model.train import train_slm
from slmlib.model.vocab import SpeechVocab

EXAMPLES_FILE = "examples.pkl"


def write_job(folder: Path, examples: list[tuple[list[int], list[int]]], vocab: SpeechVocab, cfg: SLMConfig,
              seed: int, out: Path, device: str = "cpu", resume: bool = True) -> Path:
    """Write ``job.json`` (with the examples and vocabulary beside it) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / EXAMPLES_FILE).write_bytes(pickle.dumps(examples))
    vocab.save_pretrained(folder / "vocab")
    job = {"examples": EXAMPLES_FILE, "vocab": "vocab", "slm": dataclasses.asdict(cfg), "seed": seed,
           "out": str(out), "device": device, "resume_dir": str(folder / "resume") if resume else None}
    path = folder / "job.json"
    path.write_text(json.dumps(job, indent=1))
    return path


def run_job(path: Path) -> list[dict]:
    """Train as the job file says; returns the training log."""
    job = json.loads(Path(path).read_text())
    folder = Path(path).parent
    examples = pickle.loads((folder / job["examples"]).read_bytes())
    vocab = SpeechVocab.from_pretrained(folder / job["vocab"])
    cfg = SLMConfig(**job["slm"])
    resume = Path(job["resume_dir"]) if job.get("resume_dir") else None
    return train_slm(examples, vocab, cfg, job["seed"], Path(job["out"]), resume, job.get("device", "cpu"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m slmlib.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("job", type=Path, help="job.json written by slmlib.train.write_job")
    args = parser.parse_args(argv)
    if not args.job.is_file():
        parser.error(f"no job file {args.job}: write one with slmlib.train.write_job")
    from accelerate import PartialState

    log = run_job(args.job)
    state = PartialState()
    if log:
        print(f"process {state.process_index} of {state.num_processes}: step {log[-1]['step']}, "
              f"loss {log[-1]['loss']:.4f}")


if __name__ == "__main__":
    main()
