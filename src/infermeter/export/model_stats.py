"""What a workload's model is, in the figures the engine study's first table gives: parameters, layers,
size and FLOPs per sample. Counted on the reference torch module once, when its artifacts are exported,
and cached beside them (model-stats.json), so that every result record can carry it for free.

FLOPs are torch's own count (torch.utils.flop_counter: matrix multiplications and convolutions, 2 per
multiply-add) of one forward pass at batch 1 as the workload runs it: a generative workload's whole decode
loop. Element-wise operations, normalisation and activations are not counted, as in most published tables.
An ensemble's figures are its members' summed."""

from __future__ import annotations

import json
import os
from typing import Any

from infermeter.export.artifacts import Exporter, workload_dir

STATS_FILE = "model-stats.json"
FLOPS_BASIS = ("torch.utils.flop_counter, one forward pass at batch 1 (matmul and convolution, 2 FLOPs per multiply-add; "
               "a generative workload's whole decode loop)")
LAYERS_BASIS = ("every convolution and linear module (ResNet-50: 54, its 4 downsampling shortcuts included, which the "
                "50 of its name leaves out)")


def model_stats(exporter: Exporter, compute: bool = True) -> dict[str, Any] | None:
    """The workload's model statistics, from the cache; counted first where `compute` (export time).
    None where they were never counted; {"error": why} where they cannot be (a scikit-learn model)."""
    members = getattr(exporter.workload, "members", None)
    if members:
        parts = [model_stats(Exporter(m, exporter.cache_root), compute) for m in members]
        if any(p is None for p in parts):
            return None
        if any("error" in p for p in parts):  # type: ignore[operator]
            return {"error": "; ".join(p["error"] for p in parts if "error" in p)}  # type: ignore[index, operator]
        total = {k: sum(p[k] for p in parts) for k in ("parameters", "layers", "size_mb")}  # type: ignore[index]
        flops = [p["flops_per_sample"] for p in parts]  # type: ignore[index]
        return total | {"flops_per_sample": None if None in flops else sum(flops), "members": len(parts)}
    path = workload_dir(exporter.cache_root, exporter.workload) / STATS_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        pass
    if not compute:
        return None
    stats = count(exporter)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(stats))
    os.replace(tmp, path)
    return stats


def workload_record(exporter: Exporter) -> dict[str, Any]:
    """What every result row says about the workload, with its model statistics where they were counted."""
    stats = model_stats(exporter, compute=False)
    return exporter.workload.record() | ({"model": stats} if stats is not None else {})


def count(exporter: Exporter) -> dict[str, Any]:
    """Parameters, layers, size and FLOPs of the reference module (counted, not cached)."""
    from infermeter.errors import InfermeterError

    try:
        module = exporter.module()
    except (InfermeterError, NotImplementedError) as exc:
        return {"error": str(exc).splitlines()[0]}
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    tensors = list(module.parameters()) + list(module.buffers())
    layers = sum(isinstance(m, (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d, torch.nn.Linear)) for m in module.modules())
    out: dict[str, Any] = {
        "parameters": sum(p.numel() for p in module.parameters()),
        "layers": layers,
        "size_mb": sum(t.numel() * t.element_size() for t in tensors) / 1e6,
        "flops_per_sample": None,
    }
    try:
        example = exporter._example(batch_size=1)
        counter = FlopCounterMode(display=False)
        with torch.no_grad(), counter:
            module(*example)
        out["flops_per_sample"] = int(counter.get_total_flops())
    except Exception as exc:  # an operator the counter cannot follow: say so, keep the other figures
        out["flops_error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return out
