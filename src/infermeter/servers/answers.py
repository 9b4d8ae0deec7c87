"""Before any load: does the server answer like the workload's reference engine? Every payload is sent
once and the decoded answer compared with the reference engine's answer to the same payload, so a
server that is fast because it answers wrongly (wrong model, wrong pre-processing) is caught."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from infermeter.export.artifacts import Exporter
from infermeter.servers.base import Deployment

ABS_TOL = 1e-3
REL_TOL = 1e-3


def expected_answers(exporter: Exporter) -> list[Any]:
    from infermeter.engines.registry import engine_class

    workload = exporter.workload
    cls = engine_class(workload.reference_engine)
    engine = cls()
    engine.load(exporter.artifact(cls.artifact_format).path, workload.input_specs())
    try:
        out = []
        for payload in workload.payloads():
            sample = workload.decode_payload(payload)
            row = engine.predict({k: v[np.newaxis] for k, v in sample.items()})[0]
            out.append(workload.postprocess(row))
        return out
    finally:
        engine.close()


def same_answer(expected: Any, got: Any) -> bool:
    """Equal structure and text; numbers within ABS_TOL + REL_TOL x |expected|."""
    if isinstance(expected, dict):
        return isinstance(got, dict) and expected.keys() == got.keys() and all(same_answer(expected[k], got[k]) for k in expected)
    if isinstance(expected, (list, tuple)):
        return isinstance(got, (list, tuple)) and len(expected) == len(got) and all(map(same_answer, expected, got))
    if isinstance(expected, bool) or isinstance(expected, str) or expected is None:
        return expected == got
    if isinstance(expected, (int, float)):
        return isinstance(got, (int, float)) and math.isclose(expected, got, rel_tol=REL_TOL, abs_tol=ABS_TOL)
    return bool(expected == got)


def check_answers(deployment: Deployment, exporter: Exporter) -> dict[str, Any]:
    """{checked, matching, verdict[, first_mismatch]}; 'not checked' when the adapter cannot decode answers."""
    if deployment.answer is None:
        return {"verdict": "not checked", "reason": "this adapter does not decode its answers"}
    payloads = exporter.workload.payloads()
    expected = expected_answers(exporter)
    result: dict[str, Any] = {"checked": len(payloads), "reference_engine": exporter.workload.reference_engine}
    matching = 0
    for payload, want in zip(payloads, expected):
        try:
            got = deployment.answer(payload)
        except Exception as exc:  # an answer that cannot be had is a mismatch, with its reason
            got = f"error: {type(exc).__name__}: {exc}"
        if same_answer(want, got):
            matching += 1
        elif "first_mismatch" not in result:
            result["first_mismatch"] = {"expected": want, "got": got}
    result["matching"] = matching
    result["verdict"] = "match" if matching == len(payloads) else "mismatch"
    return result
