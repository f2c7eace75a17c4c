#!/usr/bin/env bash
# The trainer's GPU check (issue 7): base preset in bf16 (tokens/s, MFU,
# peak memory, held-out loss), kill -9 and resume, LoRA on a random local
# Llama-style model. Drives the worker directly: no Go toolchain, no network.
#   trainer/gpu_check.sh [--cpu-smoke] [--python PY] [--out DIR] [--peak-tflops 790]
# See tools/trainer/gpu_check.py.
set -euo pipefail
cd "$(dirname "$0")/.."
py=python3
for ((i = 1; i <= $#; i++)); do
  if [ "${!i}" = "--python" ]; then j=$((i + 1)); py="${!j}"; fi
done
exec "$py" tools/trainer/gpu_check.py "$@"
