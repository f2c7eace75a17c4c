#!/usr/bin/env bash
# Builds the trainer's pinned Python environment on a Debian machine:
# Debian's CPU torch 1.13 (python3-torch, with OpenBLAS instead of the
# reference BLAS, about 5x faster) under a venv at .venv-trainer/ that adds
# the Hugging Face stack pinned in requirements-torch113.txt and peft
# installed without its dependencies (peft asks for torch>=1.13.0, which
# Debian's 1.13.0a0 does not satisfy; pip would pull 3 GB of CUDA torch).
#
# Idempotent: when the venv already imports everything at the pinned
# versions it only checks and exits (about a second). Prints the
# interpreter's path last, for WINNOW_PYTHON.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="$root/.venv-trainer"
reqs="$root/tools/trainer/requirements-torch113.txt"
peft_pin="peft==0.21.2"
sys_python=/usr/bin/python3

# check prints nothing and succeeds when the venv has every pinned package.
check() {
  [ -x "$venv/bin/python" ] || return 1
  OPENBLAS_NUM_THREADS=1 "$venv/bin/python" - "$reqs" "$peft_pin" <<'PY' 2>/dev/null
import sys
from importlib import metadata
pins = [l.split("#")[0].strip() for l in open(sys.argv[1])] + [sys.argv[2]]
for pin in filter(None, pins):
    name, want = pin.split("==")
    if metadata.version(name) != want:
        sys.exit(1)
import torch, transformers, peft, sentencepiece, tokenizers, accelerate  # noqa: F401
PY
}

if check; then
  echo "trainer python: up to date" >&2
  echo "$venv/bin/python"
  exit 0
fi

sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
need=()
for pkg in python3-torch libopenblas0-pthread python3-venv; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "trainer python: apt-get install ${need[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

if [ ! -x "$venv/bin/python" ]; then
  echo "trainer python: venv $venv" >&2
  "$sys_python" -m venv --system-site-packages "$venv"
fi
pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check)
echo "trainer python: pip install -r $reqs" >&2
"${pip[@]}" -r "$reqs"
"${pip[@]}" --no-deps "$peft_pin"
if ! check; then
  echo "trainer python: $venv still lacks a pinned package after installing" >&2
  exit 1
fi
echo "$venv/bin/python"
