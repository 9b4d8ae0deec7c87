"""Open-loop arrival schedules, generated from a seed before the run (as MLPerf LoadGen does).

Offsets are nanoseconds from the start of the window. Latency in an open loop is measured from each
request's scheduled time, so a server that stalls cannot hide the requests it delayed.
"""

from __future__ import annotations

import hashlib
from typing import Literal

import numpy as np

Arrival = Literal["poisson", "constant", "gamma", "trace"]


def arrivals(rate: float, duration_s: float, kind: Arrival = "poisson", seed: int = 0, burstiness: float = 1.0,
             trace: np.ndarray | None = None) -> np.ndarray:
    """Scheduled send times (ns offsets, sorted) for `rate` requests/s over `duration_s` seconds.

    gamma: inter-arrival times drawn from a gamma distribution of shape `burstiness` and mean 1/rate
    (vLLM's convention: 1.0 is Poisson, below 1 burstier, above 1 more regular). trace: the times of a
    recorded trace (seconds, sorted; trace_times), stretched or squeezed to the mean `rate` and repeated
    end to end until the window is full, so a trace's shape can be offered at any rate."""
    if rate <= 0:
        raise ValueError("rate must be positive")
    if duration_s <= 0:
        raise ValueError("duration must be positive")
    horizon = duration_s * 1e9
    if kind == "constant":
        n = int(np.floor(rate * duration_s))
        return (np.arange(n, dtype=np.float64) * (1e9 / rate)).astype(np.int64)
    if kind == "trace":
        if trace is None or len(trace) < 2:
            raise ValueError("a trace needs at least two timestamps")
        return _replay(trace, rate, horizon)
    if burstiness <= 0:
        raise ValueError("burstiness must be positive")
    rng = np.random.default_rng(seed)

    def gaps(n: int) -> np.ndarray:
        if kind == "gamma" and burstiness != 1.0:
            return rng.gamma(burstiness, 1e9 / (rate * burstiness), n)
        return rng.exponential(1e9 / rate, n)  # Poisson: the draws a seed gave before gamma existed

    # Draw a little more than expected, then cut at the horizon.
    n = int(rate * duration_s + 6 * np.sqrt(rate * duration_s / min(burstiness, 1.0)) + 10)
    t = np.cumsum(gaps(n))
    while t[-1] < horizon:  # rare (astronomically for Poisson): extend
        t = np.concatenate([t, t[-1] + np.cumsum(gaps(n))])
    return t[t < horizon].astype(np.int64)


def _replay(trace_s: np.ndarray, rate: float, horizon_ns: float) -> np.ndarray:
    offsets = (np.asarray(trace_s, dtype=np.float64) - trace_s[0]) * 1e9
    # The trace's own mean rate counts one gap after its last request, so that copies laid end to end
    # keep the rate: n requests over span * n / (n - 1).
    period = offsets[-1] * len(offsets) / (len(offsets) - 1)
    if period <= 0:
        raise ValueError("a trace's timestamps must not all be equal")
    scale = (len(offsets) / period) / (rate / 1e9)  # > 1 stretches the trace
    offsets, period = offsets * scale, period * scale
    copies = int(np.ceil(horizon_ns / period)) + 1
    t = (offsets[None, :] + period * np.arange(copies)[:, None]).ravel()
    return t[t < horizon_ns].astype(np.int64)


def trace_times(path: str) -> tuple[np.ndarray, np.ndarray | None]:
    """A trace file: one request a line, `SECONDS` or `SECONDS,PAYLOAD` (which of the request bodies it
    sends), `#` comments. Returns the sorted times and the payload ids (None when the file has none)."""
    times: list[float] = []
    payloads: list[int] = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            parts = [x.strip() for x in text.split(",")]
            try:
                t = float(parts[0])
                payload = int(parts[1]) if len(parts) > 1 and parts[1] else None
            except ValueError:
                raise ValueError(f"{path}:{number}: {text[:60]!r} is not SECONDS or SECONDS,PAYLOAD") from None
            if not np.isfinite(t) or t < 0 or (payload is not None and payload < 0):
                raise ValueError(f"{path}:{number}: times must be finite and >= 0, payload ids >= 0")
            if times and t < times[-1]:
                raise ValueError(f"{path}:{number}: times must not go back ({t} after {times[-1]})")
            times.append(t)
            if payload is not None:
                payloads.append(payload)
    if len(times) < 2:
        raise ValueError(f"{path}: a trace needs at least two requests, found {len(times)}")
    if payloads and len(payloads) != len(times):
        raise ValueError(f"{path}: give a payload id on every line or on none")
    return np.asarray(times), (np.asarray(payloads, dtype=np.int64) if payloads else None)


def split(offsets: np.ndarray, parts: int) -> list[np.ndarray]:
    """Deal a schedule round-robin to `parts` generator processes: each keeps the same time span."""
    return [offsets[i::parts] for i in range(parts)]


def schedule_bytes(offsets: tuple[int, ...] | np.ndarray) -> bytes:
    return np.asarray(offsets, dtype="<i8").tobytes()


def digest(offsets: tuple[int, ...] | np.ndarray) -> str:
    """What identifies a share's send times: a generator reports it with its figures, so that the shares
    run can be checked against the schedule drawn."""
    return hashlib.sha256(schedule_bytes(offsets)).hexdigest()[:16]
