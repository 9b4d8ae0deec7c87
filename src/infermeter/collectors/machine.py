"""Facts about the machine and the software, recorded with every result."""

from __future__ import annotations

import functools
import importlib.metadata
import os
import platform
import socket
from typing import Any

import psutil

RECORDED_PACKAGES = (
    "infermeter", "numpy", "torch", "transformers", "onnx", "onnxruntime", "openvino", "tensorflow",
    "tensorflow-cpu", "keras", "scikit-image",
)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


@functools.lru_cache(maxsize=1)
def machine_info() -> dict[str, Any]:
    vm = psutil.virtual_memory()
    return {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_model": _cpu_model(),
        "logical_cpus": psutil.cpu_count(logical=True),
        "physical_cpus": psutil.cpu_count(logical=False),
        "affinity_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_gb": round(vm.total / 1e9, 2),
        "gpu": None,  # filled in by GPU collectors where a GPU exists
    }


def versions_of(dists: tuple[str, ...] | list[str]) -> dict[str, str]:
    """Installed versions of these distributions (absent ones left out)."""
    out = {}
    for dist in dists:
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


@functools.lru_cache(maxsize=1)
def package_versions() -> dict[str, str]:
    return versions_of(RECORDED_PACKAGES)


THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE", "TF_NUM_INTRAOP_THREADS")


def thread_env() -> dict[str, str]:
    return {k: os.environ[k] for k in THREAD_ENV if k in os.environ}
