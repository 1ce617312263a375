"""Stage cache: every expensive step is stored under a hash of what it depends on.

A step's key hashes its name, its config section, the keys of the steps it consumes and the
library version. Its result is a folder ``<root>/<name>/<key>/`` that appears only when the
step has finished: the step writes into a temporary folder beside it, which is renamed into
place in one atomic ``os.rename``. So a killed run leaves at most a stale temporary folder
(ignored and cleaned later) and a rerun recomputes only the steps that never finished.

No library does exactly this (joblib.Memory hashes function arguments and writes files in
place, not atomically per step, and has no notion of folder-shaped results such as a saved
model), so it is written here, small.
"""
from __future__ import annotations

import json
import os
import pickle
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import pandas as pd

from slmlib import __version__
from slmlib.config import canonical_json, config_hash

VALUE_FILE = "value.pkl"
META_FILE = "meta.json"
NOT_RECORDED = "not recorded"   # the machine of a result or run logged before machines were recorded


@dataclass(frozen=True)
class Step:
    """A finished step: where it lives and what it returned."""

    name: str
    key: str
    path: Path
    value: Any
    seconds: float      # compute time when it was first made
    reused: bool        # True when this call found it already done


class StageCache:
    """A folder of finished steps, addressed by content hash."""

    def __init__(self, root: str | os.PathLike, version: str = __version__):
        self.root = Path(root)
        self.version = version

    def key(self, name: str, params: Any, inputs: Iterable[str] = ()) -> str:
        """Hash of the step's name, config, input keys and the library version."""
        return config_hash(
            {"name": name, "params": canonical_json(params), "inputs": list(inputs),
             "version": self.version}
        )

    def path(self, name: str, key: str) -> Path:
        return self.root / name / key

    def run(
        self,
        name: str,
        params: Any,
        compute: Callable[[Path], Any],
        inputs: Iterable[str] = (),
    ) -> Step:
        """Return the finished step, computing it first if needed.

        ``compute(folder)`` may write files into ``folder`` (a fresh temporary folder) and
        may return a picklable value; both are kept. ``inputs`` are keys of upstream steps.
        """
        inputs = list(inputs)
        key = self.key(name, params, inputs)
        final = self.path(name, key)
        if (final / META_FILE).exists():
            return self._load(name, key, final, reused=True)

        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.parent / f".tmp-{key}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        try:
            start = time.perf_counter()
            value = compute(tmp)
            seconds = time.perf_counter() - start
            if value is not None:
                with open(tmp / VALUE_FILE, "wb") as fh:
                    pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
            from slmlib.hardware import machine       # here: importing torch is for stages, not the CLI

            meta = {"name": name, "key": key, "seconds": seconds, "inputs": inputs,
                    "version": self.version, "finished": time.time(), "machine": machine(),
                    "params": json.loads(canonical_json(params))}
            (tmp / META_FILE).write_text(json.dumps(meta, indent=1, default=str))
            try:
                os.rename(tmp, final)
            except OSError:
                if not (final / META_FILE).exists():   # not a lost race: a real error
                    raise
                shutil.rmtree(tmp)                      # another process finished first
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return self._load(name, key, final, reused=False)

    def _load(self, name: str, key: str, folder: Path, reused: bool) -> Step:
        meta = json.loads((folder / META_FILE).read_text())
        value = None
        if (folder / VALUE_FILE).exists():
            with open(folder / VALUE_FILE, "rb") as fh:
                value = pickle.load(fh)
        return Step(name, key, folder, value, float(meta["seconds"]), reused)

    def timings(self, since: float | None = None) -> pd.DataFrame:
        """One row per finished step (``since``, a Unix time: those finished after it): name,
        key, compute seconds (for 'where the time goes') and the machine that computed it
        (:func:`slmlib.hardware.machine`; float results differ between processors, and a cache
        copied from another machine keeps its keys)."""
        rows = []
        for meta_path in sorted(self.root.glob(f"*/*/{META_FILE}")):
            meta = json.loads(meta_path.read_text())
            rows.append({**{k: meta[k] for k in ("name", "key", "seconds", "finished")},
                         "machine": meta.get("machine", NOT_RECORDED)})
        t = pd.DataFrame(rows, columns=["name", "key", "seconds", "finished", "machine"])
        return t if since is None else t[t.finished >= since]

    def stage_summary(self, since: float | None = None) -> pd.DataFrame:
        """Where the time goes: compute seconds per stage name (steps, total, mean, max and
        share of the total), largest first; ``since`` (a Unix time) keeps the steps finished
        after it, e.g. one run's. Stages run in parallel workers overlap, so the total is
        compute time, not wall time."""
        t = self.timings(since)
        g = t.groupby("name").seconds.agg(steps="count", seconds="sum", mean="mean", max="max")
        g["share"] = g.seconds / max(g.seconds.sum(), 1e-9)
        return g.sort_values("seconds", ascending=False).reset_index()

    def clean_temporaries(self) -> int:
        """Remove temporary folders that killed runs left behind; returns how many.

        A folder whose writing process is still alive is left alone.
        """
        stale = [f for f in self.root.glob("*/.tmp-*") if not _alive(int(f.name.split("-")[2]))]
        for folder in stale:
            shutil.rmtree(folder, ignore_errors=True)
        return len(stale)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def atomic_write_text(path: Path, text: str) -> Path:
    """Write a text file whole: into a temporary name beside it, then one ``os.replace``, so a
    reader never sees half a file and an interrupted write keeps the previous version."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path
