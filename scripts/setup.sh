#!/usr/bin/env bash
# Create .venv and install infermeter with every engine that installs from PyPI on this machine.
# torch is pinned to 2.13.0 (the CPU build); other versions would pull a multi-GB CUDA build.
#
# The install goes through uv (from PyPI) when it can be had: the same pinned set as pip in about 20 s
# here, where pip took about 2 minutes of the quickstart's 5. pip does it when uv cannot
# (INFERMETER_INSTALLER=pip forces that). uv reads no pip configuration, so pip's find-links (where a
# local torch wheel lies) are handed to it. --compile-bytecode as pip does: without .pyc files (and with
# PYTHONDONTWRITEBYTECODE set, as on these machines) every cell's process compiles torch's sources again.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
EXTRAS=".[engines,analysis,distributed,dev]"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
if [ "${INFERMETER_INSTALLER:-uv}" = uv ] && .venv/bin/python -m pip install -q uv 2>/dev/null; then
  links=${UV_FIND_LINKS:-${PIP_FIND_LINKS:-$(.venv/bin/python -m pip config get global.find-links 2>/dev/null || true)}}
  if [ -n "$links" ]; then export UV_FIND_LINKS="$links"; fi
  if .venv/bin/python -m uv pip install -q --compile-bytecode --python .venv/bin/python -e "$EXTRAS" --upgrade-package pip pip; then
    exit 0
  fi
  echo "uv could not install infermeter; trying pip" >&2
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e "$EXTRAS"
