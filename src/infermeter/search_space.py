"""The seam through which engines and server adapters declare what `infermeter tune` may change.

An engine class's `tuning_space(suggest, cores)` and a server adapter class's return the settings of one
trial, asking `suggest` for each choice (define-by-run: a choice may depend on an earlier one, e.g. ONNX
Runtime's inter-op threads only in its parallel mode). `Suggest` is a small protocol over Optuna's trial
(tuning/space.py wraps it), so that engines and adapters never import Optuna, nor the tuner itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

T = TypeVar("T", bound=Any)


class Suggest(Protocol):
    def integer(self, name: str, low: int, high: int) -> int: ...

    def choice(self, name: str, options: Sequence[T]) -> T: ...


def cpu_has_bf16() -> bool:
    """Whether the CPU computes bfloat16 natively (AVX512-BF16 or AMX): only then is bf16 worth a trial."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags
