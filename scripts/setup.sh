#!/usr/bin/env bash
# Set up everything slm-erosion needs, idempotently: espeak-ng, .venv, the package, the kernel.
# Re-running is cheap: pip is skipped while pyproject.toml and constraints.txt are unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
VENV=${SLMLIB_VENV:-.venv}

# 1. espeak-ng (the world's synthesiser) from the OS package manager.
if ! command -v espeak-ng >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" = 0 ] || sudo -n true 2>/dev/null; }; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo -n"
    echo "setup: installing espeak-ng with apt-get" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq espeak-ng >/dev/null
  elif [ -n "${CONDA_PREFIX:-}" ] && command -v conda >/dev/null 2>&1; then
    echo "setup: installing espeak-ng from conda-forge" >&2
    conda install -y -q -c conda-forge espeak-ng
  else
    echo "setup: espeak-ng is missing and cannot be installed from here. Install it, then rerun:" >&2
    echo "    sudo apt-get install espeak-ng        # Debian/Ubuntu" >&2
    echo "    brew install espeak-ng                # macOS" >&2
    echo "    conda install -c conda-forge espeak-ng" >&2
    exit 1
  fi
fi

# 2. The virtual environment and the package.
"$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || {
  echo "setup: Python 3.11 is required ($PYTHON is $("$PYTHON" --version 2>&1))." >&2
  echo "    set PYTHON=/path/to/python3.11, or use environment.yml with conda" >&2
  exit 1
}
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
STAMP="$VENV/.slmlib-installed"
WANT=$(cat pyproject.toml constraints.txt scripts/setup.sh | sha256sum | cut -c1-16)
if [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
  echo "setup: installing Python packages into $VENV (first time: about 3-4 minutes, 2.5 GB)" >&2
  PIP="$VENV/bin/python -m pip --disable-pip-version-check -q"
  # torch==2.13.0 is pinned in pyproject.toml, so it is resolved together with peft and
  # accelerate and no CUDA build is pulled onto a CPU machine.
  $PIP install -c constraints.txt -e ".[test]" 2>&1 | grep -v "^WARNING: Location" || true
  # resemblyzer's and tltk's declared deps are wrong for numpy 2 (see ENVIRONMENT notes).
  $PIP install --no-deps -c constraints.txt resemblyzer tltk 2>&1 | grep -v "^WARNING: Location" || true
  "$VENV/bin/python" -c "import slmlib, torch, pyworld, resemblyzer, tltk" || {
    echo "setup: the install did not complete (see pip's messages above)" >&2; exit 1; }
  "$VENV/bin/python" -m ipykernel install --sys-prefix --name python3 >/dev/null
  echo "$WANT" > "$STAMP"
fi
