"""Read a run's published results: the CSV and JSON files every notebook writes beside itself.

The report reads only these small files (never Parquet, caches or models), so it can be rebuilt
from ``outputs/<profile>/`` after a run and equally from the committed
``outputs/reference/<profile>/`` folder.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

NOTEBOOKS = {"world": "00_speech_world", "scaling": "01_synthetic_scaling", "erosion": "02_erosion_analysis",
             "dgsa": "03_dgsa", "tdsc": "04_tdsc", "saslm": "05_saslm"}


class MissingResults(FileNotFoundError):
    """A results file the report needs is not there: the notebook that writes it has not run."""


@dataclass(frozen=True)
class RunResults:
    """The results folder of one run (``outputs/<profile>`` or a committed reference folder)."""

    root: Path

    def _file(self, notebook: str, name: str) -> Path:
        """``<root>/<notebook folder>/<name>``; ``notebook`` is a key of :data:`NOTEBOOKS`."""
        return self.root / NOTEBOOKS[notebook] / name

    def path(self, notebook: str, name: str) -> Path:
        """:meth:`_file`, or :class:`MissingResults` naming the notebook to run."""
        folder = NOTEBOOKS[notebook]
        p = self._file(notebook, name)
        if not p.exists():
            raise MissingResults(f"{p} is missing: run notebook {folder} of this profile first "
                                 f"(python -m slmlib run --profile <profile> --only {folder[:2]})")
        return p

    def table(self, notebook: str, name: str) -> pd.DataFrame:
        return pd.read_csv(self.path(notebook, f"{name}.csv"))

    def json(self, notebook: str, name: str) -> dict:
        return json.loads(self.path(notebook, f"{name}.json").read_text())

    def figure(self, notebook: str, name: str) -> Path | None:
        """A saved figure, or None when that notebook did not draw it in this profile."""
        p = self._file(notebook, f"{name}.png")
        return p if p.exists() else None

    def parquet(self, notebook: str, name: str) -> pd.DataFrame | None:
        """A Parquet table when present (a run's folder has them, a reference folder does not)."""
        p = self._file(notebook, f"{name}.parquet")
        return pd.read_parquet(p) if p.exists() else None

    def run_log(self) -> pd.DataFrame:
        p = self.root / "run_log.json"
        entries = json.loads(p.read_text()) if p.exists() else []
        return pd.DataFrame(entries, columns=["notebook", "seconds", "finished", "machine"])
