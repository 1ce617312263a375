#!/usr/bin/env bash
# One prepared GPU check (at most about 8 minutes), for a machine with a CUDA GPU:
#   1. the SLM training-step benchmark on a Qwen2.5-0.5B-shaped model (152k text + 13k speech
#      vocabulary, bf16): slmlib's step vs a plain transformers loop, tokens/s and MFU against the
#      GPU's vendor bf16 peak (bench/bench_slm.py --device cuda --shape qwen2-0.5b);
#   2. a short end to end run of notebooks 00, 01 and 03 in the smoke profile with device=cuda,
#      SFT and generation launched as scripts the way the gpu profile does (accelerate launch with
#      configs/accelerate/single_gpu.yaml; judging on the CPUs).
# Results: bench/results.json (key slm_training_cuda_qwen2-0.5b) and ${OUT:-bench}/gpu_check.json.
# Usage: bash bench/gpu_check.sh   (sets up .venv first if it is missing)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT_DIR=${OUT:-bench}
mkdir -p "$OUT_DIR"
[ -x .venv/bin/python ] || bash scripts/setup.sh
PY=.venv/bin/python
start=$(date +%s)
$PY -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA GPU visible: run this on a GPU machine')" || exit 2
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true

timeout 180 $PY bench/bench_slm.py --device cuda --shape qwen2-0.5b --steps 20 > "$OUT_DIR/gpu_bench.log" 2>&1
bench_rc=$?
tail -25 "$OUT_DIR/gpu_bench.log"

t0=$(date +%s)
SLMLIB_OUTPUTS="$OUT_DIR/gpu_outputs" HF_HUB_DISABLE_PROGRESS_BARS=1 timeout 300 \
  $PY -m slmlib run --profile smoke --only 00,01,03 -p device=cuda -p num_workers=8 \
  -p "slm.launch=accelerate launch --config_file configs/accelerate/single_gpu.yaml" > "$OUT_DIR/gpu_smoke.log" 2>&1
smoke_rc=$?
smoke_s=$(( $(date +%s) - t0 ))
tail -15 "$OUT_DIR/gpu_smoke.log"

$PY - "$OUT_DIR" "$bench_rc" "$smoke_rc" "$smoke_s" "$(( $(date +%s) - start ))" <<'PY'
import json, sys
from pathlib import Path
out, bench_rc, smoke_rc, smoke_s, total = sys.argv[1], *map(int, sys.argv[2:])
results = json.loads(Path("bench/results.json").read_text()) if Path("bench/results.json").exists() else {}
report = {"bench_rc": bench_rc, "training": results.get("slm_training_cuda_qwen2-0.5b"),
          "smoke_notebooks_rc": smoke_rc, "smoke_notebooks_seconds": smoke_s, "total_seconds": total}
log = Path(out) / "gpu_outputs" / "smoke" / "run_log.json"
report["smoke_run_log"] = json.loads(log.read_text()) if log.exists() else None
Path(out, "gpu_check.json").write_text(json.dumps(report, indent=1))
print(json.dumps(report, indent=1))
PY
[ "$bench_rc" -eq 0 ] && [ "$smoke_rc" -eq 0 ]
