"""GPU validation (issue 18): infermeter's PyTorch engines on a GPU, checked against a bare loop timed with
CUDA events, with NVML's figures beside. Run through benchmarks/gpu_check.sh on the GPU machine (no
network: the wheels it needs travel in the tree, scripts/gpu_bundle.sh).

1. A batch sweep with infermeter: ResNet-50 and bert-base on PyTorch eager (fp32, fp16, bf16 by autocast),
   TorchScript (fp32, fp16 by weights) and torch.compile (fp16 by autocast), offline scenario, one
   window per cell, every record in OUT/results.jsonl (the report reads it).
2. The same eager model, precision and batch in a bare loop: the host-to-device copy, the forward pass
   under the same autocast and the copy back, bracketed by CUDA events on the stream (and by the host
   clock), no infermeter code in between; its median against infermeter's p50, and the ratio (goal: within
   3%).
3. A table: per cell, p50 ms, samples/s, NVML utilisation mean/max, the device's and the process's memory
   peak, watts and its source; then the bare-loop comparison.

    python benchmarks/gpu_check.py [--out DIR] [--device cuda:0] [--quick]

Without a GPU it says why and exits 4; `--device cpu --quick` runs the same steps on the CPU (a bare loop
on the host clock), which is how CI-less machines check that the script works at all. Models carry
seeded random weights (nothing is downloaded): speed does not depend on them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

WORKLOADS = ("resnet50", "bert-base")
# (engine, precision, cast, batch sizes): sized to finish in under 8 minutes on one H200 (torch.compile
# compiles once per batch size; TorchScript freezes once per load).
FULL_PLAN = [
    ("pytorch", "fp32", "autocast", [1, 8, 64, 256]),
    ("pytorch", "fp16", "autocast", [1, 8, 64, 256]),
    ("pytorch", "bf16", "autocast", [1, 8, 64, 256]),
    ("torchscript", "fp32", "weights", [1, 64]),
    ("torchscript", "fp16", "weights", [1, 64]),
    ("torch-compile", "fp16", "autocast", [1, 64]),
]
QUICK_PLAN = [("pytorch", "fp32", "autocast", [1, 4]), ("pytorch", "bf16", "autocast", [1])]


def sweep(workload: str, plan: list[tuple[str, str, str, list[int]]], device: str, out: Path, seconds: float) -> None:
    from infermeter.config import parse_suite
    from infermeter.runner import run_suite

    for engine, precision, cast, batches in plan:
        suite = parse_suite({
            "name": f"gpu-check-{workload}", "workloads": [workload],
            "engines": [{"name": engine, "settings": {"device": device, "precision": precision, "cast": cast}}],
            "scenarios": [{"kind": "offline", "batch_sizes": batches}],
            "warmup": {"iterations": 10, "seconds": 1, "max_seconds": 30},
            "measure": {"repeats": 1, "min_iterations": 30, "min_seconds": seconds, "max_seconds": 60},
            "cached_load": False,
        })
        print(f"{workload} on {engine} {precision} ({cast}), batches {batches}", file=sys.stderr, flush=True)
        run_suite(suite, out, resume=True, force_suite=True)


def bare_loop(workload: str, precision: str, batch: int, device: str, seconds: float) -> dict[str, float]:
    """The eager model's batch as the engine runs it, timed on the stream (CUDA events) and on the host."""
    import torch

    from infermeter.engines import torch_device
    from infermeter.workloads.registry import get_workload

    torch_device.exact_fp32(device, precision)  # type: ignore[arg-type]  # as the engine does
    w = get_workload(workload)
    module = w.torch_module().eval().to(device)
    feeds = w.batches(batch, count=4)
    names = [s.name for s in w.input_specs()]
    cuda = device.startswith("cuda")
    dtype = torch_device.torch_dtype(precision)  # type: ignore[arg-type]
    stream_ms: list[float] = []
    host_ms: list[float] = []
    end_at = time.perf_counter() + seconds
    i = 0
    with torch.inference_mode():
        while time.perf_counter() < end_at or i < 30:
            feed = feeds[i % len(feeds)]
            i += 1
            if cuda:
                start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
            t0 = time.perf_counter_ns()
            with torch.autocast(device_type=device.split(":")[0], dtype=dtype, enabled=precision != "fp32"):
                out = module(*[torch.from_numpy(feed[n]).to(device) for n in names])
            if cuda:
                stop.record()
                torch.cuda.synchronize(device)
            out.float().cpu().numpy()
            host_ms.append((time.perf_counter_ns() - t0) / 1e6)
            if cuda:
                stream_ms.append(start.elapsed_time(stop))
            if i <= 10:  # warm-up: cuDNN picks its algorithms, the allocator fills
                host_ms.clear()
                stream_ms.clear()
    return {"host_p50_ms": statistics.median(host_ms), "stream_p50_ms": statistics.median(stream_ms) if stream_ms else float("nan"),
            "calls": len(host_ms)}


def records(out: Path) -> list[dict[str, Any]]:
    path = out / "results.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("results/gpu-check"))
    p.add_argument("--device", default="cuda:0")
    p.add_argument("--quick", action="store_true", help="one model, two precisions, batches 1 and 4 (a check of the script)")
    p.add_argument("--seconds", type=float, default=2.0, help="each window's and each bare loop's minimum seconds")
    args = p.parse_args()

    from rich.console import Console
    from rich.table import Table

    from infermeter.engines import torch_device

    device = torch_device.parse_device(args.device)
    why = torch_device.unavailable(device, torch_device.cuda_layer())
    if why:
        print(f"gpu_check: {why}; nothing measured (on a machine without a GPU: --device cpu --quick checks the script)", file=sys.stderr)
        return 4
    t0 = time.monotonic()
    workloads = WORKLOADS[:1] if args.quick else WORKLOADS
    plan = QUICK_PLAN if args.quick else FULL_PLAN
    for workload in workloads:
        sweep(workload, plan, device, args.out, args.seconds)

    console = Console(width=220)
    t = Table(title=f"infermeter on {device}: batch sweep (offline, p50 of one window)")
    for col in ("workload", "engine", "precision", "batch", "p50 ms", "samples/s", "GPU util mean/max %", "GPU mem peak MB (process)",
                "GPU W (source)", "parity"):
        t.add_column(col)
    ours: dict[tuple[str, str, int], float] = {}
    for r in records(args.out):
        if r.get("status") != "ok" or r.get("kind", "engine") != "engine":
            if r.get("status") not in (None, "ok"):
                t.add_row(r["cell"]["workload"], r["cell"]["engine"], "-", str(r["cell"].get("batch_size")), "failed", r.get("error", "")[:60])
            continue
        cell, m = r["cell"], r["metrics"]
        settings = cell.get("engine_settings", {})
        gpu = (m.get("energy") or r.get("energy") or {}).get("gpu") or {}
        dev = (gpu.get("devices") or [{}])[0]
        t.add_row(cell["workload"], cell["engine"], settings.get("precision", "fp32"), str(cell["batch_size"]), f"{m['latency_ms']['p50']:.3f}",
                  f"{m.get('samples_per_s') or 0:.0f}",
                  f"{dev.get('utilization_mean_percent') or 0:.0f} / {dev.get('utilization_max_percent') or 0:.0f}" if dev else gpu.get("reason", "-"),
                  f"{dev.get('memory_peak_mb') or 0:.0f} ({dev.get('process_memory_peak_mb') or 0:.0f})" if dev else "-",
                  f"{dev.get('watts') or 0:.0f} ({dev.get('energy_source', '-')})" if dev else "-", r["parity"].get("verdict") or "-")
        if cell["engine"] == "pytorch":
            ours[cell["workload"], settings.get("precision", "fp32"), cell["batch_size"]] = m["latency_ms"]["p50"]
    console.print(t)

    b = Table(title="the same eager batch in a bare loop (H2D, forward, D2H): CUDA events and the host clock, against infermeter's p50")
    for col in ("workload", "precision", "batch", "infermeter p50 ms", "bare: CUDA events ms", "bare: host ms", "infermeter / events",
                "infermeter / host"):
        b.add_column(col)
    rows = []
    for (workload, precision, batch), p50 in sorted(ours.items()):
        bare = bare_loop(workload, precision, batch, device, args.seconds)
        rows.append({"workload": workload, "precision": precision, "batch": batch, "infermeter_p50_ms": p50} | bare)
        b.add_row(workload, precision, str(batch), f"{p50:.3f}", f"{bare['stream_p50_ms']:.3f}", f"{bare['host_p50_ms']:.3f}",
                  f"{p50 / bare['stream_p50_ms']:.3f}" if bare["stream_p50_ms"] == bare["stream_p50_ms"] else "-",
                  f"{p50 / bare['host_p50_ms']:.3f}")
    console.print(b)
    (args.out / "bare_loop.json").write_text(json.dumps(rows, indent=1))
    print(f"gpu_check: {time.monotonic() - t0:.0f} s; records in {args.out / 'results.jsonl'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
