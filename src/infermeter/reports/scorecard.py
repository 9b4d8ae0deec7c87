"""A usability scorecard for the serving frameworks, measured where it can be: the size and install time
of each framework's environment (recorded when it was installed), cold start to ready (from server
records), and the lines of handler code and configuration infermeter had to write to serve a workload on
it (counted in the work directories of a run, without the shared ServingModel code every framework
imports). Beside them, the facts a reader needs: the version measured (or pinned, where none was), the
licence and the maintenance status with the date they were checked. Features are what each framework
documents at the pinned version. The DL-serving study's 1-5 scores (its authors' judgement, TorchServe, TF
Serving and Triton only) and the user's own (a suite's `usability.scores`) are shown as judgements.
"""

from __future__ import annotations

from typing import Any

from infermeter.reports.grid import Grid
from infermeter.results.environment import USABILITY_CRITERIA, deployments, framework_usage, serving_lines, user_scores
from infermeter.results.record import AnyRecord

__all__ = ["facts_grid", "scorecard_grid", "scorecard_grids", "scorecard_rows", "serving_lines"]

# The DL-serving study's usability scores (1-5, higher is better): user-friendliness, documentation,
# features, community, maintenance. Its authors' judgement, not a measurement.
STUDY_SCORES = {
    "torchserve": (5, 5, 5, 4, 4),
    "tfserving": (3, 3, 4, 5, 5),
    "triton": (4, 5, 5, 4, 5),
}

def scorecard_rows(records: list[AnyRecord]) -> list[dict[str, Any]]:
    """One row per framework: environment, cold start and serving lines from `records`, and features."""
    from infermeter.servers.common import envs
    from infermeter.servers.registry import SERVERS

    usage = framework_usage(records)
    measured = {d.server: v for d in deployments(records) if (v := _framework_version(d.version))}
    yours = user_scores(records)
    rows = []
    for name, cls in SERVERS.items():
        info = envs.env_info(name)
        used = usage.get(name)
        rows.append({
            "server": name,
            "version": measured[name] if name in measured else _pinned(cls.requirements),
            "licence": cls.licence,
            "maintenance": cls.maintenance,
            "released": cls.released,
            "gpu_placement": cls.gpu_placement,
            "artifact_format": cls.artifact_format,
            "protocol": cls.protocol,
            "install_mb": info.get("size_mb"),
            "install_s": info.get("install_s"),
            "cold_start_s": used.cold_start_s if used else None,
            "serving_lines": used.serving_lines if used else None,
            "features": sorted(cls.features),
            "study_scores": STUDY_SCORES.get(name),
            "user_scores": _in_order(yours[name]) if name in yours else None,
        })
    return rows


def _framework_version(pins: str | None) -> str | None:
    """The framework's own pin of an environment's requirements ("torchserve==0.12.0, pyyaml" -> "torchserve
    0.12.0"), its package named: Triton's is PyTriton's, which bundles the server."""
    package, _, version = (pins or "").split(",")[0].strip().partition("==")
    return f"{package} {version}" if version else None


def _in_order(scores: dict[str, int]) -> tuple[int | str, ...]:
    return tuple(scores[c] if c in scores else "-" for c in USABILITY_CRITERIA)


def _pinned(requirements: list[str]) -> str | None:
    v = _framework_version(requirements[0] if requirements else None)
    return f"{v} (pin)" if v else None


SCORECARD_NOTE = (
    "env MB / install s: measured when `infermeter servers install` made the environment, beyond the packages it shares "
    "with infermeter's own environment (torch, numpy...; - : not installed here). "
    "cold start: start to ready, median over the deployments in the results. lines to serve: non-blank lines of handler "
    "code and configuration infermeter wrote for the framework, median over deployments (the ServingModel code "
    "all of them share is not counted). Features: as documented at the pinned version. study 1-5: the DL-serving study's "
    f"own scores; yours 1-5: the suite's usability.scores ({', '.join(USABILITY_CRITERIA)}; -: not scored). Both are "
    "judgements, not measurements."
)
_FACTS_NOTE = ("version: the one measured in these results; '(pin)' where none was, the environment's pin (TF Serving: your "
               "binary's). licence: as the framework's package declares it. model format: what infermeter packages for it (the "
               "framework may take others). released: the pinned version's date on PyPI. on a GPU: how the framework places its "
               "workers on the server's GPU (settings device and precision). Licence, maintenance and release date checked {checked}.")


def scorecard_grids(records: list[AnyRecord], only: set[str] | None = None) -> list[Grid]:
    """The scorecard and the facts table, from one pass over the records and work directories."""
    rows = scorecard_rows(records)
    return [_scorecard(rows, only), _facts(rows, only)]


def scorecard_grid(records: list[AnyRecord], only: set[str] | None = None) -> Grid:
    """The scorecard as a table (every framework, or those in `only`)."""
    return _scorecard(scorecard_rows(records), only)


def facts_grid(records: list[AnyRecord], only: set[str] | None = None) -> Grid:
    """What a reader needs to know of each framework beside its figures: version, licence, maintenance."""
    return _facts(scorecard_rows(records), only)


def _scorecard(rows: list[dict[str, Any]], only: set[str] | None) -> Grid:
    from infermeter.servers.base import FEATURES

    def num(v: Any, digits: int = 0) -> str:
        return "-" if v is None else f"{v:.{digits}f}"

    g = Grid("serving frameworks: usability scorecard",
             ["server", "env MB", "install s", "cold start s", "lines to serve", *FEATURES, "study 1-5", "yours 1-5"],
             caption=SCORECARD_NOTE)
    for r in rows:
        if only is None or r["server"] in only:
            g.add([r["server"], num(r["install_mb"]), num(r["install_s"]), num(r["cold_start_s"], 1), num(r["serving_lines"]),
                   *("yes" if f in r["features"] else "-" for f in FEATURES),
                   *(" ".join(map(str, t)) if t else "-" for t in (r["study_scores"], r["user_scores"]))])
    return g


def _facts(rows: list[dict[str, Any]], only: set[str] | None) -> Grid:
    from infermeter.servers.base import FRAMEWORK_FACTS_CHECKED

    g = Grid("serving frameworks: version, licence, maintenance, what they serve", ["server", "version", "released", "licence",
             "maintenance", "on a GPU", "model format served here", "protocol"],
             caption=_FACTS_NOTE.replace("{checked}", FRAMEWORK_FACTS_CHECKED), left=8)
    for r in rows:
        if only is None or r["server"] in only:
            g.add([r["server"], r["version"] or "-", r["released"], r["licence"], r["maintenance"], r["gpu_placement"],
                   r["artifact_format"], r["protocol"]])
    return g
