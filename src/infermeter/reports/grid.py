"""A table as data, drawn three ways: in the terminal (rich), in report.md and in report.html. Building
each table once keeps the terminal and the report from ever disagreeing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from rich.table import Table
from rich.text import Text

Mark = Literal["bad", "warn"]


@dataclass
class Grid:
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    caption: str = ""
    left: int = 1  # this many leading columns are text (left-aligned); the rest are numbers
    marks: dict[tuple[int, int], Mark] = field(default_factory=dict)  # (row, column) -> emphasis

    def add(self, cells: list[str], marks: dict[int, Mark] | None = None) -> None:
        for col, mark in (marks or {}).items():
            self.marks[(len(self.rows), col)] = mark
        self.rows.append([str(c) for c in cells])


_RICH_STYLE = {"bad": "red", "warn": "yellow"}


def to_rich(grid: Grid) -> Table:
    """Every string as Text: plain on any console, whatever markup its cells hold ('[/x]' in a label)."""
    t = Table(title=Text(grid.title) if grid.title else None)
    for i, col in enumerate(grid.columns):
        t.add_column(Text(col), justify="left" if i < grid.left else "right")
    for i, row in enumerate(grid.rows):
        cells = []
        for j, cell in enumerate(row):
            mark = grid.marks.get((i, j))
            cells.append(Text(cell, style=_RICH_STYLE[mark]) if mark else Text(cell))
        t.add_row(*cells)
    if grid.caption:
        t.caption = Text(grid.caption)
    return t
