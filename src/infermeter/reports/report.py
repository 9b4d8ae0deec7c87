"""`infermeter report`: report.html, report.md, figures/*.png and tables/*.csv, *.tex from one or more results directories."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from infermeter.reports.content import build_report, suites_of
from infermeter.reports.grid_files import SUFFIXES, TABLE_DIR, write_tables
from infermeter.reports.html import render_html
from infermeter.reports.markdown import render_markdown
from infermeter.results.files import replace_atomically
from infermeter.results.frame import capacity_under, read_under

FIGURE_DIR = "figures"


@dataclass
class ReportFiles:
    html: Path
    markdown: Path
    figures: list[Path]
    tables: list[Path]  # every table as CSV and LaTeX
    warnings: int
    not_drawn: list[str]


MANIFEST = ".infermeter-report.json"  # the files the last report here wrote: the only ones a report replaces or removes


def _written_before(out: Path) -> set[str]:
    """Names (relative to OUT) the previous report in OUT wrote, from its manifest; nothing without one."""
    try:
        names = json.loads((out / MANIFEST).read_text(encoding="utf-8")).get("files", [])
    except (OSError, ValueError, AttributeError):
        return set()
    safe = set()
    for name in names if isinstance(names, list) else []:
        p = Path(str(name))
        if p.is_absolute() or ".." in p.parts or len(p.parts) != 2:
            continue
        if (p.parts[0], p.suffix) == (FIGURE_DIR, ".png") or (p.parts[0] == TABLE_DIR and p.suffix in SUFFIXES):
            safe.add(str(p))  # only figures and tables are ever removed, and only inside OUT/figures and OUT/tables
    return safe


def write_report(paths: list[Path], out: Path, title: str | None = None, traffic: float | None = None) -> ReportFiles:
    from infermeter.reports.png import write_png

    records = read_under(paths)
    suites = suites_of(sorted({str(r.source) for r in records}))
    names = [json.loads(text).get("name") for text in suites.values() if text.startswith("{")]
    report = build_report(records, suites, title or f"infermeter report: {', '.join(n for n in names if n) or paths[0].resolve().name}",
                          capacity_under(paths), traffic)
    out.mkdir(parents=True, exist_ok=True)
    fig_dir = out / FIGURE_DIR
    fig_dir.mkdir(exist_ok=True)
    before = _written_before(out)
    pngs = [write_png(f, fig_dir / f"{f.id}.png") for f in report.figures]
    html, md = out / "report.html", out / "report.md"
    replace_atomically(html, render_html(report))
    replace_atomically(md, render_markdown(report, FIGURE_DIR))
    tables = write_tables([g for section in report.sections for g in section.grids] + report.environment, out / TABLE_DIR)
    written = [str(p.relative_to(out)) for p in pngs + tables] + [html.name, md.name]
    for stale in sorted(before - set(written)):  # an earlier report's figures that this one no longer has
        (out / stale).unlink(missing_ok=True)
    replace_atomically(out / MANIFEST, json.dumps({"files": written}, indent=1))
    return ReportFiles(html, md, pngs, tables, len(report.advice), report.not_drawn)
