"""Why the repeats of an in-process cell disagree, from what the records measured (for the cell
summaries, results/summary.py).

A spread between repeats used to be blamed on the machine ("close other programs") whatever its cause;
bert-base on PyTorch eager was blamed for its own warm-up. Each cause here is named only when a recorded
figure shows it, and the figure is quoted:
- warm-up not steady: the cell's `warmup` block says it reached warmup.max_seconds still drifting;
- other processes: `other_cpu_percent` of a repeat above the sanity limit (the CPU others used in it);
- the first repeat slower than the rest while the others agree: still warming up after a warm-up that was
  judged steady (a first repeat that is faster is no warm-up: seen here, bert-base on PyTorch eager at
  threads 1, p50 282, 342, 344, 288, 357 ms, was blamed on warm-up before);
- a trend across repeats: every repeat slower (or faster) than the one before (Kendall's tau, p < 0.05);
- every CPU busy: the cell's own threads kept every CPU it may use busy (its `cpu_percent` against the
  machine's `affinity_cpus`), so a parallel operator waits for its slowest thread whenever anything else
  takes a core for a moment. Measured here (2 vCPUs, bert-base on PyTorch eager, 5 repeats of 12 s): p50
  175-219 ms (25% apart) at threads 2, with OMP_PROC_BIND pinning 173-250, against 294-299 (1.7%) at
  threads 1, other processes at most 2% CPU in every window.
With none of these shown, the cause is said to be unmeasured, and the remedy is about the windows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from infermeter.results.stats import OTHER_CPU_LIMIT, UNSTABLE_CV

if TYPE_CHECKING:
    from infermeter.results.record import EngineWindow

TREND_ALPHA = 0.05


@dataclass(frozen=True)
class Cause:
    code: str  # stable name: warmup-not-steady, machine-busy, every-cpu-busy, machine-slower, first-repeat-outlier, drift-across-repeats
    text: str  # what was measured (no ";": the warning's text splits its remedy at the first one)
    remedy: str  # "" when another cause's remedy covers it


def _g(v: float) -> str:
    return f"{v:.3g}"


def causes(records: Sequence[EngineWindow], values: Sequence[float | None], name: str, unit: str) -> list[Cause]:
    """Measured causes of disagreement between `values` of metric `name` (one per record, in repeat order)."""
    order = sorted(range(len(records)), key=lambda i: records[i].repeat)
    records, values = [records[i] for i in order], [values[i] for i in order]
    found: list[Cause] = []
    has_warmup = any(r.warmup is not None for r in records)
    warm = next((r.warmup for r in records if r.warmup is not None and not r.warmup.steady), None)
    if warm is not None:
        drift = ""
        if warm.early_ms is not None and warm.late_ms is not None:
            drift = f", median {_g(warm.early_ms)} -> {_g(warm.late_ms)} ms over its last {warm.window} calls"
        now = f" (now {warm.max_seconds:g})" if warm.max_seconds is not None else ""
        found.append(Cause(
            "warmup-not-steady",
            f"warm-up was not steady after {warm.calls} calls ({warm.seconds:.0f} s{drift})",
            f"raise warmup.max_seconds{now} so that warm-up settles before the first window",
        ))

    others = [(r.repeat, r.metrics.other_cpu_percent) for r in records]
    busy = [(rep, v) for rep, v in others if v is not None and v > OTHER_CPU_LIMIT]
    if busy:
        quiet = [v for _, v in others if v is not None and v <= OTHER_CPU_LIMIT]
        where = ", ".join(f"{v:.0f}% in repeat {rep + 1}" for rep, v in busy)
        rest = f" against at most {max(quiet):.0f}% in the others" if quiet else ""
        found.append(Cause(
            "machine-busy",
            f"other processes used CPU during the windows ({where}{rest}, limit {OTHER_CPU_LIMIT:.0f}%)",
            "close other programs and never run two benchmarks at once, then measure the cell again",
        ))

    saturated = _every_cpu_busy(records)
    if saturated:
        found.append(saturated)

    slower = _machine_speed(records, values, name, unit)
    if slower:
        found.append(slower)
    v = [x for x in values if x is not None]
    if slower is None and len(v) == len(values) and len(v) >= 3:
        first, rest = v[0], np.asarray(v[1:], dtype=np.float64)
        med = float(np.median(rest))
        rest_cv = float(rest.std(ddof=1) / rest.mean()) if rest.size > 1 and rest.mean() else 0.0
        # Warming up makes the first repeat slower (higher latency, less throughput), never faster.
        first_slower = first < med if name == "throughput" else first > med
        if med and first_slower and abs(first - med) / med > UNSTABLE_CV and rest_cv <= UNSTABLE_CV:
            steady = " after a warm-up judged steady" if has_warmup and warm is None else ""
            found.append(Cause(
                "first-repeat-outlier",
                f"repeat 1 gave {name} {_g(first)} {unit} against {_g(float(rest.min()))}-{_g(float(rest.max()))} in the others{steady}, "
                "so the engine was still warming up",
                # After a warm-up that was not steady, this is its consequence, with the remedy said already.
                "" if warm is not None else "raise warmup.seconds (the least warm-up) or warmup.window, so that warm-up sees the slow phase out",
            ))
        elif len(v) >= 4:
            from scipy.stats import kendalltau

            tau, p = kendalltau(np.arange(len(v)), v)
            if p < TREND_ALPHA:
                way = "rose" if tau > 0 else "fell"
                found.append(Cause(
                    "drift-across-repeats",
                    f"{name} {way} from repeat to repeat ({', '.join(_g(x) for x in v)} {unit}, Kendall tau {tau:+.2f})",
                    "watch what changes as the engine runs (the CPU clock, its memory, caches), and add repeats",
                ))
    return found


SATURATED_SHARE = 0.9  # of every allowed CPU's time, in every repeat


def _span(values: Sequence[float]) -> str:
    lo, hi = f"{min(values):.0f}", f"{max(values):.0f}"
    return lo if lo == hi else f"{lo}-{hi}"


def _every_cpu_busy(records: Sequence[EngineWindow]) -> Cause | None:
    machine = next((r.machine for r in records if r.machine), {})
    used = [r.metrics.cpu_percent for r in records]
    if not used or any(u is None for u in used):
        return None
    cpus = machine.get("affinity_cpus") or machine.get("logical_cpus")
    if cpus and max(used) > 105 * cpus:  # type: ignore[type-var]
        # Records written before the worker read the affinity at its start: it was read after OpenMP
        # bound the thread (OMP_PROC_BIND), and the process used more CPUs than it says.
        cpus = machine.get("logical_cpus")
    if not cpus or cpus < 2:
        return None
    if min(used) < SATURATED_SHARE * 100 * cpus:  # type: ignore[operator]
        return None
    return Cause(
        "every-cpu-busy",
        f"the cell's threads kept every CPU busy ({_span(used)}% CPU of {cpus} CPUs), so each parallel "
        "operator waits for its slowest thread whenever the system or another process takes a core for a moment",
        f"measure with fewer threads than CPUs (e.g. threads: {cpus - 1}) for repeatable figures, or add repeats and read medians",
    )


MACHINE_RHO = 0.7  # how closely the repeats must follow the machine's own speed to blame it


def _machine_speed(records: Sequence[EngineWindow], values: Sequence[float | None], name: str, unit: str) -> Cause | None:
    """The machine itself ran at different speeds, and the repeats followed it: the speed probe (a fixed
    computation timed around each window) varied by more than the unstable threshold and its rank order
    matches the metric's (slower probe, slower repeat)."""
    pairs = [(r.metrics.speed_probe_ms, v) for r, v in zip(records, values)]
    pairs = [(p, v) for p, v in pairs if p is not None and v is not None]
    if len(pairs) < 3:
        return None
    probe = np.asarray([p for p, _ in pairs])
    if probe.max() / probe.min() - 1 <= UNSTABLE_CV:
        return None
    from scipy.stats import spearmanr

    rho = float(spearmanr(probe, [v for _, v in pairs]).statistic)
    if name == "throughput":
        rho = -rho  # a slower machine gives less throughput
    if not rho >= MACHINE_RHO:
        return None
    return Cause(
        "machine-slower",
        f"the machine itself changed speed: a fixed reference computation took {_g(probe.min())}-{_g(probe.max())} ms around "
        f"the windows ({probe.max() / probe.min() - 1:.0%} apart) and the repeats' {name} followed it (Spearman {rho:.2f})",
        "this machine's CPU speed varies (a virtual machine sharing its host?): run on dedicated cores or bare metal, "
        "or add repeats and read medians",
    )


def explain(records: Sequence[EngineWindow], values: Sequence[float | None], name: str, unit: str) -> tuple[str, str]:
    """(', cause: ...' to append to the disagreement, remedy) for the warning text."""
    found = causes(records, values, name, unit)
    if not found:
        seen = [r.metrics.other_cpu_percent for r in records if r.metrics.other_cpu_percent is not None]
        quiet = f", other processes used at most {max(seen):.0f}% CPU" if seen else ""
        return (f", cause not measured (warm-up steady{quiet})" if any(r.warmup is not None for r in records)
                else f", cause not measured{quiet}"), "lengthen the windows (measure.min_seconds), pin threads, or add repeats"
    return ", cause: " + " and ".join(c.text for c in found), ", then ".join(c.remedy for c in found if c.remedy)
