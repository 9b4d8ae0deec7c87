"""Every table of a report as a file of its own, OUT/tables/NN-title.csv and .tex, for a paper or a
spreadsheet: the same Grid the terminal, report.md and report.html draw, so the exported numbers are the
reported ones. CSV keeps the cells as shown (with their ± intervals); LaTeX is a booktabs tabular inside a
table float, with the title as its caption and the grid's caption as a note below."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from infermeter.reports.grid import Grid
from infermeter.results.files import replace_atomically

TABLE_DIR = "tables"
SUFFIXES = (".csv", ".tex")

_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
                  "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
_LATEX_SYMBOLS = {"±": r"$\pm$", "≤": r"$\le$", "≥": r"$\ge$", "×": r"$\times$", "µ": r"$\mu$", "…": r"\ldots{}",
                  "→": r"$\rightarrow$", "<": r"\textless{}", ">": r"\textgreater{}"}
_REPLACE = _LATEX_SPECIAL | _LATEX_SYMBOLS
_ESCAPE = re.compile("|".join(map(re.escape, _REPLACE)))


def latex_escape(text: str) -> str:
    return _ESCAPE.sub(lambda m: _REPLACE[m.group()], text)


def grid_csv(g: Grid) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(g.columns)
    w.writerows(g.rows)
    return buf.getvalue()


def grid_latex(g: Grid) -> str:
    spec = "".join("l" if i < g.left else "r" for i in range(len(g.columns)))
    line = lambda cells: " & ".join(latex_escape(c) for c in cells) + r" \\"  # noqa: E731
    out = [r"% needs \usepackage{booktabs}", r"\begin{table}[htbp]", r"\centering", r"\small",
           rf"\caption{{{latex_escape(g.title)}}}", rf"\begin{{tabular}}{{{spec}}}", r"\toprule", line(g.columns), r"\midrule",
           *map(line, g.rows), r"\bottomrule", r"\end{tabular}"]
    if g.caption:
        out += [rf"\par\smallskip\footnotesize {latex_escape(g.caption)}"]
    out += [r"\end{table}"]
    return "\n".join(out) + "\n"


def file_stem(index: int, title: str) -> str:
    """NN-title: numbered in report order (two tables may share a title), the title as a safe file name."""
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:80].rstrip("-") or "table"
    return f"{index:02d}-{slug}"


def write_tables(grids: list[Grid], out: Path) -> list[Path]:
    """Each grid as OUT/NN-title.csv and .tex; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for i, g in enumerate(grids, 1):
        stem = file_stem(i, g.title)
        for suffix, text in ((".csv", grid_csv(g)), (".tex", grid_latex(g))):
            path = out / f"{stem}{suffix}"
            replace_atomically(path, text)
            written.append(path)
    return written
