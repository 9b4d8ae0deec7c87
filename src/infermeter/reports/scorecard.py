"""A usability scorecard for the serving frameworks, measured where it can be: the size and install time
of each framework's environment (recorded when it was installed), cold start to ready (from server
records), and the lines of handler code and configuration infermeter had to write to serve a workload on
it (counted in the work directories of a run, without the shared ServingModel code every framework
imports). Features are what each framework documents at the pinned version. The studies' 1-5 scores are
shown beside, as their authors' judgement, for TorchServe, TF Serving and Triton only.
"""

from __future__ import annotations

from typing import Any

from infermeter.reports.grid import Grid
from infermeter.results.environment import framework_usage, serving_lines
from infermeter.results.record import AnyRecord

__all__ = ["scorecard_grid", "scorecard_rows", "serving_lines"]

# The DL-serving study's usability scores (1-5, higher is better): user-friendliness, documentation,
# features, community, maintenance. Its authors' judgement, not a measurement.
STUDY_SCORES = {
    "torchserve": (5, 5, 5, 4, 4),
    "tfserving": (3, 3, 4, 5, 5),
    "triton": (4, 5, 5, 4, 5),
}
STUDY_CRITERIA = ("user-friendliness", "documentation", "features", "community", "maintenance")

def scorecard_rows(records: list[AnyRecord]) -> list[dict[str, Any]]:
    """One row per framework: environment, cold start and serving lines from `records`, and features."""
    from infermeter.servers.common import envs
    from infermeter.servers.registry import SERVERS

    usage = framework_usage(records)
    rows = []
    for name, cls in SERVERS.items():
        info = envs.env_info(name)
        used = usage.get(name)
        rows.append({
            "server": name,
            "install_mb": info.get("size_mb"),
            "install_s": info.get("install_s"),
            "cold_start_s": used.cold_start_s if used else None,
            "serving_lines": used.serving_lines if used else None,
            "features": sorted(cls.features),
            "study_scores": STUDY_SCORES.get(name),
        })
    return rows


SCORECARD_NOTE = (
    "env MB / install s: measured when `infermeter servers install` made the environment, beyond the packages it shares "
    "with infermeter's own environment (torch, numpy...; - : not installed here). "
    "cold start: start to ready, median over the deployments in the results. lines to serve: non-blank lines of handler "
    "code and configuration infermeter wrote for the framework, median over deployments (the ServingModel code "
    "all of them share is not counted). Features: as documented at the pinned version. study 1-5: the "
    f"DL-serving study's own scores ({', '.join(STUDY_CRITERIA)}), a judgement, not a measurement."
)


def scorecard_grid(records: list[AnyRecord], only: set[str] | None = None) -> Grid:
    """The scorecard as a table (every framework, or those in `only`)."""
    from infermeter.servers.base import FEATURES

    def num(v: Any, digits: int = 0) -> str:
        return "-" if v is None else f"{v:.{digits}f}"

    g = Grid("serving frameworks: usability scorecard",
             ["server", "env MB", "install s", "cold start s", "lines to serve", *FEATURES, "study 1-5"], caption=SCORECARD_NOTE)
    for r in scorecard_rows(records):
        if only is None or r["server"] in only:
            g.add([r["server"], num(r["install_mb"]), num(r["install_s"]), num(r["cold_start_s"], 1), num(r["serving_lines"]),
                   *("yes" if f in r["features"] else "-" for f in FEATURES),
                   " ".join(map(str, r["study_scores"])) if r["study_scores"] else "-"])
    return g
