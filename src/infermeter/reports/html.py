"""report.html: one self-contained file (styles, script and data inline, nothing fetched), whose figures
are drawn as SVG in the browser from the same figure data the PNGs are drawn from."""

from __future__ import annotations

import json
from html import escape
from importlib import resources

from infermeter.reports.content import Report
from infermeter.reports.figure_data import Figure
from infermeter.reports.grid import Grid


def _asset(name: str) -> str:
    return resources.files("infermeter.reports").joinpath(f"assets/{name}").read_text(encoding="utf-8")


def grid_html(g: Grid, css_class: str = "") -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in g.columns)
    body = []
    for i, row in enumerate(g.rows):
        cells = []
        for j, text in enumerate(row):
            classes = [c for c in ("num" if j >= g.left else "", g.marks.get((i, j), "")) if c]
            cls = f' class="{" ".join(classes)}"' if classes else ""
            cells.append(f"<td{cls}>{escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    caption = f'<p class="caption">{escape(g.caption)}</p>' if g.caption else ""
    cls = f' class="{css_class}"' if css_class else ""
    return (f'<div class="table-wrap"><table{cls}><caption>{escape(g.title)}</caption><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>{caption}</div>')


def figure_html(f: Figure) -> str:
    caption = f"<figcaption>{escape(f.caption)}</figcaption>" if f.caption else ""
    return f'<figure id="fig-{escape(f.id)}" data-figure="{escape(f.id)}"><h3>{escape(f.title)}</h3><div class="chart"></div>{caption}</figure>'


_SCRIPT_SAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def _script_json(data: object) -> str:
    # Inside <script>, the HTML parser looks for "</script", and "<!--" switches it into the escaped states
    # where "<script" in data makes the next "</script>" not close the element: the rest of the page would
    # be script. No <, > or & at all leaves it nothing to find; JSON reads \u003c as "<". U+2028/2029 are
    # line ends to older JavaScript parsers.
    return json.dumps(data, allow_nan=False).translate(_SCRIPT_SAFE)


def render_html(report: Report) -> str:
    parts = [f"<h2 id='highlights'>Highlights</h2><ul>{''.join(f'<li>{escape(h)}</li>' for h in report.highlights)}</ul>"]
    nav = ["<a href='#highlights'>Highlights</a>"]
    for n, section in enumerate(report.sections):
        nav.append(f"<a href='#s{n}'>{escape(section.title)}</a>")
        parts.append(f"<section><h2 id='s{n}'>{escape(section.title)}</h2>")
        if section.intro:
            parts.append(f"<p>{escape(section.intro)}</p>")
        parts += [figure_html(f) for f in section.figures]
        parts += [grid_html(g) for g in section.grids]
        parts.append("</section>")
    nav.append("<a href='#warnings'>Warnings</a>")
    parts.append("<section><h2 id='warnings'>Warnings and remedies</h2>")
    if report.advice:
        parts.append(grid_html(report.advice_grid(), "advice"))
    else:
        parts.append("<p>None: every cell was measured and passed its checks.</p>")
    if report.not_drawn:
        parts.append("<p>Figures not drawn, and why:</p><ul>" + "".join(f"<li>{escape(x)}</li>" for x in report.not_drawn) + "</ul>")
    parts.append("</section>")
    nav.append("<a href='#environment'>Environment</a>")
    parts.append("<section><h2 id='environment'>Environment and settings</h2>")
    parts += [grid_html(g) for g in report.environment]
    for source, text in report.settings.items():
        parts.append(f"<p>Suite of <code>{escape(source)}</code>:</p><pre>{escape(text)}</pre>")
    parts.append("</section>")
    sources = ", ".join(f"<code>{escape(s)}</code>" for s in report.sources)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(report.title)}</title>
<style>
{_asset("report.css")}
</style>
</head>
<body>
<header>
<h1>{escape(report.title)}</h1>
<p class="meta">Generated {escape(report.generated_at)} by infermeter from {sources}. Figures: hover for values, click a legend entry to hide it.</p>
<nav>{" ".join(nav)}</nav>
</header>
<main>
{"".join(parts)}
</main>
<script type="application/json" id="figure-data">{_script_json([f.to_json() for f in report.figures])}</script>
<script>
{_asset("report.js")}
</script>
</body>
</html>
"""
