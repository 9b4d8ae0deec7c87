"""A study's headline claims as data, and each one's verdict on the records of a run: supported,
contradicted or not decidable here, with the test and the numbers behind it.

A claim says that every target in `better` beats every target in `than` on one metric, for one workload at
one load point. Each (better, than) pair is a one-sided Welch t-test over the repeats' per-window values.
"Supported" needs every pair to be significant in the claim's direction at ALPHA (an intersection-union
test: no correction needed); "contradicted" needs one pair significant the other way at ALPHA divided by the
number of pairs (Bonferroni: any one of several could be so by chance). Anything else is not decidable, and
the verdict says why: a target not measured, one repeat, or a difference within the noise.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from infermeter.results.record import AnyRecord, EngineWindow, NotMeasured, ServerWindow

ALPHA = 0.05
Metric = Literal["throughput", "mean", "p50", "p99"]  # throughput: higher is better; latencies (ms): lower is
Verdict = Literal["supported", "contradicted", "not decidable"]
_TARGET = re.compile(r"^(server|engine):([a-z0-9_-]+)(?:\[([^\]]*)\])?$")


@dataclass(frozen=True)
class Target:
    """`server:NAME` or `engine:NAME`, optionally with settings it must have: `engine:tensorrt[precision=fp16]`."""

    kind: str
    name: str
    settings: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, text: str) -> Target:
        m = _TARGET.match(text.strip())
        if not m:
            raise ValueError(f"target {text!r}: write server:NAME or engine:NAME, optionally with [setting=value,...]")
        pairs = tuple(tuple(p.split("=", 1)) for p in (m.group(3) or "").split(",") if p.strip())
        if any(len(p) != 2 for p in pairs):
            raise ValueError(f"target {text!r}: settings are written setting=value")
        return cls(m.group(1), m.group(2), tuple((k.strip(), v.strip()) for k, v in pairs))  # type: ignore[misc]

    def __str__(self) -> str:
        return self.name + (f"[{','.join(f'{k}={v}' for k, v in self.settings)}]" if self.settings else "")


class Claim(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    text: str  # the finding in infermeter's words (a paraphrase, never the study's sentence)
    item: str = ""  # where the study shows it, e.g. "Table 5"
    metric: Metric
    workload: str
    better: list[str]
    than: list[str]
    users: int | None = None  # server load points: closed loop at this many users
    batch_size: int | None = None  # engine cells: at this batch size

    @field_validator("better", "than")
    @classmethod
    def _targets(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("name at least one target")
        for t in v:
            Target.parse(t)
        return v

    @model_validator(mode="after")
    def _point(self) -> Claim:
        kinds = {Target.parse(t).kind for t in [*self.better, *self.than]}
        if "server" in kinds and self.users is None:
            raise ValueError(f"claim {self.id}: a claim on servers names its users")
        if "engine" in kinds and self.batch_size is None:
            raise ValueError(f"claim {self.id}: a claim on engines names its batch_size")
        return self

    @property
    def higher_is_better(self) -> bool:
        return self.metric == "throughput"

    def point(self) -> str:
        return ", ".join(x for x in (f"{self.users} users" if self.users is not None else "",
                                     f"batch {self.batch_size}" if self.batch_size is not None else "") if x)


@dataclass
class PairTest:
    better: str
    than: str
    a: list[float]
    b: list[float]
    p_better: float | None = None  # one-sided p that `better` beats `than`
    p_worse: float | None = None  # ... that it is beaten


@dataclass
class ClaimVerdict:
    claim: Claim
    verdict: Verdict
    reason: str
    pairs: list[PairTest] = field(default_factory=list)


def _matches(r: AnyRecord, t: Target, claim: Claim) -> bool:
    if r.superseded or str(r.cell.get("workload")) != claim.workload:
        return False
    if t.kind == "server":
        if not isinstance(r, (ServerWindow, NotMeasured)) or r.cell.get("server") != t.name or r.cell.get("users") != claim.users:
            return False
        settings = r.cell.get("server_settings") or {}
    else:
        if not isinstance(r, (EngineWindow, NotMeasured)) or r.cell.get("engine") != t.name or r.cell.get("batch_size") != claim.batch_size:
            return False
        settings = r.cell.get("engine_settings") or {}
    return all(str(settings.get(k)) == v for k, v in t.settings)


def _value(r: ServerWindow | EngineWindow, metric: Metric) -> float | None:
    m = r.metrics
    if m is None:
        return None
    if metric == "throughput":
        return m.throughput_rps if isinstance(r, ServerWindow) else m.samples_per_s  # type: ignore[union-attr]
    return m.latency_ms.get(metric)


def values_of(records: list[AnyRecord], target: str, claim: Claim) -> tuple[list[float], str | None]:
    """The per-window figures of `target` at the claim's point, or why there are none."""
    t = Target.parse(target)
    mine = [r for r in records if _matches(r, t, claim)]
    ok = [v for r in mine if isinstance(r, (ServerWindow, EngineWindow)) and r.status == "ok" and (v := _value(r, claim.metric)) is not None]
    if ok:
        return ok, None
    why = next((r.error for r in mine if r.error), None)
    return [], f"{t} was not measured at {claim.point()}" + (f" ({why})" if why else " in this run")


def _welch(a: list[float], b: list[float], alternative: str) -> float:
    from scipy import stats

    if len(set(a)) == 1 and len(set(b)) == 1:  # no spread at all: t is undefined; the order is then certain
        return 0.0 if (a[0] > b[0] if alternative == "greater" else a[0] < b[0]) else 1.0
    return float(stats.ttest_ind(a, b, equal_var=False, alternative=alternative).pvalue)


def check(claim: Claim, records: list[AnyRecord]) -> ClaimVerdict:
    found = {t: values_of(records, t, claim) for t in dict.fromkeys([*claim.better, *claim.than])}  # each target once
    missing = list(dict.fromkeys(why for _, why in found.values() if why))
    pairs = [PairTest(better, than, found[better][0], found[than][0]) for better in claim.better for than in claim.than]
    few = [p for p in pairs if p.a and p.b and min(len(p.a), len(p.b)) < 2]
    up, down = ("greater", "less") if claim.higher_is_better else ("less", "greater")
    for p in pairs:
        if len(p.a) >= 2 and len(p.b) >= 2:
            p.p_better, p.p_worse = _welch(p.a, p.b, up), _welch(p.a, p.b, down)
    tested = [p for p in pairs if p.p_better is not None and p.p_worse is not None]
    against = [p for p in tested if p.p_worse < ALPHA / len(pairs)]  # type: ignore[operator]
    if against:
        return ClaimVerdict(claim, "contradicted", "; ".join(f"{p.than} beat {p.better} (p={p.p_worse:.2g})" for p in against), pairs)
    if missing:
        return ClaimVerdict(claim, "not decidable", "; ".join(missing), pairs)
    if few:
        return ClaimVerdict(claim, "not decidable", "one repeat: no test without a spread (run with more repeats)", pairs)
    weak = [p for p in tested if not p.p_better < ALPHA]  # type: ignore[operator]
    if weak:
        return ClaimVerdict(claim, "not decidable", "; ".join(f"{p.better} vs {p.than}: the difference is within the noise "
                                                             f"(p={p.p_better:.2g})" for p in weak), pairs)
    return ClaimVerdict(claim, "supported", f"every pair significant at p<{ALPHA:g}", pairs)


def evidence(v: ClaimVerdict) -> str:
    """The numbers behind a verdict: each pair's means, repeats and p."""
    unit = "req/s" if v.claim.metric == "throughput" and any(Target.parse(t).kind == "server" for t in v.claim.better) else (
        "samples/s" if v.claim.metric == "throughput" else f"ms ({v.claim.metric})")
    parts = []
    for p in v.pairs:
        if not (p.a and p.b):
            continue
        mean_a, mean_b = sum(p.a) / len(p.a), sum(p.b) / len(p.b)
        p_text = f", p={p.p_better:.2g}" if p.p_better is not None and not math.isnan(p.p_better) else ""
        parts.append(f"{p.better} {mean_a:.4g} (n={len(p.a)}) vs {p.than} {mean_b:.4g} (n={len(p.b)}) {unit}{p_text}")
    return "; ".join(parts) or "-"
