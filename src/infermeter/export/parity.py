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
# (FP32 engines land near 1e-5 here).
ATOL = 1e-4
RTOL = 1e-3
# Reduced precision (bf16, fp16) is judged on its predictions, as MLPerf judges it on quality (99% of the
# FP32 reference's), not on every value: OpenVINO's bf16 on ResNet-50 (seeded random weights) left values
# 0.20 from FP32's against an FP32 tolerance of 0.0016, and was refused by the tuner for it.
REDUCED_AGREEMENT = 0.99


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
    """Run all samples through `engine` in batches of `batch_size` and compare with `reference`: every
    prediction and value (FP32), or at least REDUCED_AGREEMENT of the predictions (an engine computing in a
    reduced precision: `precision` in the result says which)."""
    n = len(workload.samples())
    outs = [engine.predict(workload.batch(batch_size, offset=i * batch_size)) for i in range(math.ceil(n / batch_size))]
    out = np.concatenate(outs)[:n]
    precision = engine.compute_precision()
    result: dict[str, Any] = {"reference_engine": reference_name, "samples": n, "precision": precision}
    if out.shape != reference.shape:  # a mismatch like any other: every consumer reads `verdict`
        result.update(max_abs_diff=None, agreement=0.0, verdict="mismatch",
                      note=f"output shape {tuple(out.shape)} != reference {tuple(reference.shape)}")
        return result
    diff = np.abs(out.astype(np.float64) - reference.astype(np.float64))
    tolerance = ATOL + RTOL * float(np.abs(reference).max())
    agreement = workload.agreement(reference, out)
    if precision == "fp32":
        ok = agreement == 1.0 and diff.max() <= tolerance
    else:
        ok = agreement >= REDUCED_AGREEMENT
        result["note"] = (f"{precision}: judged on its predictions (agreement >= {REDUCED_AGREEMENT:g}); its values are not held "
                          "to the FP32 tolerance")
    result.update(max_abs_diff=float(diff.max()), tolerance=tolerance, agreement=agreement, verdict="match" if ok else "mismatch")
    return result


def mismatch_detail(parity: dict[str, Any]) -> str:
    """How a mismatching parity block missed, in words."""
    if parity.get("max_abs_diff") is None:
        return parity.get("note") or "outputs could not be compared"
    if parity.get("precision", "fp32") != "fp32":
        return f"{parity['precision']}: agreement {parity['agreement']:.3f} < {REDUCED_AGREEMENT:g} (max |diff| {parity['max_abs_diff']:.3g})"
    return f"agreement {parity['agreement']:.3f}, max |diff| {parity['max_abs_diff']} > tolerance {parity.get('tolerance')}"


def parity_warning(parity: dict[str, Any]) -> RecordWarning | None:
    """The warning a mismatching parity block raises (None when it matches or was not checked)."""
    if parity.get("verdict") != "mismatch":
        return None
    return warning("parity-mismatch", f"outputs differ from {parity['reference_engine']}: {mismatch_detail(parity)}", applies_to="cell")
