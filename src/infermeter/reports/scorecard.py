"""A usability scorecard for the serving frameworks, measured where it can be: the size and install time
of each framework's environment (recorded when it was installed), cold start to ready (from server
records), and the lines of handler code and configuration infermeter had to write to serve a workload on
it (counted in the work directories of a run, without the shared ServingModel code every framework
imports). Features are what each framework documents at the pinned version. The studies' 1-5 scores are
shown beside, as their authors' judgement, for TorchServe, TF Serving and Triton only.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from infermeter.reports.grid import Grid

# The DL-serving study's usability scores (1-5, higher is better): user-friendliness, documentation,
# features, community, maintenance. Its authors' judgement, not a measurement.
STUDY_SCORES = {
    "torchserve": (5, 5, 5, 4, 4),
    "tfserving": (3, 3, 4, 5, 5),
    "triton": (4, 5, 5, 4, 5),
}
STUDY_CRITERIA = ("user-friendliness", "documentation", "features", "community", "maintenance")

_CODE_SUFFIXES = {".py", ".json", ".pbtxt", ".properties", ".yaml", ".yml", ".toml", ".cfg"}
_NOT_WRITTEN_FOR_THE_FRAMEWORK = {"serving.json", "server.log"}  # infermeter's own, the same for every framework


def serving_lines(workdir: Path) -> int:
    """Non-blank, non-comment lines of the handler code and configuration files in a server's work
    directory (model artifacts and logs are not text written to serve, and are skipped)."""
    total = 0
    for f in workdir.rglob("*"):
        if not f.is_file() or f.suffix not in _CODE_SUFFIXES or f.name in _NOT_WRITTEN_FOR_THE_FRAMEWORK:
            continue
        if f.stat().st_size > 200_000:  # an exported model or data, not something written by hand
            continue
        for line in f.read_text(errors="replace").splitlines():
            stripped = line.strip()
            if stripped and not stripped.startswith(("#", "//")):
                total += 1
    return total


def scorecard_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per framework: environment, cold start and serving lines from `records`, and features."""
    from infermeter.servers import envs
    from infermeter.servers.registry import SERVERS

    # Every record of one deployment carries the same deployment block; count each deployment once.
    cold: dict[str, dict[str, float]] = defaultdict(dict)
    lines: dict[str, dict[str, int]] = defaultdict(dict)
    for r in records:
        dep = r.get("deployment") or {}
        log = dep.get("log")
        if r.get("kind") != "server" or not log:
            continue
        name = (r.get("server") or {}).get("name")
        if dep.get("cold_start_s") is not None:
            cold[name][log] = dep["cold_start_s"]
        if log not in lines[name] and Path(log).parent.is_dir():
            lines[name][log] = serving_lines(Path(log).parent)
    rows = []
    for name, cls in SERVERS.items():
        info = envs.env_info(name)
        rows.append({
            "server": name,
            "install_mb": info.get("size_mb"),
            "install_s": info.get("install_s"),
            "cold_start_s": statistics.median(cold[name].values()) if cold[name] else None,
            "serving_lines": statistics.median(lines[name].values()) if lines[name] else None,
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


def scorecard_grid(records: list[dict[str, Any]], only: set[str] | None = None) -> Grid:
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
