"""Service-level objectives: a latency bound every window is judged against, its goodput, and a verdict
with a stated confidence.

An SLO is written as comma-separated bounds (spaces and case do not matter):
- one latency bound: `p99<=100ms`, `p50 <= 20 ms`, `p99.9<=1s`, `max<=250us` (every request); units us, ms, s;
- optionally a failure-rate bound: `errors<=1%` (`failures<=1%` too);
- optionally the confidence of the verdict: `confidence=95%` (default 99%).
e.g. `p99<=100ms,errors<=0.5%,confidence=95%`. A suite's `slo:` takes the same string (or the fields of
`SLO`), and `infermeter load --slo` too.

What a window is judged on (`assess`): its n requests (completed, and those of an open-loop schedule never
answered by the window's end), of which `good` completed OK within the latency bound (from the window's
HdrHistogram: histogram.count_at_or_below) and `failed` failed or were never answered. Goodput is
good / window_s: requests per second that met the latency bound. Failures count once:
- without a failure-rate bound, a request that failed or was never answered did not meet the latency
  bound either: the latency bound is tested on all n requests, k = n - good of them past it;
- with one, the failures are judged by it (k = failed of n), and the latency bound on the requests
  answered OK (k = ok - good of ok), so `p99<=100ms,errors<=1%` means what it says.

The verdict is MLPerf LoadGen's early-stopping rule, as a pair of one-sided binomial tests. For pQ <= B,
each request is over B (or failed) with some unknown probability e, and the SLO says e <= 1 - Q:
- pass: P(at most k of n over | e = 1 - Q) <= 1 - confidence, i.e. the Clopper-Pearson upper bound on e
  is at most 1 - Q (for k = 0: n >= log(1 - c) / log(Q), e.g. 459 requests for p99 at 99%);
- fail: P(at least k of n over | e = 1 - Q) < 1 - confidence, i.e. the lower bound on e is above 1 - Q;
- too few samples: neither, and n is below what even k = 0 would need: the window could never have
  passed (the check says how many requests would be needed); never a pass;
- not proven: neither, with enough requests.
A failure-rate bound is tested the same way on `failed`. With two bounds each is tested at
1 - (1 - confidence) / 2 (Bonferroni), so the verdict as a whole holds at the stated confidence. A bound
that allows nothing past it (`max`, `errors<=0%`) is no statistical claim: it passes when none of the
window's requests went past it, and fails otherwise.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from infermeter.errors import ConfigError
from infermeter.results import histogram
from infermeter.results.record import EngineMetrics, LoadMetrics, SloCheck, SloResult, SloVerdict

DEFAULT_CONFIDENCE = 0.99
HIGHEST_MS = histogram.HIGHEST_US / 1000.0  # the latency histograms' range: a bound beyond it cannot be counted
EXAMPLE = "p99<=100ms (a percentile or max, <=, a time with its unit), optionally with ,errors<=1% and ,confidence=95%"
HINT = "e.g. --slo 'p99<=100ms', 'max<=250ms' or 'p99.9<=1s,errors<=0.5%,confidence=95%'"

_UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}
_NUMBER = r"(\d+(?:\.\d*)?|\.\d+)"
_LATENCY = re.compile(rf"(?:p{_NUMBER}|max)<={_NUMBER}([a-z]*)")
_ERRORS = re.compile(rf"(?:errors|failures)<={_NUMBER}(%?)")
_CONFIDENCE = re.compile(rf"confidence={_NUMBER}(%?)")


class SLO(BaseModel):
    """A latency bound (a percentile, or every request), an optional failure-rate bound, and the confidence
    of the verdict. Built from its text (`parse_slo`, or a string wherever an SLO is validated)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    percentile: float | None = Field(None, gt=0, lt=100, description="pQ: this share of requests within the bound; None: every request (max)")
    bound_ms: float = Field(gt=0, le=HIGHEST_MS, description="the latency bound, ms")
    max_failure_rate: float | None = Field(None, ge=0, lt=1, description="failed requests allowed, as a fraction")
    confidence: float = Field(DEFAULT_CONFIDENCE, ge=0.5, lt=1, description="of the verdict")

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, v: Any) -> Any:
        return _fields(v) if isinstance(v, str) else v

    @property
    def latency_text(self) -> str:
        return f"{'max' if self.percentile is None else f'p{self.percentile:.12g}'}<={_time_text(self.bound_ms)}"

    @property
    def errors_text(self) -> str | None:
        return None if self.max_failure_rate is None else f"errors<={100 * self.max_failure_rate:.12g}%"

    @property
    def text(self) -> str:
        """The canonical spelling; parse_slo(slo.text) == slo."""
        parts = [self.latency_text]
        if self.errors_text:
            parts.append(self.errors_text)
        if self.confidence != DEFAULT_CONFIDENCE:
            parts.append(f"confidence={100 * self.confidence:.12g}%")
        return ",".join(parts)

    def __str__(self) -> str:
        return self.text


def _time_text(ms: float) -> str:
    """A bound in the unit it reads best in: 250us, 100ms, 1.5s."""
    if ms >= 1000:
        return f"{ms / 1000:.12g}s"
    return f"{ms * 1000:.12g}us" if ms < 1 else f"{ms:.12g}ms"


def _fields(text: str) -> dict[str, Any]:
    """SLO fields from its text; ValueError saying what is wrong and how it is written."""
    squeezed = re.sub(r"\s+", "", text).lower().replace("≤", "<=").replace("\u00b5", "u").replace("\u03bc", "u")  # µs
    if not squeezed:
        raise ValueError(f"the SLO is empty; write it as {EXAMPLE}")
    out: dict[str, Any] = {}
    for clause in squeezed.split(","):
        if not clause:
            raise ValueError(f"{text!r} has an empty clause between commas; write it as {EXAMPLE}")
        if m := _LATENCY.fullmatch(clause):
            if "bound_ms" in out:
                raise ValueError(f"{text!r} has two latency bounds; an SLO has one (e.g. p99<=100ms)")
            if not m.group(3):
                raise ValueError(f"{clause!r} has no unit; give the bound with us, ms or s (e.g. p99<=100ms)")
            if m.group(3) not in _UNITS_MS:
                raise ValueError(f"{clause!r}: unknown unit {m.group(3)!r}; give the bound with us, ms or s (e.g. p99<=100ms)")
            q = None if m.group(1) is None else float(m.group(1))
            if q is not None and not 0 < q <= 100:
                raise ValueError(f"{clause!r}: the percentile must be above 0 and at most 100 (p50, p99, p99.9; max for every request)")
            out["percentile"] = None if q == 100 else q
            out["bound_ms"] = float(m.group(2)) * _UNITS_MS[m.group(3)]
            if not 0 < out["bound_ms"] <= HIGHEST_MS:
                raise ValueError(f"{clause!r}: the bound must be above 0 and at most {HIGHEST_MS / 1000:.0f} s (the latency histograms' range)")
        elif m := _ERRORS.fullmatch(clause):
            if not m.group(2):
                raise ValueError(f"{clause!r}: write the failure-rate bound as a percentage, e.g. errors<=1%")
            if float(m.group(1)) >= 100:
                raise ValueError(f"{clause!r}: the failure-rate bound must be below 100%")
            out["max_failure_rate"] = float(m.group(1)) / 100
        elif m := _CONFIDENCE.fullmatch(clause):
            if not m.group(2):
                raise ValueError(f"{clause!r}: write the confidence as a percentage, e.g. confidence=95%")
            c = float(m.group(1)) / 100
            if not 0.5 <= c < 1:
                raise ValueError(f"{clause!r}: the confidence must be at least 50% and below 100%")
            out["confidence"] = c
        elif re.fullmatch(r"(?:p[\d.]+|max|errors|failures)(?:<|=|>=|>|==)[^<=>].*", clause):
            raise ValueError(f"{clause!r}: a bound is written with <= (met at or below it), e.g. p99<=100ms")
        else:
            raise ValueError(f"{clause!r} is not a bound; write the SLO as {EXAMPLE}")
    if "bound_ms" not in out:
        raise ValueError(f"{text!r} has no latency bound; write the SLO as {EXAMPLE}")
    return out


def parse_slo(text: str, source: str = "--slo") -> SLO:
    """The SLO written in `text`, or a ConfigError naming `source` (a flag, a suite) with the remedy."""
    try:
        return SLO.model_validate(text)
    except ValidationError as exc:
        msg = "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
        raise ConfigError(f"{source}: {msg}", HINT) from None


# -- the binomial verdict -----------------------------------------------------------------------------------

def _passes(n: int, over: int, allowed: float, confidence: float) -> bool:
    from scipy.stats import binom  # here, not at import: scipy.stats costs a noticeable fraction of a second

    return bool(binom.cdf(over, n, allowed) <= 1 - confidence)


def min_requests(allowed: float, confidence: float, over: int = 0) -> int | None:
    """The fewest requests with which `over` of them past a bound allowing the fraction `allowed` would
    pass at `confidence` (over = 0: MLPerf LoadGen's minimum query count, e.g. 459 for p99 at 99%). None
    where no number would: `allowed` is 0 (nothing past the bound is allowed at all)."""
    if allowed <= 0:
        return None
    n = max(over + 1, math.ceil(math.log(1 - confidence) / math.log1p(-allowed)))  # exact for over = 0
    while n > over + 1 and _passes(n - 1, over, allowed, confidence):  # the closed form's rounding
        n -= 1
    if _passes(n, over, allowed, confidence):
        return n
    lo, hi = n, 2 * n
    while not _passes(hi, over, allowed, confidence):  # P(X <= over) falls as n grows: bracket, then bisect
        lo, hi = hi, 2 * hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if _passes(mid, over, allowed, confidence) else (mid, hi)
    return hi


def check(bound: str, requests: int, over: int, allowed: float, confidence: float) -> SloCheck:
    """One bound on one window: `over` of `requests` went past a bound that allows the fraction `allowed`
    past it, tested at `confidence` (the module's docstring has the rule)."""
    from scipy.stats import beta, binom

    if not 0 <= over <= requests:
        raise ValueError(f"{over} requests over the bound out of {requests}")
    if allowed <= 0:  # nothing may go past it: a fact about these requests, not an estimate
        verdict: SloVerdict = "too few samples" if requests == 0 else ("pass" if over == 0 else "fail")
        return SloCheck(bound=bound, allowed=0.0, requests=requests, over=over, verdict=verdict, needed=1 if over == 0 else None)
    needed = min_requests(allowed, confidence, over)
    if requests == 0:
        return SloCheck(bound=bound, allowed=allowed, requests=0, over=0, confidence=confidence, verdict="too few samples", needed=needed)
    upper = 1.0 if over >= requests else float(beta.ppf(confidence, over + 1, requests - over))
    lower = 0.0 if over == 0 else float(beta.ppf(1 - confidence, over, requests - over + 1))
    if _passes(requests, over, allowed, confidence):
        verdict = "pass"
    elif over > 0 and binom.sf(over - 1, requests, allowed) < 1 - confidence:  # P(at least `over` past it)
        verdict = "fail"
    elif requests < (min_requests(allowed, confidence) or 0):
        verdict = "too few samples"
    else:
        verdict = "not proven"
    return SloCheck(bound=bound, allowed=allowed, requests=requests, over=over, upper=upper, lower=lower, confidence=confidence,
                    verdict=verdict, needed=needed)


def combine(checks: Sequence[SloCheck]) -> SloVerdict:
    """The SLO's verdict from its bounds': any failed fails it; it passes when every bound passes; else too
    few samples where a bound could not be proven with so few requests; else not proven."""
    verdicts = {c.verdict for c in checks}
    if "fail" in verdicts:
        return "fail"
    if verdicts == {"pass"}:
        return "pass"
    return "too few samples" if "too few samples" in verdicts else "not proven"


def judge(slo: SLO, *, requests: int, good: int, failed: int, window_s: float | None,
          bound_used_ms: float | None = None) -> SloResult:
    """The verdict and goodput of a window (or of windows pooled) from its counts: `requests` judged, `good`
    of them OK within the latency bound, `failed` failed or never answered, over `window_s` seconds."""
    if not 0 <= good <= requests or not 0 <= failed <= requests:
        raise ValueError(f"counts do not fit: {good} good and {failed} failed of {requests} requests")
    if good > requests - failed:
        raise ValueError(f"{good} good requests, but only {requests - failed} of {requests} answered OK")
    statistical = [a for a in (_latency_allowed(slo), slo.max_failure_rate) if a]  # bounds that allow something past them
    each = 1 - (1 - slo.confidence) / max(1, len(statistical))  # Bonferroni: the verdict holds at slo.confidence
    # The failures are the failure-rate bound's where there is one, else they miss the latency bound too.
    judged = requests - failed if slo.max_failure_rate is not None else requests
    checks = [check(slo.latency_text, judged, judged - good, _latency_allowed(slo), each)]
    if slo.max_failure_rate is not None:
        checks.append(check(str(slo.errors_text), requests, failed, slo.max_failure_rate, each))
    length = window_s if window_s is not None and math.isfinite(window_s) and window_s > 0 else None  # nan: nothing completed
    return SloResult(
        slo=slo.text, confidence=slo.confidence, verdict=combine(checks), requests=requests, good=good, over=judged - good,
        failed=failed, goodput_rps=good / length if length else None, bound_ms=slo.bound_ms,
        bound_used_ms=slo.bound_ms if bound_used_ms is None else bound_used_ms, window_s=length, checks=checks,
    )


def _latency_allowed(slo: SLO) -> float:
    return 0.0 if slo.percentile is None else round((100 - slo.percentile) / 100, 12)  # 0.01 for p99, not 0.010000000000000009


# -- windows ------------------------------------------------------------------------------------------------

def bound_us(slo: SLO) -> int:
    """The latency bound in the histograms' unit (whole microseconds; the float's last bit forgiven)."""
    return math.floor(slo.bound_ms * 1000 + 1e-6)


def assess(slo: SLO | None, metrics: EngineMetrics | LoadMetrics | None) -> SloResult | None:
    """A measured window against `slo`: None without an SLO or without metrics (a window whose generator
    died). Load windows (endpoint and server): the latency histogram holds every completed request, so the
    failed ones' own histogram is taken out of the count within the bound (a record without it counts its
    failures as within the bound, the conservative side); never-answered requests of an open-loop schedule
    count as failed. Engine windows: the histogram holds the OK calls; a failing call ended the window; an open
    loop's unsent arrivals count as failed, as on the load side."""
    if slo is None or metrics is None:
        return None
    limit = bound_us(slo)
    within, edge = histogram.count_at_or_below(histogram.decode(metrics.latency_hdr), limit) if metrics.latency_hdr else (0, limit)
    if isinstance(metrics, LoadMetrics):
        if metrics.failure_latency_hdr:
            failed_within = histogram.count_at_or_below(histogram.decode(metrics.failure_latency_hdr), limit)[0]
        else:
            failed_within = min(within, metrics.failures)
        good = within - failed_within
        requests = metrics.requests + metrics.unsent
        failed = metrics.failures + metrics.unsent
    else:  # an engine's open loop: arrivals never started by the window's end are failed requests too
        unsent = metrics.unsent or 0
        good, requests, failed = within, metrics.requests + metrics.failures + unsent, metrics.failures + unsent
    return judge(slo, requests=requests, good=good, failed=failed, window_s=metrics.window_s, bound_used_ms=edge / 1000.0)


def pool(results: Sequence[SloResult]) -> SloResult | None:
    """Windows judged against one SLO, taken together: their counts and lengths added, judged again (more
    requests: a firmer verdict). Only those against the last one's SLO count; None when there is none."""
    if not results:
        return None
    same = [r for r in results if r.slo == results[-1].slo]
    lengths = [r.window_s for r in same]
    return judge(parse_slo(same[-1].slo, "a record's slo"), requests=sum(r.requests for r in same), good=sum(r.good for r in same),
                 failed=sum(r.failed for r in same), window_s=sum(lengths) if all(lengths) else None,  # type: ignore[arg-type]
                 bound_used_ms=min(r.bound_used_ms for r in same))
