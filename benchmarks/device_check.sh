#!/usr/bin/env bash
# Device check (issue 13): on one GPU, train specc's tiny model and a random ~0.2B Llama with bf16 full tuning,
# LoRA and real 4-bit QLoRA; print each run's peak torch.cuda.max_memory_allocated next to the estimator's figure
# for the same shape, and the ratio. At most 8 minutes. Results: $OUT/device_check.json when OUT is set (the
# device runner's output folder), else ./device_check.json. Put the table in docs/ESTIMATOR.md, "Measured on GPU".
#
#   PYTHON=.venv/bin/python benchmarks/device_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
OUT_FILE="${OUT:-.}/device_check.json"
"$PY" -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.cuda.get_device_name(0))"
PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" TOKENIZERS_PARALLELISM=false \
  timeout 480 "$PY" benchmarks/device_check.py --out "$OUT_FILE"
