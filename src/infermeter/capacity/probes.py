"""What one measured window says to a capacity search: the load met the SLO, missed it, or could not be
judged because the generator itself was the limit (vetoed).

In order:
1. a failed window (no answer at all, every request failed) misses;
2. an open loop that did not keep up misses (arrivals never sent or answered by the window's end; an
   engine's completed below KEPT_UP of offered with a backlog, loadgen/openloop.py): the target is
   saturated, whatever its percentile says about the requests it served;
3. the SLO's verdict (results/slo.py): pass meets, fail misses; too few samples misses (a tail cannot be
   estimated from them: an open loop at a low rate fits few arrivals in its window); not proven is decided
   by the measured share past each bound (point estimate) and said so in `why`;
4. the generator's own checks, when one fired (a generator process used a whole core, or the schedule was
   not kept: send lag; for an engine, the callers' wake-up lateness) while the target kept up:
   - open loop, the SLO met: the pass stands, said to be conservative. Latency counts from the scheduled
     time, and sending later never makes a queue's answers come earlier (a FIFO queue's departures are
     monotone in its arrivals), so a late generator can only have added to the latency it measured. (Seen
     with ResNet-50 on TorchServe here: the server's workers took both cores, the generator, at 0.4% of a
     core, woke 5-38 ms late at every rate, and a veto on that lateness halved the search to its floor
     with every probe inside the SLO);
   - open loop, the SLO missed by more than lateness could explain: the miss stands. Sending up to L ms
     late (and, the loop being as slow to wake, reading the answer up to L ms late) moves each answer by at
     most 2L (monotone departures again), so a window that still misses with its bound raised by twice the
     latest send misses on time too. (Seen on MLServer here: p90 8.1 s at 3.3/s with a p99 send lag of 10 ms
     had been vetoed, and the search ended "generator limit");
   - otherwise vetoed: a miss may be the generator's lateness, not the target's; a closed loop whose
     generator was saturated offered fewer requests than its users would have. Such a window proves
     nothing about the target, and the search treats it as a ceiling.
"""

from __future__ import annotations

from typing import Literal

from infermeter.capacity.search import Mode
from infermeter.results import histogram
from infermeter.results.record import CapacityProbe, EngineMetrics, EngineWindow, LoadMetrics, LoadWindow, ServerWindow, SloResult
from infermeter.results.slo import SLO, assess

Window = EngineWindow | LoadWindow | ServerWindow
Decision = Literal["meets", "misses", "vetoed"]


def slo_latency_ms(record: Window, slo: SLO) -> float | None:
    """The window's latency at the SLO's percentile (max for a bound on every request)."""
    m = record.metrics
    if m is None or not m.latency_hdr or not m.requests:
        return None
    h = histogram.decode(m.latency_hdr)
    if slo.percentile is None:
        return h.get_max_value() / 1000.0
    return histogram.values_at_percentiles(h, [slo.percentile])[slo.percentile] / 1000.0


def completed_per_s(record: Window) -> float | None:
    m = record.metrics
    if m is None or not m.window_s:
        return None
    return (m.requests + m.failures if isinstance(record, EngineWindow) else m.requests) / m.window_s


def decide(record: Window, slo: SLO, mode: Mode, load: float, offered_per_s: float | None = None) -> CapacityProbe:
    """The probe at `load` from its window's record (judged against `slo` when it was measured)."""
    m = record.metrics
    done = completed_per_s(record)
    offered = getattr(m, "offered_per_s", None) or offered_per_s if mode == "rate" else None
    codes = {w.code: w.text for w in record.warnings}
    unsent = (m.unsent or 0) if m is not None else 0
    backlog = getattr(m, "backlog", None)
    # The engine's open loop judges itself (completed below KEPT_UP of offered with a backlog: its warning); an
    # HTTP window waits for every request it sent, so there completed < offered shows as requests never answered.
    saturated = mode == "rate" and (unsent > 0 or "open-loop-saturated" in codes)
    judged = record.slo
    probe = dict(load=load, cell_id=record.cell_id, verdict=judged.verdict if judged else None, latency_ms=slo_latency_ms(record, slo),
                 p50_ms=m.latency_ms.get("p50") if m is not None else None,
                 goodput_rps=judged.goodput_rps if judged else None, offered_per_s=offered, completed_per_s=done,
                 requests=judged.requests if judged else None, saturated=saturated)

    def said(decision: str, why: str) -> CapacityProbe:
        return CapacityProbe(decision=decision, why=why, **probe)  # type: ignore[arg-type]

    if record.status == "failed" or m is None or judged is None:
        return said("misses", f"the window failed: {record.error or 'nothing was measured'}")
    if saturated:
        shown = f", {backlog} waiting when the schedule ended" if backlog else ""
        return said("misses", f"saturated: completed {done or 0:.4g}/s of {offered or 0:.4g}/s offered"
                              f"{f', {unsent} never sent' if unsent else ''}{shown}")
    decision, why = _judged(probe["latency_ms"], judged, slo)
    late = codes.get("generator-saturated") or codes.get("schedule-not-kept")
    if late is None or judged.verdict == "too few samples":  # too few is the window's size, late or not
        return said(decision, why)
    busy = getattr(m, "generator_cpu_max", None)
    late = late.split(";")[0] + (f" (the busiest generator process used {busy:.1%} of a core)" if busy is not None else "")
    if mode == "rate" and decision == "meets":
        return said("meets", f"{why}; {late}: latency counts from the scheduled time and a late send only "
                             "adds to it, so the pass is conservative")
    if mode == "rate" and "generator-saturated" not in codes and (margin := _lateness_margin_ms(m)) is not None:
        loose = slo.model_copy(update={"bound_ms": slo.bound_ms + margin})
        if (again := assess(loose, m)) is not None and _judged(None, again, loose)[0] == "misses":
            return said("misses", f"{why}; {late}, but the miss stands: it misses with the bound raised by {margin:.3g} ms, "
                                  "twice the latest send, more than lateness on both sides of a request could add")
    return said("vetoed", f"{late} while the target kept up: the window cannot tell the target's "
                          f"latency from the generator's lateness ({why})")


def _lateness_margin_ms(m: EngineMetrics | LoadMetrics) -> float | None:
    """What a late generator can have added to any one latency: twice its latest wake-up (late to send, and
    as late again to read the answer). None where the window does not say how late it was. An engine's issue
    lag holds its queueing wait too, so its callers' wake-up lateness is the one."""
    latest = ((m.wakeup_lag_ms if isinstance(m, EngineMetrics) else m.issue_lag_ms) or {}).get("max")
    return 2 * latest if latest is not None else None


def _judged(latency_ms: float | None, judged: SloResult, slo: SLO) -> tuple[Decision, str]:
    """What the SLO's verdict says about the load, and why in words."""
    latency = f"{slo.latency_text.split('<=')[0]} {latency_ms:.4g} ms" if latency_ms is not None else "no latency"
    confidence = f"{100 * judged.confidence:.4g}%"
    if judged.verdict == "pass":
        return "meets", f"{latency}: meets {judged.slo} at {confidence} confidence"
    if judged.verdict == "fail":
        return "misses", f"{latency}: misses {judged.slo} at {confidence} confidence ({judged.over} of {judged.requests} past it)"
    if judged.verdict == "too few samples":  # a tail cannot be estimated from them either: never counted as meeting it
        needed = max((c.needed or 0) for c in judged.checks) or None
        return "misses", (f"{latency}: too few requests to judge {judged.slo} ({judged.requests}"
                          f"{f' of the {needed} a pass needs' if needed else ''}): not counted as meeting it")
    # Not proven: the share measured past each bound decides, and the probe says it is an estimate.
    within = all((c.over <= c.allowed * c.requests) if c.allowed else c.over == 0 for c in judged.checks)
    return ("meets" if within else "misses",
            f"{latency}: {'within' if within else 'past'} {judged.slo} as measured ({judged.over} of {judged.requests} past the "
            f"latency bound), {judged.verdict} at {confidence}: more requests per probe would prove it")
