"""What a tuning study optimises, from each trial's capacity search (an open-loop search under the SLO):

- throughput: the capacity (arrivals per second served within the SLO), maximised; 0 when no rate meets it.
- p99: the SLO's percentile one request at a time (the unloaded window), minimised, among the settings
  whose capacity reaches --traffic (any capacity when no traffic is given).
- cost: the price of the cores the setting reserves per million requests at its capacity, minimised:
  cores x price per core-hour / (capacity x 3600) x 1e6. Without a price the unit is core-hours per million
  requests. It differs from throughput where a setting reserves fewer cores for a little less capacity.

Each objective also gives the best value a search still running can reach (`bound`), from the lowest rate
so far that missed the SLO: the pruner ends a trial whose best reachable value cannot beat the best trial.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from infermeter.results.record import CapacityResult, TuningTrial

ObjectiveName = Literal["throughput", "p99", "cost"]


@dataclass(frozen=True)
class Objective:
    name: ObjectiveName
    traffic: float | None = None  # p99: the rate a setting must serve within the SLO to count
    price_per_core_hour: float | None = None  # cost: None reads as 1 core-hour

    @property
    def direction(self) -> Literal["maximize", "minimize"]:
        return "maximize" if self.name == "throughput" else "minimize"

    @property
    def unit(self) -> str:
        if self.name == "throughput":
            return "requests/s within the SLO"
        if self.name == "p99":
            return "ms at the SLO's percentile, unloaded"
        return "per million requests" if self.price_per_core_hour is not None else "core-hours per million requests"

    def cost(self, cores: float, capacity: float | None) -> float:
        if not capacity:
            return math.inf
        return cores * (self.price_per_core_hour or 1.0) / (capacity * 3600) * 1e6

    def value(self, result: CapacityResult, cores: float) -> float:
        """The trial's value (math.inf for a minimised objective the setting cannot meet)."""
        if self.name == "throughput":
            return result.capacity or 0.0
        if self.name == "cost":
            return self.cost(cores, result.capacity)
        feasible = result.capacity is not None and (self.traffic is None or result.capacity >= self.traffic)
        return result.unloaded_ms if feasible and result.unloaded_ms is not None else math.inf

    def bound(self, missed: float, cores: float) -> float | None:
        """The best value still reachable once a rate `missed` the SLO (the capacity is below it); None: no
        bound (p99, while the traffic asked for is still below the missed rate)."""
        if self.name == "throughput":
            return missed
        if self.name == "cost":
            return self.cost(cores, missed)
        return math.inf if self.traffic is not None and missed <= self.traffic else None

    def better(self, a: float, b: float) -> bool:
        return a > b if self.direction == "maximize" else a < b


def objective_of(trial: TuningTrial) -> Objective:
    return Objective(trial.objective, trial.traffic, trial.price_per_core_hour)


def best_trial(trials: list[CapacityResult], objective: Objective) -> CapacityResult | None:
    """The measured trial (not pruned, not failed) with the best value that met the SLO at some rate; of
    equal values, the one reserving fewer cores."""
    ranked = [(objective.value(r, r.tuning.cores), r.tuning.cores, r) for r in trials
              if r.tuning is not None and r.status == "ok" and r.stopped != "pruned" and r.capacity]
    ranked = [x for x in ranked if math.isfinite(x[0])]
    if not ranked:
        return None
    sign = -1.0 if objective.direction == "maximize" else 1.0
    return min(ranked, key=lambda x: (sign * x[0], x[1]))[2]
