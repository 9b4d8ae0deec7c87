"""What serving costs: a machine's price per hour spread over the requests it answered.

cost per million requests = price per hour / (successful requests per second x 3600) x 1e6, at the
throughput measured in that window. It is the cost of the machine kept busy at that load point, so it
favours load points near saturation; the ranking uses each framework's cheapest load point.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from infermeter.results.summary import LoadCellSummary


def per_million_requests(price_per_hour: float, throughput_rps: float | None) -> float | None:
    if not throughput_rps or throughput_rps <= 0:
        return None
    return price_per_hour / (throughput_rps * 3600) * 1e6


def cost_record(price_per_hour: float | None, currency: str, throughput_rps: float | None) -> dict[str, Any] | None:
    if price_per_hour is None:
        return None
    return {"price_per_hour": price_per_hour, "currency": currency,
            "per_million_requests": per_million_requests(price_per_hour, throughput_rps)}


@dataclass(frozen=True)
class CheapestPoint:
    server: str
    per_million: float  # mean over repeats at this load point
    currency: str
    point: str  # "10 users" or "5.0/s"


def cheapest_points(rows: list[LoadCellSummary]) -> dict[str, list[CheapestPoint]]:
    """Per workload, each server at its cheapest load point per million requests, cheapest first (from the
    server cells' summaries: the mean over repeats of each load point's cost)."""
    best: dict[str, dict[str, CheapestPoint]] = {}
    for r in rows:
        cost = r.cost_per_million
        if not r.measured or cost.n == 0 or r.server is None:
            continue
        point = f"{r.users} users" if r.users else f"{r.rate}/s"
        entry = best.setdefault(str(r.workload), {})
        if r.server not in entry or cost.mean < entry[r.server].per_million:
            entry[r.server] = CheapestPoint(r.server, cost.mean, r.currency or "", point)
    return {w: sorted(servers.values(), key=lambda c: c.per_million) for w, servers in best.items()}


def cost_ranking(rows: list[LoadCellSummary]) -> list[str]:
    """Per workload, one line: servers from cheapest to dearest per million requests, each at its cheapest load point."""
    return [f"cost per million requests, {workload}: "
            + "; ".join(f"{i + 1}. {c.server} {c.per_million:.4f} {c.currency} ({c.point})" for i, c in enumerate(ranked))
            for workload, ranked in cheapest_points(rows).items()]
