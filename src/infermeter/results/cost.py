"""What serving costs: a machine's price per hour spread over the requests it answered.

cost per million requests = price per hour / (successful requests per second x 3600) x 1e6, at the
throughput measured in that window. It is the cost of the machine kept busy at that load point, so it
favours load points near saturation; the ranking uses each framework's cheapest load point.
"""

from __future__ import annotations

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


def cost_ranking(rows: list[LoadCellSummary]) -> list[str]:
    """Per workload, servers from cheapest to dearest per million requests (each at its cheapest load point),
    from the server cells' summaries (the mean over repeats of each load point's cost)."""
    best: dict[str, dict[str, tuple[float, str, str]]] = {}
    for r in rows:
        cost = r.cost_per_million
        if not r.measured or cost.n == 0 or r.server is None:
            continue
        point = f"{r.users} users" if r.users else f"{r.rate}/s"
        entry = best.setdefault(str(r.workload), {})
        if r.server not in entry or cost.mean < entry[r.server][0]:
            entry[r.server] = (cost.mean, r.currency or "", point)
    lines = []
    for workload, servers in best.items():
        ranked = sorted(servers.items(), key=lambda kv: kv[1][0])
        parts = [f"{i + 1}. {name} {c:.4f} {cur} ({point})" for i, (name, (c, cur, point)) in enumerate(ranked)]
        lines.append(f"cost per million requests, {workload}: " + "; ".join(parts))
    return lines
