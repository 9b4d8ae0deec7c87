"""`infermeter report`: report.html, report.md and figures/*.png from one or more results directories."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from infermeter.reports.content import build_report, suites_of
from infermeter.reports.html import render_html
from infermeter.reports.markdown import render_markdown
from infermeter.results.frame import read_under

FIGURE_DIR = "figures"
FIGURE_PREFIXES = ("throughput-vs-", "latency-", "memory-vs-", "energy-vs-", "startup-")


@dataclass
class ReportFiles:
    html: Path
    markdown: Path
    figures: list[Path]
    warnings: int
    not_drawn: list[str]


def _write_text(path: Path, text: str) -> None:
    """Whole or not at all: a report is replaced only once its successor is complete."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_report(paths: list[Path], out: Path, title: str | None = None) -> ReportFiles:
    from infermeter.reports.png import write_png

    records = read_under(paths)
    suites = suites_of(sorted({str(r.source) for r in records}))
    names = [json.loads(text).get("name") for text in suites.values() if text.startswith("{")]
    report = build_report(records, suites, title or f"infermeter report: {', '.join(n for n in names if n) or paths[0].resolve().name}")
    out.mkdir(parents=True, exist_ok=True)
    fig_dir = out / FIGURE_DIR
    fig_dir.mkdir(exist_ok=True)
    for stale in fig_dir.glob("*.png"):  # an earlier report's figures that this one no longer has
        if stale.name.startswith(FIGURE_PREFIXES):
            stale.unlink()
    pngs = [write_png(f, fig_dir / f"{f.id}.png") for f in report.figures]
    html, md = out / "report.html", out / "report.md"
    _write_text(html, render_html(report))
    _write_text(md, render_markdown(report, FIGURE_DIR))
    return ReportFiles(html, md, pngs, len(report.advice), report.not_drawn)
