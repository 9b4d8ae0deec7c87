#!/usr/bin/env bash
# Set up (first time only) and run the test suite. The speech workloads need espeak-ng: installed here
# when running as root with apt, otherwise their tests are skipped with the reason.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if ! command -v espeak-ng >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng >/dev/null) \
    || echo "could not install espeak-ng; speech tests will be skipped"
fi
exec .venv/bin/python -m pytest -q "$@"
