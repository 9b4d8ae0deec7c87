#!/usr/bin/env bash
# The wheels benchmarks/gpu_check.sh installs on a GPU machine without network (../shared/FACTS.md: its
# python 3.12 has torch, transformers, nvidia-ml-py, typer, rich, psutil, scipy, numpy; not pydantic or
# hdrhistogram): infermeter itself and the small dependencies it lacks, for CPython 3.12 on x86-64 Linux.
# Built here into build/gpu-bundle/wheels (ignored by git; a device run carries it: carry build/gpu-bundle).
set -euo pipefail
cd "$(dirname "$0")/.."
deps=(pydantic pydantic-core annotated-types typing-extensions typing-inspection hdrhistogram pbr pyyaml prometheus-client)
dest=build/gpu-bundle/wheels
rm -rf build/gpu-bundle && mkdir -p "$dest"
.venv/bin/python -m pip wheel -q --no-deps --no-build-isolation -w "$dest" .
.venv/bin/python -m pip download -q --only-binary=:all: --no-deps --python-version 3.12 --implementation cp --abi cp312 --abi abi3 --abi none \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 --platform any -d "$dest" "${deps[@]}"
ls "$dest"
du -sh "$dest"
