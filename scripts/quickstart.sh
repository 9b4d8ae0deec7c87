#!/usr/bin/env bash
# Set up (first time only) and run the default benchmark: ResNet-50 and a MiniLM sentiment model at batch 1 on every engine here.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/infermeter quickstart "$@"
