"""Request bodies for servers that take tensors rather than raw inputs (TF Serving's REST API and
KServe's V1 protocol share the "instances" format). The tensors are the workload's pre-processed
samples: with these servers the client does the pre-processing, and the results say so."""

from __future__ import annotations

import json

from infermeter.workloads.base import Workload


def v1_instances_bodies(workload: Workload) -> list[bytes]:
    """One {"instances": [...]} body per sample (a bare tensor for one input, a dict per instance otherwise)."""
    names = [s.name for s in workload.input_specs()]
    bodies = []
    for sample in workload.samples():
        if len(names) == 1:
            instance = sample[names[0]].tolist()
        else:
            instance = {n: sample[n].tolist() for n in names}
        bodies.append(json.dumps({"instances": [instance]}).encode())
    return bodies
