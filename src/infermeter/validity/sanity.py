"""The sanity verdict stored with every measured window: checks that a result is self-consistent and was
not limited by something other than what it claims to measure. A failed check does not drop the result;
it marks it ("warn") and says why, in the record and in the report.

- Little's law (closed loops and concurrent callers): users = throughput x mean latency. Fewer than
  that means users spent time outside requests (a slow generator); more means a counting error.
- Generator: a generator process near a full core, or open-loop requests sent late, measured the
  generator, not the target; in process, an open loop's callers waking late after a wait (not the
  queueing wait, which is the engine's) measured the harness.
- Samples: p99 needs at least 1,000 samples (10 beyond it) to mean anything.
- Machine: other processes using CPU during an in-process window slow it down (two benchmarks at once).
- Warm-up: an in-process cell's warm-up that reached warmup.max_seconds with the latency still drifting
  leaves its first windows measuring the warm-up, not the engine ("not steady").
"""

from __future__ import annotations

from typing import Any

from infermeter.results.stats import OTHER_CPU_LIMIT, min_samples_for
from infermeter.validity.theory import littles_law_users

LITTLE_TOLERANCE = 0.10  # plus the window-edge effect, users / requests
# The generator's limits, here (not in loadgen/generator.py, which warns by them too) because the verdict
# that judges a window sits below the load generator: loadgen/ imports validity/, never the reverse.
# A generator process busier than this (CPU time / wall time) may itself have been the bottleneck.
SATURATED_CPU = 0.90
# Open loop: sending later than this after the scheduled time (p99) means the schedule was not kept.
LAG_LIMIT_MS = 5.0


def _check(name: str, ok: bool, detail: str) -> dict[str, Any]:
    return {"check": name, "ok": ok, "detail": detail}


def verdict(checks: list[dict[str, Any]]) -> dict[str, Any]:
    return {"verdict": "ok" if all(c["ok"] for c in checks) else "warn", "checks": checks}


def little_check(users: int, throughput: float | None, mean_ms: float | None, requests: int) -> dict[str, Any] | None:
    """users vs throughput (all completions per second) x mean latency."""
    if not throughput or mean_ms is None or requests <= 0:
        return None
    implied = littles_law_users(throughput, mean_ms / 1000)
    ratio = implied / users
    tolerance = LITTLE_TOLERANCE + users / requests  # at most `users` requests straddle each window edge
    ok = abs(ratio - 1) <= tolerance
    detail = f"throughput x mean latency = {implied:.2f} in flight for {users} users (ratio {ratio:.3f}, tolerance ±{tolerance:.2f})"
    if not ok and ratio < 1:
        detail += "; users spent time outside requests: the generator or client was a bottleneck"
    elif not ok:
        detail += "; more requests in flight than users: a counting or timing error"
    return _check("little's law", ok, detail)


def samples_check(n: int, percentile: float = 99.0) -> dict[str, Any]:
    need = min_samples_for(percentile)
    return _check(f"samples for p{percentile:g}", n >= need,
                  f"{n} samples" + ("" if n >= need else f" < {need}: p{percentile:g} is a rough figure; lengthen the window"))


def load_sanity(merged: dict[str, Any], users: int | None) -> dict[str, Any]:
    """Verdict of one load window (closed or open loop)."""
    checks = []
    completed = merged.get("requests") or 0
    window = merged.get("window_s") or 0
    if users:
        little = little_check(users, completed / window if window else None, (merged.get("latency_ms") or {}).get("mean"), completed)
        if little:
            checks.append(little)
    cpu = merged.get("generator_cpu_max") or 0.0
    checks.append(_check("generator CPU", cpu <= SATURATED_CPU, f"busiest generator process used {cpu:.0%} of a core (limit {SATURATED_CPU:.0%})"))
    lag = (merged.get("issue_lag_ms") or {}).get("p99")
    if lag is not None:
        checks.append(_check("schedule kept", lag <= LAG_LIMIT_MS, f"p99 send lag {lag:.2f} ms (limit {LAG_LIMIT_MS} ms)"))
    checks.append(samples_check(completed))
    return verdict(checks)


def warmup_check(warmup: dict[str, Any]) -> dict[str, Any]:
    """From the record's `warmup` block (loadgen/warmup.py WarmupResult)."""
    calls, seconds = warmup["calls"], warmup["seconds"]
    early, late, tau = warmup.get("early_ms"), warmup.get("late_ms"), warmup.get("statistic")
    drift = "" if early is None or late is None else f"median {early:.3g} -> {late:.3g} ms over the last {warmup['window']} calls"
    if tau is not None:
        drift += f" (Kendall tau {tau:+.2f}, p {warmup['p_value']:.2g})"
    if warmup["steady"]:
        return _check("steady warm-up", True, f"steady after {calls} calls ({seconds:.1f} s)" + (f": {drift}" if drift else ""))
    why = (f"still drifting when warmup.max_seconds={warmup['max_seconds']:g} was reached" if warmup.get("hit_max")
           else "ended before the test could say")
    return _check("steady warm-up", False,
                  f"not steady: {why}, after {calls} calls ({seconds:.1f} s)" + (f": {drift}" if drift else "")
                  + "; the first windows may still be warming up")


def engine_sanity(n: int, concurrency: int, calls_per_s: float | None, mean_ms: float | None, other_cpu_percent: float | None,
                  warmup: dict[str, Any] | None = None, open_loop: bool = False,
                  wakeup_lag_ms: dict[str, float] | None = None) -> dict[str, Any]:
    """Verdict of one in-process window (with its cell's warm-up, where recorded). An open-loop window has
    no fixed number in flight (no Little's law check); its callers' wake-up lateness is the harness's own
    error, judged as an HTTP generator's send lag is."""
    checks = []
    if warmup is not None:
        checks.append(warmup_check(warmup))
    if open_loop:
        lag = (wakeup_lag_ms or {}).get("p99")
        if lag is not None:
            checks.append(_check("schedule kept", lag <= LAG_LIMIT_MS, f"p99 wake-up lateness of idle callers {lag:.2f} ms "
                                 f"(limit {LAG_LIMIT_MS} ms)"))
    elif concurrency > 1:
        little = little_check(concurrency, calls_per_s, mean_ms, n)
        if little:
            checks.append(little)
    checks.append(samples_check(n))
    if other_cpu_percent is not None:
        checks.append(_check("quiet machine", other_cpu_percent <= OTHER_CPU_LIMIT,
                             f"other processes used {other_cpu_percent:.0f}% CPU during the window (limit {OTHER_CPU_LIMIT:.0f}%)"
                             + ("" if other_cpu_percent <= OTHER_CPU_LIMIT else "; something else was running: the figures are slowed")))
    return verdict(checks)
