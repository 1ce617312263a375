#!/usr/bin/env bash
# The main job: set up, then execute every notebook in order in a profile (default: default).
# Extra arguments go to `python -m slmlib run`, e.g. --only 00 or -p seed=1.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
PROFILE=${PROFILE:-default}
exec .venv/bin/python -m slmlib run --profile "$PROFILE" "$@"
