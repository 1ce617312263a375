"""One SLM training run as a script, for long runs and several GPUs:

    accelerate launch --config_file configs/accelerate/multi_gpu.yaml -m slmlib.train job.json
    accelerate launch --multi_gpu --num_processes 2 -m slmlib.train job.json   # DDP on CPUs (gloo)
    torchrun --nproc_per_node 2 -m slmlib.train job.json    # the same, without accelerate's launcher
    python -m slmlib.train job.json                         # one process

A notebook (or anyone) writes the job with :func:`write_job`: the training examples, the
vocabulary, the SLM config, the seed and the output folder. The script calls
:func:`slmlib.model.train.train_slm`, so a one-process run gives exactly the model the
notebooks train in-process; under ``accelerate launch`` every process takes its share of each
step's batch. The model, its vocabulary and the training log are written to the job's ``out``
folder, where the notebook reads them back (``load_slm``): notebook kernels cannot host
multi-GPU training. With ``slm.launch`` set, the SFT stages do all of this themselves through
:func:`fit_slm`.
"""
from __future__ import annotations

import dataclasses
import json
import pickle
from pathlib import Path

from slmlib.launch import launch_beside, script_main, training_summary
from slmlib.model.config import SLMConfig
from slmlib.model.train import LOG_FILE, train_slm
from slmlib.model.vocab import SpeechVocab

EXAMPLES_FILE = "examples.pkl"


def write_job(folder: Path, examples: list[tuple[list[int], list[int]]], vocab: SpeechVocab, cfg: SLMConfig,
              seed: int, out: Path, device: str = "cpu", resume_dir: Path | None = None,
              log_every: int = 10) -> Path:
    """Write ``job.json`` (with the examples and vocabulary beside it) into ``folder``; the run
    checkpoints into ``resume_dir`` (default ``folder/resume``) and resumes from it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / EXAMPLES_FILE).write_bytes(pickle.dumps(examples))
    vocab.save_pretrained(folder / "vocab")
    job = {"examples": EXAMPLES_FILE, "vocab": "vocab", "slm": dataclasses.asdict(cfg), "seed": seed,
           "out": str(Path(out).resolve()), "device": device,
           "resume_dir": str(Path(resume_dir or folder / "resume").resolve()), "log_every": log_every}
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
    return train_slm(examples, vocab, cfg, job["seed"], Path(job["out"]), resume, job.get("device", "cpu"),
                     job.get("log_every", 10))


def fit_slm(examples: list[tuple[list[int], list[int]]], vocab: SpeechVocab, cfg: SLMConfig, seed: int,
            out: Path, resume_dir: Path | None = None, device: str = "cpu", log_every: int = 10) -> list[dict]:
    """:func:`train_slm` in this process, or with ``cfg.launch`` as a script under that command:
    the job is written beside ``out`` (``<out>.job/``), run, and removed once the model is
    saved (a failed run keeps it and its checkpoint for a rerun). Returns the training log."""
    if not cfg.launch:
        return train_slm(examples, vocab, cfg, seed, out, resume_dir, device, log_every)
    return launch_beside(out, cfg.launch, "slmlib.train", lambda folder: write_job(
        folder, examples, vocab, cfg, seed, out, device, resume_dir, log_every), LOG_FILE)


def main(argv: list[str] | None = None) -> None:
    script_main("slmlib.train", __doc__, run_job, training_summary, argv)


if __name__ == "__main__":
    main()
