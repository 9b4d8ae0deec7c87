#!/usr/bin/env bash
# Create .venv and install infermeter with every engine that installs from PyPI on this machine.
# torch is pinned to 2.13.0 (the CPU build); other versions would pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[engines,analysis,dev]"
