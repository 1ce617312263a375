"""Speech-token generation as a script, for long runs and several GPUs:

    accelerate launch --config_file configs/accelerate/multi_gpu.yaml -m slmlib.generate job.json
    torchrun --nproc_per_node 2 -m slmlib.generate job.json
    python -m slmlib.generate job.json

:func:`write_job` writes the job: a model folder (``load_slm``), the requests (language, text,
optional style prompt) and the decoding settings. Every process speaks its share of the
requests (every n-th, so long and short texts spread evenly) on its own device with
:func:`slmlib.model.generate.generate_speech` and writes its part; the main process then joins
the parts, in request order, into the job's ``out`` file (:func:`read_tokens`). One process
gives exactly the tokens of in-process generation with the same seed; with n processes,
process r samples with seed + r (greedy decoding is the same either way).

:func:`speak` is what the notebooks' evaluation stages call: in process, or with ``slm.launch``
set through this script under that command.
"""
from __future__ import annotations

import json
import pickle
import tempfile
from pathlib import Path

import numpy as np

from slmlib.launch import run_launched, script_main
from slmlib.model.config import SLMConfig
from slmlib.model.generate import Request, generate_speech
from slmlib.model.train import load_slm

REQUESTS_FILE = "requests.pkl"


def write_job(folder: Path, model: Path, requests: list[Request], slm: SLMConfig, seed: int,
              out: Path) -> Path:
    """Write ``job.json`` (the requests beside it) into ``folder``; decoding settings come
    from ``slm`` (temperature, top_p, tokens_per_char, generate_batch)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / REQUESTS_FILE).write_bytes(pickle.dumps(requests))
    job = {"model": str(Path(model).resolve()), "requests": REQUESTS_FILE, "seed": seed,
           **slm.sampling(), "batch_size": slm.generate_batch, "out": str(Path(out).resolve())}
    path = folder / "job.json"
    path.write_text(json.dumps(job, indent=1))
    return path


def _part(out: Path, rank: int) -> Path:
    return out.with_name(f"{out.name}.part{rank}")


def run_job(path: Path) -> list[np.ndarray]:
    """Speak this process's share of the job; the main process joins every part into ``out``
    and returns all tokens (other processes return their own share)."""
    from accelerate import PartialState

    job = json.loads(Path(path).read_text())
    requests: list[Request] = pickle.loads((Path(path).parent / job["requests"]).read_bytes())
    state = PartialState()
    mine = list(range(state.process_index, len(requests), state.num_processes))
    model, vocab = load_slm(job["model"])
    model.to(state.device)
    tokens = generate_speech(model, vocab, [requests[i] for i in mine], temperature=job["temperature"],
                             top_p=job["top_p"], tokens_per_char=job["tokens_per_char"],
                             batch_size=job["batch_size"], seed=job["seed"] + state.process_index)
    out = Path(job["out"])
    _part(out, state.process_index).write_bytes(pickle.dumps((mine, tokens)))
    state.wait_for_everyone()
    if not state.is_main_process:
        return tokens
    joined: list = [None] * len(requests)
    for rank in range(state.num_processes):
        idx, part = pickle.loads(_part(out, rank).read_bytes())
        for i, t in zip(idx, part):
            joined[i] = t
        _part(out, rank).unlink()
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(pickle.dumps(joined))
    tmp.replace(out)
    return joined


def read_tokens(out: Path) -> list[np.ndarray]:
    return pickle.loads(Path(out).read_bytes())


def speak(model: Path, requests: list[Request], slm: SLMConfig, seed: int) -> list[np.ndarray]:
    """Speech tokens for ``requests`` from the SLM in ``model``: in this process, or with
    ``slm.launch`` as this script under that command (its files in a temporary folder)."""
    if not slm.launch:
        lm, vocab = load_slm(model)
        return generate_speech(lm, vocab, requests, temperature=slm.temperature, top_p=slm.top_p,
                               tokens_per_char=slm.tokens_per_char, batch_size=slm.generate_batch,
                               seed=seed)
    with tempfile.TemporaryDirectory(prefix="slmlib-generate-") as work:
        job = write_job(Path(work), model, requests, slm, seed, Path(work) / "tokens.pkl")
        run_launched(slm.launch, "slmlib.generate", job)
        return read_tokens(Path(work) / "tokens.pkl")


def main(argv: list[str] | None = None) -> None:
    script_main("slmlib.generate", __doc__, run_job,
                lambda tokens: f"{sum(len(t) for t in tokens)} speech tokens for {len(tokens)} requests", argv)


if __name__ == "__main__":
    main()
