"""Training and generation as scripts: a job file written by a notebook, run in one process (the
same model and tokens as in-process) and as two CPU processes: `accelerate launch --multi_gpu
--num_processes 2` (accelerate hands it to torchrun; each process's Accelerator finds no GPU and
uses DDP over gloo) and torchrun itself."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
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


@pytest.fixture
def one_thread(monkeypatch):
    """This process and the scripts it starts on one torch thread each (torchrun's own default).
    On two threads the same kernels in two processes summed in another order now and then
    (perhaps a BLAS call handed fewer threads while the cores were busy): 1.7e-8 in the embedding
    after one step, and Adam, which divides small gradients by their own size, carried that to
    2.4e-6 in q_proj after four (the project's CI, 2026-12-02). On one thread
    the two agreed bit for bit over 20 steps with a busy core beside them."""
    from slmlib.hardware import torch_threads

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("MKL_NUM_THREADS", "1")
    with torch_threads(1):
        yield


def test_one_process_script_trains_the_in_process_model(tmp_path, one_thread):
    examples, vocab, cfg = _job_inputs()
    train_slm(examples, vocab, cfg, 0, tmp_path / "direct")
    job = write_job(tmp_path / "job", examples, vocab, cfg, 0, tmp_path / "script")
    proc = subprocess.run([sys.executable, "-m", "slmlib.train", str(job)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    a, _ = load_slm(tmp_path / "direct")
    b, v = load_slm(tmp_path / "script")
    assert v == vocab
    _assert_same_model(a, b)


def _assert_same_model(a, b) -> None:
    """The same weights (both sides on one thread, see :func:`one_thread`); the 1e-6 slack is
    far below what one wrong step or other data moves them by."""
    for (n, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        assert torch.allclose(p, q, rtol=0.0, atol=1e-6), (
            f"{n} differs by up to {float((p - q).abs().max()):.2e}; torch threads: "
            f"{torch.get_num_threads()} here, {_fresh_threads()} in a fresh process")


def _fresh_threads() -> str:
    """torch's thread count in a new process (asked only when the models differ)."""
    return subprocess.run([sys.executable, "-c", "import torch; print(torch.get_num_threads())"],
                          capture_output=True, text=True).stdout.strip()


def test_accelerate_launch_ddp_on_two_cpu_processes(tmp_path):
    examples, vocab, cfg = _job_inputs()
    job = write_job(tmp_path / "job", examples, vocab, cfg, 0, tmp_path / "ddp", log_every=1)
    proc = subprocess.run([str(Path(sys.executable).with_name("accelerate")), "launch", "--multi_gpu",
                           "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
                           "--dynamo_backend", "no", "--main_process_port", "29517", "-m", "slmlib.train", str(job)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "process 0 of 2" in proc.stdout and "process 1 of 2" in proc.stdout
    model, _ = load_slm(tmp_path / "ddp")
    assert all(torch.isfinite(p).all() for p in model.parameters())
    # the learning-rate schedule advances once per step, not once per process
    single = train_slm(examples, vocab, cfg, 0, tmp_path / "single", log_every=1)
    ddp = json.loads((tmp_path / "ddp" / "train_log.json").read_text())
    assert [e["lr"] for e in ddp] == [e["lr"] for e in single]


def test_fit_slm_launched_as_a_script_trains_the_in_process_model(tmp_path, one_thread):
    import dataclasses

    from slmlib.train import fit_slm

    examples, vocab, cfg = _job_inputs()
    log = fit_slm(examples, vocab, cfg, 0, tmp_path / "direct")
    launched = fit_slm(examples, vocab, dataclasses.replace(cfg, launch="python"), 0, tmp_path / "script")
    assert [e["loss"] for e in launched] == pytest.approx([e["loss"] for e in log], rel=1e-6)
    assert not (tmp_path / "script.job").exists()                   # the job's files are cleaned up
    _assert_same_model(load_slm(tmp_path / "direct")[0], load_slm(tmp_path / "script")[0])


def test_a_failing_launch_says_what_happened(tmp_path):
    import dataclasses

    from slmlib.train import fit_slm

    examples, vocab, cfg = _job_inputs()
    bad = dataclasses.replace(cfg, launch="python -c 'import sys; print(\"no GPU here\"); sys.exit(3)'")
    with pytest.raises(RuntimeError, match="(?s)exited with 3.*no GPU here"):
        fit_slm(examples, vocab, bad, 0, tmp_path / "model")
    assert (tmp_path / "model.job" / "job.json").exists()              # kept for a rerun
    with pytest.raises(ValueError, match="empty launch command"):
        fit_slm(examples, vocab, dataclasses.replace(cfg, launch=" "), 0, tmp_path / "other")


def _requests(utts, n=12):
    from slmlib.model.generate import Request

    return [Request(u.lang, u.text) for u in utts[:n]]


def test_generation_script_gives_the_in_process_tokens(sft, tmp_path, one_thread):
    import dataclasses

    from slmlib.generate import speak

    folder, _, utts = sft
    cfg = SLMConfig(temperature=0.9, top_p=0.9, tokens_per_char=3.0, generate_batch=5)
    direct = speak(folder, _requests(utts), cfg, seed=4)
    launched = speak(folder, _requests(utts), dataclasses.replace(cfg, launch="python"), seed=4)
    assert len(direct) == 12 and all(np.array_equal(a, b) for a, b in zip(direct, launched))


def test_generation_on_two_processes_joins_the_parts_in_order(sft, tmp_path, one_thread):
    import dataclasses

    from slmlib.generate import speak

    folder, _, utts = sft
    greedy = SLMConfig(temperature=0.0, tokens_per_char=3.0, generate_batch=4)
    direct = speak(folder, _requests(utts, 9), greedy, seed=0)
    two = speak(folder, _requests(utts, 9),
                dataclasses.replace(greedy, launch="torchrun --nproc_per_node 2 --master_port 29519"), seed=0)
    assert len(two) == 9 and all(np.array_equal(a, b) for a, b in zip(direct, two))
