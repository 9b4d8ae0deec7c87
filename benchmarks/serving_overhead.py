"""Where a server's time goes at one user: client latency against the very pipeline the server runs,
timed in process just before and just after each window, with the server up (see
src/infermeter/servers/reference.py and src/infermeter/validity/overhead.py).

For one workload and a list of servers, runs a short suite (1 user, closed loop), then prints per
server the medians over its windows of: client p50; the in-process pipeline p50 and its stages (decode,
model, postprocess); the framework's own reported time (queue + compute, where it reports one); the
difference (client p50 minus pipeline p50); the decomposition (network + protocol, framework,
pre/post-processing, model); and how much CPU other processes took meanwhile (figures from a busy
machine say little; run it on a quiet one). Each window's own check follows its row.

    python benchmarks/serving_overhead.py sentiment-minilm litserve mlserver [--runtime onnxruntime]
        [--threads 2] [--seconds 5] [--repeats 3] [--out DIR] [--cache DIR]

A server may carry its own settings, to set variants side by side in one run:
`mlserver:parallel_workers=0` or `litserve:threads=1,workers=1` (values read as YAML).

Needs the servers' environments: infermeter servers install litserve mlserver
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from infermeter.config import parse_suite
from infermeter.results.store import ResultStore
from infermeter.results.summary import summarise_loads
from infermeter.runner import run_suite

COLUMNS = [  # (heading, decomposition key)
    ("client p50", "client_p50_ms"),
    ("pipeline p50", "pipeline_ms"),
    ("decode", "decode_ms"),
    ("model", "model_ms"),
    ("post", "postprocess_ms"),
    ("fw queue", "framework_queue_ms"),
    ("fw compute", "framework_compute_ms"),
    ("client-pipe", "serving_ms"),
    ("floor", "serving_floor_ms"),
    ("net+proto", "network_protocol_ms"),
    ("framework", "framework_ms"),
    ("pre/post", "pre_post_ms"),
    ("beyond model", "beyond_model_ms"),
    ("other CPU %", "other_cpu_percent"),
    ("ref other %", "reference_other_cpu_percent"),
]


def server_entry(spec: str, settings: dict[str, Any]) -> dict[str, Any]:
    """`name` or `name:key=value,key=value` -> a suite's server entry over the common settings."""
    name, _, own = spec.partition(":")
    extra = {k: yaml.safe_load(v) for k, _, v in (kv.partition("=") for kv in own.split(",") if kv)}
    return {"name": name, "settings": settings | extra}


def suite_for(workload: str, servers: list[str], runtime: str | None, threads: int, seconds: float, repeats: int) -> dict[str, Any]:
    settings: dict[str, Any] = {"workers": 1, "threads": threads} | ({"runtime": runtime} if runtime else {})
    return {
        "name": f"serving-overhead-{workload}", "workloads": [workload],
        "servers": [server_entry(s, settings) for s in servers],
        "load": {"users": [1], "warmup_s": 2, "min_seconds": seconds, "min_requests": 50, "repeats": repeats, "timeout_s": 60},
        "overhead": {"reference_seconds": max(2.0, seconds / 2), "reference_calls": 50},
    }


def report(records: list[Any]) -> None:
    print("medians over each server's windows, ms per request (client-pipe: client p50 minus in-process pipeline p50;")
    print("floor: the same from the fastest requests and calls; net+proto and framework from means, where the framework reports its time)")
    print(f"{'server':<50}" + "".join(f"{h:>13}" for h, _ in COLUMNS))
    for cell in summarise_loads(records, kind="server"):
        label, d = str(cell.server), cell.decomposition
        if d is None:
            inprocess = next((r.inprocess for r in cell.records if getattr(r, "inprocess", None)), None) or {}
            why = cell.error or inprocess.get("error") or "no decomposition"
            print(f"{label:<50} not measured: {why}")
            continue
        row = [getattr(d, key) for _, key in COLUMNS]
        print(f"{label[:49]:<50}" + "".join(f"{'-' if v is None else f'{v:.2f}':>13}" for v in row))
        for w in cell.windows:
            for c in w.sanity.checks if w.sanity else []:
                if c.check == "serving overhead":
                    serving = (w.decomposition or {}).get("serving_ms")
                    print(f"    repeat {w.repeat + 1}: client-pipe {'-' if serving is None else f'{serving:.2f}'} ms; "
                          f"{'ok' if c.ok else 'WARN'}: {c.detail}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workload")
    ap.add_argument("servers", nargs="+")
    ap.add_argument("--runtime", default="onnxruntime", help="engine inside every server ('' for the workload's default)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=5.0, help="each window lasts at least this long")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=None, help="results directory (default: a new temporary one)")
    ap.add_argument("--cache", type=Path, default=None, help="artifact cache (default: infermeter's own)")
    args = ap.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="serving-overhead-"))
    suite = parse_suite(suite_for(args.workload, args.servers, args.runtime or None, args.threads, args.seconds, args.repeats))
    run_suite(suite, out, cache_root=args.cache, console=Console(stderr=True))
    report(ResultStore(out).read())
    print(f"records in {out / 'results.jsonl'}")


if __name__ == "__main__":
    main()
