"""Where things live: the repository's notebooks and the generated outputs."""
from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def project_root() -> Path:
    """The checkout holding ``slmlib`` (editable install), else the working directory."""
    candidate = PACKAGE_DIR.parent
    if (candidate / "pyproject.toml").exists() and (candidate / "notebooks").is_dir():
        return candidate
    return Path.cwd()


def outputs_root() -> Path:
    """``$SLMLIB_OUTPUTS`` if set, else ``<project>/outputs``."""
    env = os.environ.get("SLMLIB_OUTPUTS")
    return Path(env).resolve() if env else project_root() / "outputs"


def notebooks_dir() -> Path:
    return project_root() / "notebooks"


def profile_dir(profile: str) -> Path:
    """``outputs/<profile>/``: executed notebooks, results, figures and the stage cache."""
    return outputs_root() / profile


def results_dir(profile: str, notebook: str) -> Path:
    """``outputs/<profile>/<notebook>/`` (created): one notebook's tables and figures."""
    path = profile_dir(profile) / notebook
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir() -> Path:
    """The stage cache is shared by all profiles: keys already hold every parameter."""
    return outputs_root() / "cache"
