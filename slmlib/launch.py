"""Running a job script (:mod:`slmlib.train`, :mod:`slmlib.generate`) in child processes under a
launcher (``accelerate launch``, ``torchrun`` or plain ``python``), and the scripts' shared
command line. A stage writes a job file, runs the script on it and reads back what it wrote:
notebook kernels cannot host multi-GPU work (``notebook_launcher`` cannot follow CUDA calls
made in the same kernel).
"""
from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable


def launch_command(command: str, module: str, job: Path) -> list[str]:
    """``command`` split as a shell would, with ``-m module job`` appended. A bare ``python``
    is this interpreter, and a launcher missing from PATH (``accelerate``, ``torchrun``) is
    taken from this interpreter's folder (a venv that was not activated)."""
    argv = shlex.split(command)
    if not argv:
        raise ValueError("empty launch command: give e.g. 'python', 'torchrun --nproc_per_node 2' "
                         "or 'accelerate launch --config_file configs/accelerate/multi_gpu.yaml'")
    if argv[0] in ("python", "python3"):
        argv[0] = sys.executable
    elif shutil.which(argv[0]) is None and Path(sys.executable).with_name(argv[0]).exists():
        argv[0] = str(Path(sys.executable).with_name(argv[0]))
    return argv + ["-m", module, str(Path(job).resolve())]


def run_launched(command: str, module: str, job: Path) -> None:
    """Run ``module`` on ``job`` under ``command`` in the project folder (where the accelerate
    configs are), its output into ``launch.log`` beside the job; a failure raises with the tail."""
    from slmlib.paths import project_root

    argv = launch_command(command, module, job)
    log_path = Path(job).parent / "launch.log"
    with open(log_path, "w") as f:
        code = subprocess.run(argv, stdout=f, stderr=subprocess.STDOUT, cwd=project_root()).returncode
    if code != 0:
        tail = "".join(log_path.read_text().splitlines(keepends=True)[-25:])
        raise RuntimeError(f"{' '.join(argv)} exited with {code}; the end of {log_path}:\n{tail}")


def launch_beside(out: Path, command: str, module: str, write_job: Callable[[Path], Path], log_file: str
                  ) -> list[dict]:
    """Write a job into ``<out>.job/`` with ``write_job(folder)``, run ``module`` on it under
    ``command``, remove the job once the script has saved its result into ``out`` (a failed run
    keeps it, and any checkpoint, for a rerun) and return the log the script wrote there."""
    folder = Path(out).with_name(Path(out).name + ".job")
    run_launched(command, module, write_job(folder))
    shutil.rmtree(folder)
    return json.loads((Path(out) / log_file).read_text())


def training_summary(log: list[dict]) -> str:
    """A training script's one line per process."""
    return f"step {log[-1]['step']}, loss {log[-1]['loss']:.4f}" if log else "no steps"


def script_main(module: str, doc: str, run: Callable[[Path], Any], summary: Callable[[Any], str],
                argv: list[str] | None = None) -> None:
    """``python -m <module> job.json``: check the job file, ``run`` it, and print one line per
    process with ``summary`` of what it returned."""
    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("job", type=Path, help=f"job.json written by {module}.write_job")
    args = parser.parse_args(argv)
    if not args.job.is_file():
        parser.error(f"no job file {args.job}: write one with {module}.write_job")
    from accelerate import PartialState

    result = run(args.job)
    state = PartialState()
    print(f"process {state.process_index} of {state.num_processes}: {summary(result)}")
