"""A figure as data: what to plot, independent of how (reports/figures.py builds the report's figures
from it). The PNG writer (matplotlib) and the HTML report (SVG drawn in the browser) both draw from these,
so the two always show the same numbers."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

# Tableau 10: distinguishable, and kept in order so a framework has one colour in every figure.
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")


@dataclass
class Point:
    x: float | str
    y: float
    lo: float | None = None  # 95% interval over repeats, when there is one
    hi: float | None = None
    note: str = ""  # shown on hover: the figures behind the point


@dataclass
class Series:
    name: str
    points: list[Point]
    color: str = ""
    dashed: bool = False
    markers: bool = True
    line: bool = True  # False: markers alone (points with no order between them, e.g. the trials of a study)


@dataclass
class Figure:
    id: str  # also the PNG's file name
    title: str
    kind: Literal["line", "bar"]
    x_label: str
    y_label: str
    series: list[Series]
    x_scale: Literal["linear", "log2", "log10", "category"] = "linear"
    y_scale: Literal["linear", "log10"] = "linear"
    caption: str = ""
    categories: list[str] = field(default_factory=list)  # bar charts: the x positions, in order

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Colours:
    """One colour per name across a whole report."""

    def __init__(self) -> None:
        self._given: dict[str, str] = {}

    def __call__(self, name: str) -> str:
        if name not in self._given:
            self._given[name] = PALETTE[len(self._given) % len(PALETTE)]
        return self._given[name]


def finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def interval(mean: float, ci95: float) -> tuple[float | None, float | None]:
    """(lo, hi) of a mean ± half-width, or (None, None) when there is no interval (one repeat). Every
    quantity plotted is non-negative, so the lower end is cut at 0 (with two repeats t is 12.7)."""
    if not finite(ci95):
        return None, None
    return max(mean - ci95, 0.0), mean + ci95
