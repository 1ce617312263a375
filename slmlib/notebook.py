"""What every notebook does first: resolve the config, seed everything, find its folders."""
from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from slmlib import paths
from slmlib.cache import StageCache
from slmlib.config import Config, load_config


@dataclass(frozen=True)
class NotebookRun:
    cfg: Config
    cache: StageCache
    out: Path          # outputs/<profile>/<notebook>/

    def save(self, name: str, obj: Any) -> Path:
        """Write a result beside the notebook: DataFrames as Parquet + CSV, the rest as JSON."""
        import pandas as pd

        if isinstance(obj, pd.DataFrame):
            obj.to_csv(self.out / f"{name}.csv", index=False)
            path = self.out / f"{name}.parquet"
            obj.to_parquet(path, index=False)
            return path
        path = self.out / f"{name}.json"
        path.write_text(json.dumps(obj, indent=1, default=_jsonable))
        return path


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (when installed) so a notebook reruns to the same numbers."""
    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch
    except ImportError:
        return
    torch.manual_seed(seed)


def start(profile: str, overrides: Mapping[str, Any] | None, notebook: str) -> NotebookRun:
    """Call once at the top of a notebook, right after its ``parameters`` cell."""
    cfg = load_config(profile, overrides)
    seed_everything(cfg.seed)
    cache = StageCache(paths.cache_dir())
    cache.clean_temporaries()
    return NotebookRun(cfg, cache, paths.results_dir(cfg.profile, notebook))
