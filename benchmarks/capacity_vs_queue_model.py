"""The capacity search on real targets against a queueing model fed with the target's own service times:
an independent check of `infermeter capacity`'s answer where only the calibrated fake target (selftest)
had one.

For each target, `infermeter capacity --mode rate` searches the highest Poisson rate meeting the SLO. Its
unloaded window (one user, closed loop) holds the target's service times; with one server serving the
queue (an engine with one caller, a framework with one worker) the target is an M/G/1 queue, and the
highest rate at which a simulated M/G/1 queue on those service times (validity/theory.capacity_for_quantile,
Lindley's recursion) meets the same percentile bound is the model's answer. The table puts the two side by
side with their ratio.

What the model leaves out, so what a ratio away from 1 says: an engine's callers wake up late for an
arrival that finds them idle (a little under the model), and a server's one-user latency includes the HTTP
round trip and parsing, which under load overlap with the worker's compute (the search above the model).
A ratio within the search's resolution plus a p90's sampling noise (~10% here) is agreement.

    python benchmarks/capacity_vs_queue_model.py [TARGET ...] [--out DIR] [--resolution 0.05] [--cache DIR]

A target is WORKLOAD@ENGINE (in process: --threads 2 --callers 1) or WORKLOAD@server:NAME (a suite with one
worker), optionally with its SLO after a '/'. Default: ResNet-50 on ONNX Runtime in process and on
TorchServe (its environment first: infermeter servers install torchserve). Seeded random weights.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from infermeter.results import histogram
from infermeter.results.slo import parse_slo
from infermeter.validity.theory import capacity_for_quantile

DEFAULT_TARGETS = ["resnet50@onnxruntime/p90<=250ms,confidence=95%", "resnet50@server:torchserve/p90<=400ms,confidence=95%"]
ONE_WORKER = {"workers": 1, "threads": 2}  # every framework's settings: one model worker, both cores for it


def capacity(target: str, out: Path, resolution: float, cache: Path | None) -> tuple[list[dict], float]:
    spec, _, slo = target.partition("/")
    workload, _, where = spec.partition("@")
    d = out / spec.replace("@", "-").replace(":", "-")
    d.mkdir(parents=True, exist_ok=True)
    if where.startswith("server:"):
        name = where.removeprefix("server:")
        suite = d / "suite.yaml"
        suite.write_text(json.dumps({"name": "one-worker", "workloads": [workload], "slo": slo,
                                     "servers": [{"name": name, "settings": ONE_WORKER}]}))
        what = [str(suite)]
    else:
        what = [workload, "--engine", where, "--threads", "2", "--callers", "1"]
    cmd = [sys.executable, "-m", "infermeter.cli.main", "capacity", *what, "--slo", slo, "--mode", "rate", "--resolution", str(resolution),
           "--out", str(d), "--resume", *(["--cache", str(cache)] if cache else [])]
    t0 = time.monotonic()
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"{target}: infermeter capacity failed ({run.returncode}): {(run.stderr.strip().splitlines() or ['?'])[-1]}")
    return [json.loads(x) for x in (d / "results.jsonl").read_text().splitlines()], time.monotonic() - t0


def model_capacity(records: list[dict], slo_text: str) -> tuple[dict, float, float, int]:
    """(the search's capacity record, the M/G/1 capacity on the unloaded window's service times, their
    median in ms, how many)."""
    [found] = [r for r in records if r.get("kind") == "capacity" and r["mode"] == "rate"]
    probed = {p["cell_id"] for p in found["probes"]}
    [unloaded] = [r for r in records if r.get("kind") != "capacity" and r.get("status") == "ok" and r["cell_id"] not in probed]
    values_us, counts = histogram.bucket_values_us(histogram.decode(unloaded["metrics"]["latency_hdr"]))
    service_s = np.repeat(values_us / 1e6, counts)
    slo = parse_slo(slo_text, "--slo")
    model = capacity_for_quantile(service_s, slo.percentile / 100, slo.bound_ms / 1000)
    return found, model, float(np.median(service_s) * 1000), len(service_s)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("targets", nargs="*", default=DEFAULT_TARGETS)
    p.add_argument("--out", type=Path, default=Path("results/capacity-vs-queue-model"))
    p.add_argument("--resolution", type=float, default=0.05)
    p.add_argument("--cache", type=Path, default=None)
    args = p.parse_args()
    t = Table(title="capacity under the SLO: the search against an M/G/1 queue on the target's own service times (requests/s)")
    for col in ("target", "SLO", "service p50 ms (n)", "search: capacity [met, missed)", "stopped", "M/G/1 model", "search / model", "minutes"):
        t.add_column(col)
    rows = []
    for target in args.targets:
        print(f"capacity of {target}", file=sys.stderr, flush=True)
        records, seconds = capacity(target, args.out, args.resolution, args.cache)
        found, model, p50, n = model_capacity(records, target.partition("/")[2])
        row = {"target": target, "capacity": found["capacity"], "upper": found["upper"], "stopped": found["stopped"], "model": model,
               "service_p50_ms": p50, "service_n": n, "ratio": found["capacity"] / model if found["capacity"] and model else None,
               "seconds": seconds}
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
        (args.out / "summary.json").write_text(json.dumps(rows, indent=1))
        t.add_row(target.partition("/")[0], found["slo"], f"{p50:.1f} ({n})",
                  f"{found['capacity'] or 0:.3g} [{found['capacity'] or 0:.3g}, {found['upper'] or float('nan'):.3g})", found["stopped"],
                  f"{model:.3g}", f"{row['ratio']:.2f}" if row["ratio"] else "-", f"{seconds / 60:.1f}")
    Console(width=200).print(t)


if __name__ == "__main__":
    main()
