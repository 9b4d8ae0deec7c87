"""Where a server's time goes at one user: client latency against the very pipeline the server runs,
timed in process just before the server starts (see src/infermeter/validity/overhead.py).

For one workload and a list of servers, runs a short suite (1 user, closed loop), then prints per
server the medians over its windows of: client p50; the in-process pipeline p50 and its stages (decode,
model, postprocess); the framework's own reported time (queue + compute, where it reports one); the
difference (client p50 minus pipeline p50); the decomposition (network + protocol, framework,
pre/post-processing, model); and how much CPU other processes took meanwhile (figures from a busy
machine say little; run it on a quiet one).

    python benchmarks/serving_overhead.py sentiment-minilm litserve mlserver [--runtime onnxruntime]
        [--threads 2] [--seconds 5] [--repeats 3] [--out DIR] [--cache DIR]

A server may carry its own settings, to set variants side by side in one run:
`mlserver:parallel_workers=0` or `litserve:threads=1,workers=1` (values read as YAML).

With `--paired N`, each server is started once and N pairs of windows alternate with it running: the
pipeline timed in this process, then the server at one user (and the other way round in every second
pair, so a machine that drifts steadily moves both sides alike). The difference per pair is taken seconds
apart, where the suite's reference is taken once before the server starts: on this VM the same pipeline
read 250 and 234 ms (bert-base) in two references a few minutes apart, more than the 3 ms asked of HTTP.

    python benchmarks/serving_overhead.py bert-base litserve mlserver --threads 1 --paired 6 --seconds 8

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
                    print(f"    repeat {w.repeat + 1}: {'ok' if c.ok else 'WARN'}: {c.detail}")


def paired(workload_name: str, spec: str, settings: dict[str, Any], pairs: int, seconds: float, out: Path,
           cache: Path | None) -> list[tuple[float, float]]:
    """(pipeline p50, client p50) per pair, in ms; see the module's docstring."""
    from infermeter.export.artifacts import Exporter, default_cache_root
    from infermeter.loadgen.endpoint import LoadSettings, build_plans, measure_window
    from infermeter.servers.reference import serving_model, time_pipeline
    from infermeter.servers.registry import adapter_for
    from infermeter.workloads.registry import get_workload

    entry = server_entry(spec, settings)
    adapter = adapter_for(entry["name"], entry["settings"])
    why = adapter.missing()
    if why:
        raise SystemExit(f"{entry['name']}: {why}")
    workload = get_workload(workload_name, 0)
    exporter = Exporter(workload, cache or default_cache_root())
    work = (out / f"paired-{entry['name']}").absolute()
    (work / "inprocess").mkdir(parents=True, exist_ok=True)
    adapter.serving_config(workload, exporter, work / "inprocess")
    _, model, _ = serving_model(work / "inprocess")  # as the suite's reference worker builds it
    payloads = model.workload.payloads()
    load = LoadSettings(warmup_s=2, min_seconds=seconds, min_requests=20, repeats=pairs, timeout_s=60)
    got = []
    (work / "server").mkdir(parents=True, exist_ok=True)
    deployment = adapter.deploy(workload, exporter, work / "server")
    with deployment.process:
        adapter.on_ready(deployment)
        for i in range(pairs):
            sides: dict[str, float] = {}
            for side in (("pipe", "client") if i % 2 == 0 else ("client", "pipe")):
                if side == "pipe":
                    timed = time_pipeline(model, payloads, 1, seconds, 20)
                    sides[side] = timed["pipeline_ms"]["p50"]
                    machine = f"other CPU {timed['other_cpu_percent']:.0f}%, speed probe {timed['speed_probe_ms']:.2f} ms"
                else:
                    metrics, failure, _ = measure_window(build_plans(deployment.target, load, 1, None, i))
                    if metrics is None or failure:
                        raise SystemExit(f"{entry['name']}: window {i + 1} failed: {failure}")
                    sides[side] = metrics.latency_ms["p50"]
            got.append((sides["pipe"], sides["client"]))
            print(f"  {spec} pair {i + 1}: pipeline {sides['pipe']:.2f}  client {sides['client']:.2f}  "
                  f"difference {sides['client'] - sides['pipe']:+.2f} ms  (in process: {machine})", flush=True)
    return got


def report_paired(spec: str, got: list[tuple[float, float]]) -> None:
    import numpy as np

    diffs = np.asarray([c - p for p, c in got])
    pipes = np.asarray([p for p, _ in got])
    print(f"{spec:<40} client-pipe median {np.median(diffs):+.2f} ms (pairs {', '.join(f'{d:+.1f}' for d in diffs)}); "
          f"pipeline p50 {pipes.min():.1f}-{pipes.max():.1f} ms across the pairs")


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
    ap.add_argument("--paired", type=int, default=0, metavar="N",
                    help="N alternating pairs of (pipeline in process, server at one user) per server, with the server up")
    args = ap.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="serving-overhead-"))
    if args.paired:
        common: dict[str, Any] = {"workers": 1, "threads": args.threads} | ({"runtime": args.runtime} if args.runtime else {})
        results = {spec: paired(args.workload, spec, common, args.paired, args.seconds, out, args.cache) for spec in args.servers}
        print(f"{args.workload}, threads {args.threads}, p50 per window of >= {args.seconds:g} s:")
        for spec, got in results.items():
            report_paired(spec, got)
        return
    suite = parse_suite(suite_for(args.workload, args.servers, args.runtime or None, args.threads, args.seconds, args.repeats))
    run_suite(suite, out, cache_root=args.cache, console=Console(stderr=True))
    report(ResultStore(out).read())
    print(f"records in {out / 'results.jsonl'}")


if __name__ == "__main__":
    main()
