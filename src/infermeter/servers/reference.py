"""The in-process reference of a deployment: the very pipeline a server runs (a ServingModel built from
the same serving.json the adapter writes: same workload, runtime, artifact and threads), fed the same
payloads the load generator sends, timed stage by stage (decode, model, postprocess), in a worker process
that keeps the pipeline built for the deployment's whole life (`Pipeline`, driven over the worker
protocol as a session: runner.WorkerSession).

It is measured once before the server starts (every batch size the server uses), and again, at batch 1,
between the server's windows at one user, with the server up and idle: each such window is set beside
the mean of the references just before and just after it (`bracket`), which cancels a drift of the
machine's speed that is linear over the pair. One reference taken minutes before a window was not enough
here: the same pipeline read 250 and 234 ms (bert-base) a few minutes apart, and a LitServe window of
sentiment-minilm came out 5.3 ms beyond its pipeline against +1.7 ms for the median of paired windows.

Every server window carries its reference (`inprocess`) and the decomposition built from it
(validity/overhead.py); when to measure it, and with which suite settings, is server_cells.py's part.
The pipeline runs in infermeter's own environment, not the framework's: where a framework's environment
pins a different engine version, that difference lands in "framework".
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from infermeter.collectors.window import reference_window
from infermeter.results.stats import latency_summary_ms

JOB = "reference"  # the worker job type (next to "prepare" and "cell")
WARMUP_CALLS = 5
WARMUP_SECONDS = 0.5
MAX_SECONDS = 20.0  # per batch size: a slow model (BART: seconds per call) stops here, flagged "capped"
STAGES = ("decode", "model", "postprocess", "pre_post", "pipeline")
SUMMARY_KEYS = ("p50", "p90", "mean", "min")



class Session(Protocol):
    """A worker holding one deployment's Pipeline (runner.WorkerSession)."""

    def measure(self, request: dict[str, Any]) -> dict[str, Any]:
        """A block of Pipeline.measure, or a failed one with its cause."""
        ...

    def close(self) -> None: ...


# (job, log path) -> a started session: {"job": JOB, "serving_config": DIR}
StartSession = Callable[[dict[str, Any], Path], Session]


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
    os.environ["CUDA_VISIBLE_DEVICES"] = config.visible_devices  # the server's GPU (before CUDA starts here)
    t = time.perf_counter()
    model = ServingModel(config)
    return config, model, time.perf_counter() - t


class Pipeline:
    """A deployment's pipeline, built once in the worker (job: {"job": "reference", "serving_config": DIR}),
    timed on request ({"batch_sizes": [...], "min_seconds": s, "min_calls": n}) as often as asked."""

    def __init__(self, job: dict[str, Any]) -> None:
        self.config, self.model, self.load_s = serving_model(job["serving_config"])
        self.payloads = self.model.workload.payloads()

    def measure(self, request: dict[str, Any]) -> dict[str, Any]:
        """The `inprocess` block: one entry per batch size."""
        batches = [time_pipeline(self.model, self.payloads, b, request["min_seconds"], request["min_calls"])
                   for b in request["batch_sizes"]]
        return {"status": "ok", "runtime": self.config.runtime, "threads": self.config.threads or None,
                "artifact": self.config.artifact, "payloads": len(self.payloads), "load_s": self.load_s, "batches": batches}


def _bracket_batch(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Two timings of one batch size as one: central figures averaged, floors the lower, the machine's
    other load the higher (so a busy moment on either side still stops the serving part being judged)."""
    out: dict[str, Any] = {"batch_size": a["batch_size"], "calls": a["calls"] + b["calls"],
                           "warmup_calls": a["warmup_calls"] + b["warmup_calls"], "window_s": a["window_s"] + b["window_s"],
                           "capped": a["capped"] or b["capped"]}
    for stage in STAGES:
        sa, sb = a[f"{stage}_ms"], b[f"{stage}_ms"]
        out[f"{stage}_ms"] = {k: (min(sa[k], sb[k]) if k == "min" else (sa[k] + sb[k]) / 2) for k in SUMMARY_KEYS}
    others = [v for v in (a.get("other_cpu_percent"), b.get("other_cpu_percent")) if v is not None]
    probes = [v for v in (a.get("speed_probe_ms"), b.get("speed_probe_ms")) if v is not None]
    out["other_cpu_percent"] = max(others) if others else None
    out["speed_probe_ms"] = sum(probes) / len(probes) if probes else None
    return out


def bracket(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The reference of one window from the references just before and just after it (each a block of
    Pipeline.measure at batch 1); where one of them failed, the other alone (`pairing` says which)."""
    ok = [r for r in (before, after) if r.get("status") == "ok"]
    if not ok:
        return before
    if len(ok) == 1:
        return ok[0] | {"pairing": "before" if ok[0] is before else "after"}
    batches = [_bracket_batch(a, b) for a, b in zip(before["batches"], after["batches"])]
    return before | {"batches": batches, "pairing": "bracketed"}


def not_measured(status: str, why: str) -> dict[str, Any]:
    return {"status": status, "error": why}
