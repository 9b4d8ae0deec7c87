"""The in-process reference of a deployment: the very pipeline a server runs (a ServingModel built from
the same serving.json the adapter writes: same workload, runtime, artifact and threads), fed the same
payloads the load generator sends, timed stage by stage (decode, model, postprocess), measured in a
fresh worker process just before the server starts, so that nothing else of the run competes with it.

Every server window of the deployment carries the result (`inprocess`) and the decomposition built from
it (validity/overhead.py); when to measure it, and with which suite settings, is server_cells.py's part.
The pipeline runs in infermeter's own environment, not the framework's: where a framework's environment
pins a different engine version, that difference lands in "framework".
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from infermeter.collectors.window import reference_window
from infermeter.results.stats import latency_summary_ms

JOB = "reference"  # the worker job type (next to "prepare" and "cell")
WARMUP_CALLS = 5
WARMUP_SECONDS = 0.5
MAX_SECONDS = 20.0  # per batch size: a slow model (BART: seconds per call) stops here, flagged "capped"
STAGES = ("decode", "model", "postprocess", "pre_post", "pipeline")
SUMMARY_KEYS = ("p50", "p90", "mean", "min")

RunJob = Callable[[dict[str, Any], Path, Callable[[dict[str, Any]], None]], None]


def _summary(ns: list[int]) -> dict[str, float]:
    full = latency_summary_ms(np.asarray(ns, dtype=np.int64))
    return {k: full[k] for k in SUMMARY_KEYS}


def time_pipeline(model: Any, payloads: list[bytes], batch_size: int, min_seconds: float, min_calls: int,
                  max_seconds: float = MAX_SECONDS) -> dict[str, Any]:
    """Warm up, then call decode -> infer -> answers back to back on batches of `batch_size` payloads
    (cycling through them) until both `min_seconds` and `min_calls` are reached; per-call times per stage."""
    n = len(payloads)
    groups = [[payloads[(i * batch_size + j) % n] for j in range(batch_size)] for i in range(n)]
    clock = time.perf_counter_ns
    start, warm = time.perf_counter(), 0
    while warm < WARMUP_CALLS or time.perf_counter() - start < WARMUP_SECONDS:
        model.answers(model.infer(model.decode(groups[warm % n])))
        warm += 1
        if time.perf_counter() - start >= max_seconds:
            break
    times: dict[str, list[int]] = {s: [] for s in STAGES}
    collected = reference_window().start()
    t_start = clock()
    calls = 0
    while True:
        t0 = clock()
        batch = model.decode(groups[calls % n])
        t1 = clock()
        out = model.infer(batch)
        t2 = clock()
        model.answers(out)
        t3 = clock()
        times["decode"].append(t1 - t0)
        times["model"].append(t2 - t1)
        times["postprocess"].append(t3 - t2)
        times["pre_post"].append(t1 - t0 + t3 - t2)
        times["pipeline"].append(t3 - t0)
        calls += 1
        elapsed = (t3 - t_start) / 1e9
        if (calls >= min_calls and elapsed >= min_seconds) or elapsed >= max_seconds:
            break
    collected.stop()
    machine = collected.fields()
    return {"batch_size": batch_size, "calls": calls, "warmup_calls": warm, "window_s": elapsed, "capped": calls < min_calls,
            "other_cpu_percent": machine["other_cpu_percent"], "speed_probe_ms": machine["speed_probe_ms"],
            **{f"{s}_ms": _summary(v) for s, v in times.items()}}


def serving_model(serving_config: str | Path) -> tuple[Any, Any, float]:
    """(config, ServingModel, seconds to build it) from a serving.json, with the thread setting the
    adapter's server_env gives the server."""
    from infermeter.servers.common.serving_model import ServingConfig, ServingModel

    config = ServingConfig.read(serving_config)
    if config.threads:
        os.environ["OMP_NUM_THREADS"] = str(config.threads)
    t = time.perf_counter()
    model = ServingModel(config)
    return config, model, time.perf_counter() - t


def measure_job(job: dict[str, Any]) -> dict[str, Any]:
    """Run in the worker process: the `inprocess` block of a deployment."""
    config, model, load_s = serving_model(job["serving_config"])
    payloads = model.workload.payloads()
    batches = [time_pipeline(model, payloads, b, job["min_seconds"], job["min_calls"]) for b in job["batch_sizes"]]
    return {"status": "ok", "runtime": config.runtime, "threads": config.threads or None, "artifact": config.artifact,
            "payloads": len(payloads), "load_s": load_s, "batches": batches}


def not_measured(status: str, why: str) -> dict[str, Any]:
    return {"status": status, "error": why}
