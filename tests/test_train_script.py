"""Training as a script: a job file written by a notebook, run in one process (same model as
training in-process) and as two CPU processes with DDP. On CPUs, `accelerate launch` starts one
process unless MPI is installed, so the test launches with torchrun, which is what `accelerate
launch` hands multi-GPU runs to; the Accelerator inside is the same."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from slmlib.model.config import SLMConfig
from slmlib.model.data import Utterance, encode_examples, with_prompts
from slmlib.model.train import load_slm, train_slm
from slmlib.model.vocab import SpeechVocab
from slmlib.train import write_job

def _job_inputs():
    rng = np.random.default_rng(0)
    vocab = SpeechVocab.build(["abcde "], ["en"], 40)
    utts = [Utterance("en", "".join(rng.choice(list("abcde "), 8)).strip() or "a", "s", rng.integers(0, 40, 12))
            for _ in range(48)]
    cfg = SLMConfig(hidden_size=32, layers=1, heads=2, intermediate_size=64, steps=4, batch_size=8, warmup=1,
                    bf16=False, checkpoint_every=100)
    return encode_examples(vocab, with_prompts(utts, 0.3, 4, 0)), vocab, cfg


def test_one_process_script_trains_the_in_process_model(tmp_path):
    examples, vocab, cfg = _job_inputs()
    train_slm(examples, vocab, cfg, 0, tmp_path / "direct")
    job = write_job(tmp_path / "job", examples, vocab, cfg, 0, tmp_path / "script")
    proc = subprocess.run([sys.executable, "-m", "slmlib.train", str(job)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    a, _ = load_slm(tmp_path / "direct")
    b, v = load_slm(tmp_path / "script")
    assert v == vocab
    for (n, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        assert torch.equal(p, q), n


def test_ddp_on_two_cpu_processes(tmp_path):
    examples, vocab, cfg = _job_inputs()
    job = write_job(tmp_path / "job", examples, vocab, cfg, 0, tmp_path / "ddp")
    proc = subprocess.run([str(Path(sys.executable).with_name("torchrun")), "--nproc_per_node", "2",
                           "--master_port", "29517", "-m", "slmlib.train", str(job)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "process 0 of 2" in proc.stdout and "process 1 of 2" in proc.stdout
    model, _ = load_slm(tmp_path / "ddp")
    assert (tmp_path / "ddp" / "train_log.json").exists()
    assert all(torch.isfinite(p).all() for p in model.parameters())
