"""Run the numbered notebooks in order with papermill, stopping at the first failure."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from slmlib import paths
from slmlib.cache import NOT_RECORDED, atomic_write_text
from slmlib.config import load_config

KERNEL = "python3"   # registered into the venv with `ipykernel install --sys-prefix`


@dataclass(frozen=True)
class NotebookResult:
    notebook: str
    output: Path
    seconds: float


class NotebookFailed(RuntimeError):
    """A notebook raised; names the notebook, the failing cell and the executed copy."""

    def __init__(self, notebook: str, cell: int | None, error: str, output: Path):
        self.notebook, self.cell, self.error, self.output = notebook, cell, error, output
        where = f"cell {cell}" if cell is not None else "start-up"
        super().__init__(f"notebook {notebook} failed at {where}: {error}\n"
                         f"  executed copy with the traceback: {output}")


def discover(notebooks_dir: Path | None = None, only: Iterable[str] | None = None) -> list[Path]:
    """The numbered notebooks (``NN_name.ipynb``) in reading order, optionally filtered by
    number prefix (``only=["01", "02"]``) or full stem."""
    folder = notebooks_dir or paths.notebooks_dir()
    found = sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))
    if only is None:
        return found
    wanted = [w.strip() for w in only if w.strip()]
    chosen = [p for p in found if any(p.stem == w or p.stem.split("_")[0] == w for w in wanted)]
    missing = [w for w in wanted if not any(p.stem == w or p.stem.split("_")[0] == w for p in found)]
    if missing:
        raise ValueError(f"no notebook matches {missing}; available: {[p.stem for p in found]}")
    return chosen


def notebook_parameters(profile: str, overrides: Mapping[str, Any] | None) -> dict:
    """The papermill parameters every notebook takes; validated before anything runs."""
    load_config(profile, overrides)   # raises ConfigError listing valid names
    return {"profile": profile, "overrides": dict(overrides or {})}


def run_notebooks(
    profile: str,
    overrides: Mapping[str, Any] | None = None,
    only: Iterable[str] | None = None,
    notebooks_dir: Path | None = None,
    progress: bool = True,
) -> list[NotebookResult]:
    """Execute notebooks into ``outputs/<profile>/notebooks/``; raise NotebookFailed on error."""
    import papermill
    from tqdm.auto import tqdm

    parameters = notebook_parameters(profile, overrides)
    notebooks = discover(notebooks_dir, only)
    out_dir = paths.profile_dir(profile) / "notebooks"
    out_dir.mkdir(parents=True, exist_ok=True)
    results: list[NotebookResult] = []
    bar = tqdm(notebooks, desc=f"notebooks ({profile})", unit="nb", disable=not progress)
    for nb in bar:
        bar.set_postfix_str(nb.stem)
        output = out_dir / nb.name
        start = time.perf_counter()
        try:
            papermill.execute_notebook(
                str(nb), str(output), parameters=parameters, kernel_name=KERNEL,
                cwd=str(nb.parent), progress_bar=False,
            )
        except papermill.PapermillExecutionError as err:
            raise NotebookFailed(nb.stem, err.cell_index, f"{err.ename}: {err.evalue}", output) from None
        results.append(NotebookResult(nb.stem, output, time.perf_counter() - start))
        _write_log(out_dir.parent, results[-1])
    return results


def prepare_notebooks(
    profile: str,
    dest: Path,
    overrides: Mapping[str, Any] | None = None,
    notebooks_dir: Path | None = None,
) -> list[Path]:
    """Copy the notebooks with the parameters injected but not executed (for nbval)."""
    import papermill

    parameters = notebook_parameters(profile, overrides)
    dest.mkdir(parents=True, exist_ok=True)
    prepared = []
    for nb in discover(notebooks_dir):
        out = dest / nb.name
        papermill.execute_notebook(str(nb), str(out), parameters=parameters,
                                   kernel_name=KERNEL, prepare_only=True, progress_bar=False)
        prepared.append(out)
    return prepared


def _write_log(profile_dir: Path, result: NotebookResult) -> None:
    """Enter a notebook that just ran into the profile's log (the entries of notebooks this run
    did not reach, or ``--only`` left out, stay), in notebook order, with when it finished and
    on what machine (:func:`slmlib.hardware.machine`)."""
    from datetime import datetime, timezone

    from slmlib.hardware import machine

    finished = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    _merge_log(profile_dir / "run_log.json", [{"notebook": result.notebook, "output": str(result.output),
                                               "seconds": round(result.seconds, 1), "finished": finished,
                                               "machine": machine()}])


def _merge_log(path: Path, entries: list[dict]) -> dict[str, dict]:
    """Put ``entries`` into the run log at ``path`` (replacing those of the same notebooks,
    keeping the others), in notebook order; returns the log's entries by notebook."""
    log = {e["notebook"]: e for e in (json.loads(path.read_text()) if path.exists() else [])}
    log.update({e["notebook"]: e for e in entries})
    atomic_write_text(path, json.dumps([log[k] for k in sorted(log)], indent=1))
    return log


def report_location(profile: str) -> Path:
    """The report of a run: notebook 06's HTML when it exists, else the run log."""
    report = paths.profile_dir(profile) / "report" / "report.html"
    return report if report.exists() else paths.profile_dir(profile) / "run_log.json"


PUBLISHED = (".csv", ".json", ".png", ".md", ".html")
DOCUMENTS = (".ipynb", ".html")          # executed notebooks and the report: the larger size cap
REPORT_AUDIO = Path("report") / "audio"  # the report's few example clips are the only audio published


def _publishable(f: Path, src: Path) -> bool:
    rel = f.relative_to(src)
    if f.name.startswith("."):
        return False
    return f.suffix in (*PUBLISHED, ".ipynb") or rel.parent == REPORT_AUDIO


def publish_reference(profile: str, dest: Path | None = None, max_file_mb: float = 1.0,
                      max_notebook_mb: float = 5.0, only: Iterable[str] | None = None) -> list[Path]:
    """Copy a run's small results (CSV, JSON, PNG, the report; no Parquet duplicates, no audio
    but the report's examples) and its executed notebooks into ``outputs/reference/<profile>/``
    for committing, so a reader sees results before running anything. Files over the size caps
    are skipped and listed. ``only`` (paths relative to the profile folder, e.g. ``["report",
    "notebooks/06_report.ipynb"]``) replaces just those parts and keeps the rest of the
    reference, so one rerun notebook can be published without touching the others."""
    import shutil

    src = paths.profile_dir(profile)
    if not src.exists():
        raise FileNotFoundError(f"no outputs for profile {profile!r} at {src}: run it first")
    dest = dest or paths.outputs_root() / "reference" / profile
    parts = [src / p for p in only] if only else [src]
    for part in parts:
        if not part.exists():
            raise FileNotFoundError(f"{part} does not exist: run the notebook that writes it first")
        target = dest / part.relative_to(src)
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    copied, skipped = [], []
    files = sorted(f for part in parts for f in ([part] if part.is_file() else part.rglob("*")))
    for f in files:
        if not f.is_file() or not _publishable(f, src):
            continue
        cap = max_notebook_mb if f.suffix in DOCUMENTS else max_file_mb
        if f.stat().st_size > cap * 1e6:
            skipped.append(f)
            continue
        target = dest / f.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, target)
        copied.append(target)
    if skipped:
        print("not published (over the size cap): " + ", ".join(str(s.relative_to(src)) for s in skipped))
    if only and (src / "run_log.json").exists():
        _publish_log_entries(src / "run_log.json", dest / "run_log.json", {Path(p).stem for p in only})
    return copied


def _publish_log_entries(run_log: Path, reference_log: Path, notebooks: set[str]) -> None:
    """Enter the run-log entries of the notebooks a partial publish replaced into the
    reference's log, and say so when the reference's notebooks then ran on different machines
    (float results differ between processors; see :func:`slmlib.hardware.machine`)."""
    published = [e for e in json.loads(run_log.read_text()) if e["notebook"] in notebooks]
    if not published:
        return
    where = {notebook: e.get("machine", NOT_RECORDED) for notebook, e in _merge_log(reference_log, published).items()}
    if len(set(where.values())) > 1:
        print("note: the reference's notebooks now come from different machines: "
              + "; ".join(f"{notebook}: {m}" for notebook, m in where.items()))
