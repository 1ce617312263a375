#!/usr/bin/env bash
# The tests: set up, then unit + integration tests and every notebook in the smoke profile,
# executed and checked by nbval (--nbval-lax: a cell fails only if it raises).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
NB_DIR=outputs/smoke/nbval
rm -rf "$NB_DIR"
.venv/bin/python -m slmlib prepare --profile smoke --dest "$NB_DIR" >/dev/null
export SLMLIB_TESTING=1
exec .venv/bin/python -m pytest -q tests $(ls "$NB_DIR"/*.ipynb 2>/dev/null) --nbval-lax \
  --nbval-kernel-name python3 "$@"
