"""Where a server's time goes, and whether the part beyond the model is plausible.

Every server window is set beside the very pipeline the server runs (the workload's decode, the engine,
the workload's postprocess: servers/common/serving_model.py), timed in process, at batch 1, on the same
payloads (servers/reference.py): a window at one user beside the mean of the timings just before and just
after it, with the server up; windows at more users beside the timing before the server started. Per
request:

    client latency = network + protocol    (client minus the framework's own reported time)
                   + framework             (reported time minus the in-process pipeline: its handler,
                                            queue, batching wait, or the engine running slower inside it)
                   + pre/post-processing   (decode + postprocess, in process)
                   + model                 (engine.predict, in process)

Frameworks that report no time of their own (LitServe, MLflow...) leave network, protocol and framework
as one figure ("serving"). The framework's counters are read when the load generator's recorded part
begins and when it ends (collectors/window.py), so they cover the client's requests (MLServer: 256
counted for 256; read before the warm-up they counted 243 for 193); where the counts still differ by
more than 5% the split is kept but the check does not name a cause from it. The framework's figures are
means (counter deltas), so the split that uses them is on means; the headline figures (serving, beyond
the model) are on p50s, which a busy machine moves less. Each headline figure also has a floor, from the
fastest requests and calls (client min minus pipeline min): on a machine shared with other work,
contention lengthens whole windows (p50s 15 ms apart for one pipeline, runs seconds apart, here), while
the fastest calls of each stay close to the machine's quiet speed.

The check (one request in flight, so queueing explains nothing) flags a window where a part of the time
beyond the model exceeds its budget at the p50 and at the floor alike. The serving part is not judged
when other processes used more than OTHER_CPU_LIMIT of a core during the window (the machine's CPU
less the server's and the load generator's) or during the in-process reference: then the two were not
measured on the same machine, in effect, and either may look slower for a reason not its own (here: other people's test suites, 140% of the 2 cores, tripled a window's
client p50).
- serving (network + protocol + framework) > SERVING_BUDGET_MS: HTTP + JSON on loopback costs 1-3 ms
  here (Triton, small CNN: binary HTTP 0.74 ms, V2 JSON 1.4 ms; JSON + base64 of a 70 KB JPEG body
  0.6 ms); the budget leaves room for a busy 2-core machine. Server-side batching adds its configured
  wait to the allowance.
- pre/post-processing > PREPROCESS_BUDGET_MS: decoding and resizing the bundled JPEG photos takes p50
  7 ms, mean 14 ms, max 46 ms here (busy machine; photos up to 265 KB); tokenising a review with a
  tokenizer kept for the process takes 0.07 ms, building a BERT tokenizer per request 30-70 ms.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from infermeter.results.stats import OTHER_CPU_LIMIT
from infermeter.results.warnings import RecordWarning, warning

# Beyond this change of the machine's own speed between the reference and a window (the speed probe),
# the serving part is not judged: on this VM the probe moved 15-20% within a minute with nothing running.
SPEED_DRIFT = 0.10
SERVING_BUDGET_MS = 5.0
PREPROCESS_BUDGET_MS = 15.0
CHECK_NAME = "serving overhead"


def _num(block: Mapping[str, Any] | None, key: str) -> float | None:
    v = (block or {}).get(key)
    return float(v) if isinstance(v, (int, float)) else None


def _batch_one(inprocess: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    if not inprocess or inprocess.get("status") != "ok":
        return None
    return next((b for b in inprocess.get("batches") or [] if b.get("batch_size") == 1), None)


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def _minus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def decompose(metrics: Mapping[str, Any], inprocess: Mapping[str, Any] | None) -> dict[str, float | None] | None:
    """The decomposition of one server window (all per request, in ms); None without a client latency or
    an in-process reference at batch 1.

    metrics: the window's metrics (latency_ms with p50 and mean; queue_ms_mean / inference_ms_mean where
    the framework reports them). inprocess: the reference block (servers/reference.py)."""
    ref = _batch_one(inprocess)
    client = metrics.get("latency_ms") or {}
    client_p50, client_mean = _num(client, "p50"), _num(client, "mean")
    if ref is None or client_p50 is None:
        return None
    queue, compute = _num(metrics, "queue_ms_mean"), _num(metrics, "inference_ms_mean")
    reported = None if compute is None else compute + (queue or 0.0)

    def p50(stage: str) -> float | None:
        return _num(ref.get(f"{stage}_ms"), "p50")

    pipeline_mean = _num(ref.get("pipeline_ms"), "mean")
    counted, completed = _num(metrics, "server_requests"), _num(metrics, "requests")
    return {
        "client_p50_ms": client_p50,
        "client_mean_ms": client_mean,
        "framework_queue_ms": queue,
        "framework_compute_ms": compute,
        "decode_ms": p50("decode"),
        "model_ms": p50("model"),
        "postprocess_ms": p50("postprocess"),
        "pipeline_ms": p50("pipeline"),
        "network_protocol_ms": _minus(client_mean, reported),
        "framework_ms": _minus(reported, pipeline_mean),
        "serving_ms": _minus(client_p50, p50("pipeline")),
        "pre_post_ms": p50("pre_post"),
        "beyond_model_ms": _minus(client_p50, p50("model")),
        "serving_floor_ms": _minus(_num(client, "min"), _num(ref.get("pipeline_ms"), "min")),
        # The machine's speed at the window against at the reference (collectors/speed.py): 1.2 = the same
        # fixed computation took 20% longer around this window, so the window's pipeline ran slower too.
        "speed_ratio": _ratio(_num(metrics, "speed_probe_ms"), _num(ref, "speed_probe_ms")),
        "pre_post_floor_ms": _num(ref.get("pre_post_ms"), "min"),
        "other_cpu_percent": _other_cpu(metrics),
        "reference_other_cpu_percent": _num(ref, "other_cpu_percent"),
        "framework_requests": counted if compute is not None else None,
        "client_requests": completed,
    }


def _same_requests(d: Mapping[str, Any]) -> bool:
    """The framework's counters and the client's window cover the same requests (within 5%)."""
    counted, completed = d.get("framework_requests"), d.get("client_requests")
    return bool(counted and completed) and abs(counted - completed) <= 0.05 * completed


def _other_cpu(metrics: Mapping[str, Any]) -> float | None:
    """% of one core that processes other than the server and the load generator used in the window."""
    system, server = _num(metrics, "system_cpu_percent"), _num(metrics, "server_cpu_percent")
    if system is None or server is None:
        return None
    return max(0.0, system - server - (_num(metrics, "client_cpu_percent") or 0.0))


def _fmt(v: float | None, digits: int = 1) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def _serving_cause(d: Mapping[str, Any]) -> str:
    fw, net = d.get("framework_ms"), d.get("network_protocol_ms")
    if fw is None or net is None or not _same_requests(d):
        why = ("this framework reports no time of its own to split them" if fw is None else
               f"the framework's counters cover {d['framework_requests']:.0f} requests, the client's window "
               f"{d['client_requests']:.0f}, so its figures do not split them")
        return (f"the server adds {d['serving_ms']:.1f} ms per request to the same pipeline run in process (network, protocol "
                f"and framework together: {why})")
    if fw >= net:
        return (f"the framework adds {fw:.1f} ms per request: its reported time ({(d['framework_queue_ms'] or 0) + d['framework_compute_ms']:.1f} ms, "
                "queue included) is above the same pipeline in process; its handler, a batching wait, or the engine "
                "running slower inside it (threads?)")
    return (f"network + protocol take {net:.1f} ms per request outside the framework's reported time "
            "(serialisation, HTTP, the framework's front end)")


def overhead_check(d: Mapping[str, Any] | None, users: int | None, serving_budget_ms: float = SERVING_BUDGET_MS,
                   preprocess_budget_ms: float = PREPROCESS_BUDGET_MS, batch_wait_ms: float = 0.0) -> dict[str, Any] | None:
    """The sanity check of one window (None where it does not apply: no decomposition, or more than one
    request in flight, where queueing could explain any figure)."""
    if d is None or users != 1 or d.get("serving_ms") is None or d.get("pre_post_ms") is None:
        return None
    allowance = serving_budget_ms + batch_wait_ms

    def over(p50: float, floor: float | None, budget: float) -> bool:
        return p50 > budget and (floor is None or floor > budget)

    over_pre = over(d["pre_post_ms"], d.get("pre_post_floor_ms"), preprocess_budget_ms)
    other, other_ref = d.get("other_cpu_percent"), d.get("reference_other_cpu_percent")
    busy = any(v is not None and v > OTHER_CPU_LIMIT for v in (other, other_ref))
    ratio = d.get("speed_ratio")
    drifted = ratio is not None and abs(ratio - 1) > SPEED_DRIFT
    over_serving = not busy and not drifted and over(d["serving_ms"], d.get("serving_floor_ms"), allowance)
    detail = (f"{d['beyond_model_ms']:.1f} ms per request beyond the model (client p50 {d['client_p50_ms']:.1f} ms, model in process "
              f"{d['model_ms']:.1f} ms): serving {d['serving_ms']:.1f} ms (budget {allowance:g}"
              + (f", with {batch_wait_ms:g} ms batching wait" if batch_wait_ms else "")
              + f"), pre/post-processing {d['pre_post_ms']:.2f} ms (budget {preprocess_budget_ms:g}); floors (fastest requests) "
              + f"{_fmt(d.get('serving_floor_ms'))} and {_fmt(d.get('pre_post_floor_ms'))} ms")
    if busy:
        detail += (f"; serving not judged: other processes used {_fmt(other, 0)}% of a core during the window and "
                   f"{_fmt(other_ref, 0)}% during the in-process reference (limit {OTHER_CPU_LIMIT:.0f}%): the machine is "
                   "busy with other work")
    if drifted and not busy:
        detail += (f"; serving not judged: the machine itself ran at another speed during the window than during the "
                   f"in-process reference (a fixed computation took {ratio:.2f}x as long; limit ±{SPEED_DRIFT:.0%}), so the "
                   "difference says more about the machine than the server")
    causes = []
    if over_pre:
        causes.append((d["pre_post_ms"] - preprocess_budget_ms,
                       f"pre-processing takes {d['pre_post_ms']:.1f} ms per request in process (decode {d['decode_ms']:.1f} ms, "
                       f"postprocess {d['postprocess_ms']:.1f} ms): something is built per request (a tokenizer, processor "
                       "or decoder), or the workload's decoding is slow"))
    if over_serving:
        causes.append((d["serving_ms"] - allowance, _serving_cause(d)))
    if causes:
        detail += "; " + "; ".join(text for _, text in sorted(causes, key=lambda c: -c[0]))
    return {"check": CHECK_NAME, "ok": not causes, "detail": detail}


def warning_text(check: Mapping[str, Any]) -> str:
    """The window's warning for a failed check (code: serving-overhead)."""
    return f"serving overhead at 1 user: {check['detail']}"


@dataclass(frozen=True)
class Assessment:
    """One server window against its in-process reference: the decomposition (None without one), the
    sanity check (None where it does not apply) and the warning a failed check raises."""

    decomposition: dict[str, float | None] | None
    check: dict[str, Any] | None
    warning: RecordWarning | None


def assess(metrics: Mapping[str, Any] | None, measured: bool, inprocess: Mapping[str, Any] | None, *, users: int | None,
           serving_budget_ms: float = SERVING_BUDGET_MS, preprocess_budget_ms: float = PREPROCESS_BUDGET_MS,
           batch_wait_ms: float = 0.0) -> Assessment:
    """Decompose one window (`measured`: its status is ok) and check it against the budgets."""
    d = decompose(metrics or {}, inprocess) if measured else None
    check = overhead_check(d, users, serving_budget_ms, preprocess_budget_ms, batch_wait_ms)
    found = None
    if check is not None and not check["ok"]:
        code = "serving-overhead-preprocess" if "pre-processing takes" in check["detail"] else "serving-overhead"
        found = warning(code, warning_text(check))
    return Assessment(d, check, found)
