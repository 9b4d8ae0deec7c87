#!/usr/bin/env bash
# Set up (first time only) and run the test suite. Two Debian packages are installed here when running
# as root with apt: espeak-ng (speech workloads) and chromium + chromium-driver (the report is opened in
# headless Chromium). Without them their tests are skipped with the reason.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
need=()
command -v espeak-ng >/dev/null 2>&1 || need+=(espeak-ng)
{ command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; } || need+=(chromium chromium-driver)
if [ ${#need[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null) \
    || echo "could not install ${need[*]}; their tests will be skipped"
fi
# Where the browser is here, its test must run: a missing browser then fails instead of skipping.
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  export INFERMETER_REQUIRE_BROWSER=1
fi
exec .venv/bin/python -m pytest -q "$@"
