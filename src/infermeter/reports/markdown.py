"""report.md: the report as Markdown (GitHub tables), with the PNG figures beside it."""

from __future__ import annotations

from infermeter.reports.content import Report
from infermeter.reports.grid import Grid


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def grid_md(g: Grid) -> str:
    head = "| " + " | ".join(map(_cell, g.columns)) + " |"
    rule = "|" + "|".join(":---" if i < g.left else "---:" for i in range(len(g.columns))) + "|"
    body = ["| " + " | ".join(map(_cell, row)) + " |" for row in g.rows]
    out = [f"**{g.title}**", "", head, rule, *body]
    if g.caption:
        out += ["", f"<sub>{g.caption}</sub>"]
    return "\n".join(out)


def render_markdown(report: Report, figure_dir: str = "figures") -> str:
    out = [f"# {report.title}", "", f"Generated {report.generated_at} from {', '.join(f'`{s}`' for s in report.sources)}.", "",
           "## Highlights", "", *(f"- {h}" for h in report.highlights), ""]
    for section in report.sections:
        out += [f"## {section.title}", ""]
        if section.intro:
            out += [section.intro, ""]
        for f in section.figures:
            out += [f"![{f.title}]({figure_dir}/{f.id}.png)", ""]
            if f.caption:
                out += [f"<sub>{f.caption}</sub>", ""]
        for g in section.grids:
            out += [grid_md(g), ""]
    out += ["## Warnings and remedies", ""]
    if report.advice:
        out += [grid_md(report.advice_grid()), ""]
    else:
        out += ["None: every cell was measured and passed its checks.", ""]
    if report.not_drawn:
        out += ["Figures not drawn, and why:", "", *(f"- {line}" for line in report.not_drawn), ""]
    out += ["## Environment", ""]
    for g in report.environment:
        out += [grid_md(g), ""]
    if report.settings:
        out += ["## Settings", ""]
        for source, text in report.settings.items():
            out += [f"Suite of `{source}`:", "", "```json", text, "```", ""]
    return "\n".join(out).rstrip() + "\n"
