"""Output parity: every engine's outputs on the sample inputs against the reference engine's."""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from infermeter.engines.base import Engine
from infermeter.export.artifacts import Exporter, reference_path
from infermeter.results.warnings import RecordWarning, warning
from infermeter.workloads.base import Workload


# Outputs match when every prediction agrees and no value is further than this from the reference
# (FP32 engines land near 1e-5 here; reduced precision needs its own, looser judgement).
ATOL = 1e-4
RTOL = 1e-3


def reference_outputs(exporter: Exporter) -> np.ndarray:
    """The reference engine's outputs for every sample at batch size 1, cached beside the artifacts."""
    from infermeter.engines.registry import engine_class

    workload = exporter.workload
    members = getattr(workload, "members", None)
    if members:
        return workload.combine([reference_outputs(Exporter(m, exporter.cache_root)) for m in members])  # type: ignore[attr-defined]
    path = reference_path(exporter.cache_root, workload)
    if path.exists():
        return np.load(path, allow_pickle=False)  # plain numbers: nothing in the cache is unpickled here
    cls = engine_class(workload.reference_engine)
    engine = cls()
    engine.load(exporter.artifact(cls.artifact_format).path, workload.input_specs())
    try:
        ref = np.concatenate([engine.predict(workload.batch(1, offset=i)) for i in range(len(workload.samples()))])
    finally:
        engine.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
    np.save(tmp, ref)
    os.replace(tmp, path)
    return ref


def check_parity(workload: Workload, engine: Engine, batch_size: int, reference: np.ndarray, reference_name: str) -> dict[str, Any]:
    """Run all samples through `engine` in batches of `batch_size` and compare with `reference`."""
    n = len(workload.samples())
    outs = [engine.predict(workload.batch(batch_size, offset=i * batch_size)) for i in range(math.ceil(n / batch_size))]
    out = np.concatenate(outs)[:n]
    result: dict[str, Any] = {"reference_engine": reference_name, "samples": n}
    if out.shape != reference.shape:  # a mismatch like any other: every consumer reads `verdict`
        result.update(max_abs_diff=None, agreement=0.0, verdict="mismatch",
                      note=f"output shape {tuple(out.shape)} != reference {tuple(reference.shape)}")
        return result
    diff = np.abs(out.astype(np.float64) - reference.astype(np.float64))
    tolerance = ATOL + RTOL * float(np.abs(reference).max())
    agreement = workload.agreement(reference, out)
    result.update(
        max_abs_diff=float(diff.max()), tolerance=tolerance, agreement=agreement,
        verdict="match" if agreement == 1.0 and diff.max() <= tolerance else "mismatch",
    )
    return result


def parity_warning(parity: dict[str, Any]) -> RecordWarning | None:
    """The warning a mismatching parity block raises (None when it matches or was not checked)."""
    if parity.get("verdict") != "mismatch":
        return None
    if parity.get("max_abs_diff") is None:
        what = parity.get("note") or "outputs could not be compared"
    else:
        what = (f"agreement {parity['agreement']:.3f}, max |diff| {parity['max_abs_diff']} > tolerance "
                f"{parity.get('tolerance')}")
    return warning("parity-mismatch", f"outputs differ from {parity['reference_engine']}: {what}", applies_to="cell")
