"""PNG figures for papers and for report.md, drawn with matplotlib (imported only here, without pyplot's
global state, so reports can be made from any thread)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from infermeter.reports.figure_data import Figure

WIDTH_IN, HEIGHT_IN, DPI = 8.0, 4.8, 110


def write_png(fig: Figure, path: Path) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as MplFigure
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    mfig = MplFigure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, layout="constrained")
    FigureCanvasAgg(mfig)
    ax = mfig.add_subplot()
    if fig.kind == "bar":
        _bars(ax, fig)
    else:
        _lines(ax, fig)
        if fig.x_scale == "log2":
            ax.set_xscale("log", base=2)
            xs = sorted({float(p.x) for s in fig.series for p in s.points})
            ax.xaxis.set_major_locator(FixedLocator(xs))
            ax.xaxis.set_minor_locator(NullLocator())
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        elif fig.x_scale == "log10":
            ax.set_xscale("log")
        elif len({p.x for s in fig.series for p in s.points}) <= 12:  # user counts: tick what was measured, not 1.5
            ax.xaxis.set_major_locator(FixedLocator(sorted({float(p.x) for s in fig.series for p in s.points})))
    if fig.y_scale == "log10":
        ax.set_yscale("log")
    ax.set_title(fig.title, fontsize=11)
    ax.set_xlabel(fig.x_label)
    ax.set_ylabel(fig.y_label)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="best", ncol=2 if len(fig.series) > 6 else 1)
    if fig.caption:
        # supxlabel, unlike a free text, is given room by the constrained layout.
        mfig.supxlabel(textwrap.fill(fig.caption, 150), x=0.01, ha="left", fontsize=7, color="#555555")
    import io

    from infermeter.results.files import replace_atomically

    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    mfig.savefig(buf, format="png", metadata={"Software": None})
    replace_atomically(path, buf.getvalue())  # whole or not at all, never through a link
    return path


def _lines(ax, fig: Figure) -> None:  # type: ignore[no-untyped-def]
    for s in fig.series:
        xs = [float(p.x) for p in s.points]
        ys = [p.y for p in s.points]
        style = "--" if s.dashed else "-"
        if not s.line:
            ax.plot(xs, ys, linestyle="none", color=s.color, marker="o", markersize=5, label=s.name)
        elif s.markers:
            ax.plot(xs, ys, style, color=s.color, marker="o", markersize=4, label=s.name)
        else:
            ax.plot(xs, ys, style, color=s.color, label=s.name, drawstyle="steps-post")
        bars = [(float(p.x), p.y, p.y - p.lo, p.hi - p.y) for p in s.points if p.lo is not None and p.hi is not None]
        if bars:
            x, y, below, above = zip(*bars)
            ax.errorbar(x, y, yerr=[below, above], fmt="none", ecolor=s.color, capsize=3, linewidth=1)


def _bars(ax, fig: Figure) -> None:  # type: ignore[no-untyped-def]
    n = len(fig.series)
    width = 0.8 / max(n, 1)
    index = {c: i for i, c in enumerate(fig.categories)}
    for k, s in enumerate(fig.series):
        xs = [index[str(p.x)] - 0.4 + width * (k + 0.5) for p in s.points]
        ax.bar(xs, [p.y for p in s.points], width=width, color=s.color, label=s.name)
        spread = [(x, p.y, p.y - p.lo, p.hi - p.y) for x, p in zip(xs, s.points) if p.lo is not None and p.hi is not None]
        if spread:  # a bar's range (over repeats): a whisker, dark so that it shows on the bar's own colour
            x, y, below, above = zip(*spread)
            ax.errorbar(x, y, yerr=[below, above], fmt="none", ecolor="#333333", capsize=3, linewidth=1)
    ax.set_xticks(range(len(fig.categories)), fig.categories, rotation=15 if sum(map(len, fig.categories)) > 60 else 0,
                  fontsize=8)
