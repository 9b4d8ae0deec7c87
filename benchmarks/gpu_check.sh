#!/usr/bin/env bash
# GPU validation of infermeter's PyTorch engines (benchmarks/gpu_check.py), in under 8 minutes on one GPU
# machine with no network. Before: scripts/gpu_bundle.sh here (the wheels it needs), then on the device,
# from the repository root with build/gpu-bundle carried:
#     bash benchmarks/gpu_check.sh [--out DIR] [--device cuda:0]
# The wheels are installed into build/gpu-bundle/site (not into the machine's python) and put first on
# PYTHONPATH. Without a GPU the check says why and exits 4; `--device cpu --quick` checks the script itself.
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
site=build/gpu-bundle/site
if compgen -G "build/gpu-bundle/wheels/*.whl" >/dev/null && [ ! -d "$site" ]; then
  "$py" -m pip install -q --no-index --no-deps --target "$site" build/gpu-bundle/wheels/*.whl
fi
[ -d "$site" ] && export PYTHONPATH="$PWD/$site${PYTHONPATH:+:$PYTHONPATH}"
exec timeout 480 "$py" benchmarks/gpu_check.py "$@"
