"""Results in the terminal: what `run`, `load`, `compare`, `query`, `selftest` and `scorecard` print. The
commands hand over what the run or report layer returned; every figure here was computed there
(results/summary.py, results/compare.py, selftest.py). The tables a report shows too are the
report's own Grids (reports/table.py, drawn by grid.to_rich), so the terminal and the report never disagree.

Every string is printed as plain text (the consoles read no markup), so a "[/x]" in a workload name, a
path or a warning prints as itself; colour is given as Text, through `styled`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:  # pydantic and numpy stay unimported until a command needs them (--help is quick)
    from infermeter.plan_estimate import PlanEstimate
    from infermeter.reports.grid import Grid
    from infermeter.results.compare import CellDiff
    from infermeter.results.metadata import MetadataDiff
    from infermeter.results.record import AnyRecord, CapacityResult
    from infermeter.results.summary import EngineCellSummary, LoadCellSummary
    from infermeter.runner import RunSummary
    from infermeter.selftest import Check
    from infermeter.studies.registry import Study
    from infermeter.tuning.study import TuneOutcome


@dataclass(frozen=True)
class Screen:
    """Where a command prints: results (tables, lines a script may read) to `out`; warnings, notes and
    progress to `err`."""

    out: Console
    err: Console


def styled(*parts: str | tuple[str, str]) -> Text:
    """Text from plain strings and (string, style) pairs: the one way to colour output, never markup."""
    return Text.assemble(*parts)


def _warning(screen: Screen, what: str, text: str) -> None:
    screen.err.print(styled(("warning", "yellow"), f" {what}: {text}"), soft_wrap=True)


# -- run -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RunView:
    """A run's cells as its tables show them: engine cells, and server cells (load points)."""

    engines: list[EngineCellSummary]
    servers: list[LoadCellSummary]

    @classmethod
    def of(cls, records: Iterable[AnyRecord]) -> RunView:
        from infermeter.results.summary import summarise_engines, summarise_loads

        records = list(records)
        return cls(summarise_engines(records), summarise_loads(records, kind="server"))


def show_run(screen: Screen, view: RunView, suite_name: str, out: Path, summary: RunSummary) -> None:
    """The engine table, the servers' load and resources tables with the cost ranking, the cells not
    measured and every warning; then what was measured and where the files are."""
    from infermeter.reports.table import comparison_table, load_table, not_measured, resources_table
    from infermeter.results.cost import cost_ranking

    if view.engines:
        screen.out.print(comparison_table(view.engines, title=f"{suite_name}: {out}"))
    if view.servers:
        screen.out.print(load_table(view.servers, title=f"{suite_name}: servers", server=True))
        screen.out.print(resources_table(view.servers, title=f"{suite_name}: what each server cost"))
        for line in cost_ranking(view.servers):
            screen.out.print(line, highlight=False, soft_wrap=True, markup=False)
    rows = [*view.engines, *view.servers]
    for line in not_measured(rows):
        screen.out.print(line, style="yellow", highlight=False, soft_wrap=True, markup=False)
    for r in rows:
        for w in r.warnings:
            _warning(screen, r.label, w.text)
    screen.err.print(
        f"{summary.measured} cells measured, {summary.skipped} skipped, {summary.failed} failed"
        + (f", {summary.resumed} already done" if summary.resumed else "")
        + f"; results in {out / 'results.jsonl'}, {out / 'results.csv'} (one row per repeat) and {out / 'summary.csv'} (one per cell)"
    )


# -- load ------------------------------------------------------------------------------------------------

def show_load(screen: Screen, records: Sequence[AnyRecord], title: str, out: Path) -> None:
    """A load test's table (one row per load point), its warnings and where its files are."""
    from infermeter.reports.table import load_table
    from infermeter.results.summary import summarise_loads

    rows = summarise_loads(records)
    screen.out.print(load_table(rows, title=title))
    for r in rows:
        for w in r.warnings:
            _warning(screen, f"{r.scenario} users={r.users} rate={r.rate}", w.text)
    screen.err.print(f"results in {out / 'results.jsonl'} and {out / 'results.csv'}")


def show_capacity(screen: Screen, results: Sequence[CapacityResult], out: Path) -> None:
    """Each search's probes (with the reason for each decision), then the answers, then where the files are."""
    from infermeter.reports.capacity import answer_text, capacity_grid, probe_reasons, probes_grid
    from infermeter.reports.grid import to_rich

    for r in results:
        screen.out.print(to_rich(probes_grid(r)))
        for line in probe_reasons(r):
            screen.out.print(Text(line), soft_wrap=True)
    screen.out.print(to_rich(capacity_grid(results)))
    for r in results:
        mode = "open loop" if r.mode == "rate" else "closed loop"
        screen.out.print(styled((f"{mode} capacity at {r.slo}", "bold"), f": {answer_text(r)}"), soft_wrap=True)
    screen.err.print(f"results in {out / 'results.jsonl'} (each probe's window, then each search's answer)")


def show_tuning(screen: Screen, outcome: TuneOutcome, out: Path) -> None:
    """The trials (defaults first), the best with its gain over the defaults, and its suite."""
    from infermeter.reports.grid import to_rich
    from infermeter.reports.tuning import settings_text, trials_grid

    if not outcome.trials:
        screen.err.print(f"no trial was measured ({outcome.stopped})", soft_wrap=True)
        return
    screen.out.print(to_rich(trials_grid(outcome.trials, outcome.best)))
    screen.err.print(f"the study ended: {outcome.stopped}", soft_wrap=True)
    obj = outcome.objective
    if outcome.best is None:
        screen.out.print(styled(("no trial met the SLO", "red"), " at any rate; the table says why each one did not"), soft_wrap=True)
    else:
        value = outcome.value(outcome.best)
        screen.out.print(styled((f"best for {obj.name}", "bold"), f": trial {outcome.best.tuning.number if outcome.best.tuning else '?'}, "
                                f"{settings_text(outcome.best)}: {value:.4g} {obj.unit}"), soft_wrap=True)
        gain = outcome.gain()
        if outcome.best is outcome.default:
            screen.out.print(Text("the defaults were the best setting measured: no trial beat them (the table is the evidence)"),
                             soft_wrap=True)
        elif gain is not None:
            screen.out.print(styled(("gain over the defaults", "bold"), f": {gain:.2f} x (measured in the same study)"), soft_wrap=True)
        d, b, confirmed = outcome.confirmed()
        if d and b:
            said = f"{confirmed:.2f} x" if confirmed is not None else "not computable"
            screen.out.print(styled(("measured again", "bold"), f" after the study, alternating: defaults {', '.join(f'{v:.4g}' for v in d)}, "
                                    f"best {', '.join(f'{v:.4g}' for v in b)} ({obj.unit}); gain of the medians {said}"), soft_wrap=True)
        if outcome.snippet:
            screen.out.print(Text("a suite that measures it again (also in " + str(out / "tuned-suite.yaml") + "):\n" + outcome.snippet))
    for note in outcome.notes:
        screen.err.print(note, soft_wrap=True)
    screen.err.print(f"results in {out / 'results.jsonl'} (every probe and every trial's search); the study in {out / 'tune.db'}")


def show_failed_windows(screen: Screen, records: Sequence[AnyRecord], cells: set[str], at_most: int = 5) -> None:
    """The distinct causes (first lines) of the failed windows of `cells`."""
    causes = sorted({str(r.error).splitlines()[0] for r in records if r.cell_id in cells and r.status != "ok"})
    for cause in causes[:at_most]:
        screen.err.print(styled(("failed window", "red"), f": {cause}"), soft_wrap=True)


# -- compare ---------------------------------------------------------------------------------------------

def show_metadata_differences(screen: Screen, meta: MetadataDiff) -> None:
    """Every machine and software difference between runs A and B, and what could not be checked."""
    if meta.different_machines:
        screen.err.print(styled(("warning", "yellow"), f": A and B ran on different machines ({', '.join(d.field for d in meta.machine_diffs)}); "
                                "every change below includes the machine's"), soft_wrap=True)
    for note in meta.notes:
        screen.err.print(styled(("note", "yellow"), f": {note}"), soft_wrap=True)
    if not meta.diffs:
        return
    t = Table(title="A and B differ in")
    for c in ("field", "A", "B", "kind"):
        t.add_column(c)
    for d in meta.diffs:
        t.add_row(d.field, d.a, d.b, d.kind)
    screen.out.print(t)


_VERDICT_STYLE = {"better": "green", "worse": "red"}


def show_comparison(screen: Screen, cells: list[CellDiff], only_a: Iterable[str], only_b: Iterable[str], title: str,
                    alpha: float, min_change: float) -> None:
    """Cell by cell, each metric in A and B, its change, p-value and verdict; then the cells only one run has.
    `min_change` in %."""
    t = Table(title=title)
    for c in ("cell", "metric", "A", "B", "change", "p", "verdict"):
        t.add_column(c, justify="right" if c in ("A", "B", "change", "p") else "left")
    for cell in cells:
        for i, d in enumerate(cell.diffs):
            verdict = styled((d.verdict, _VERDICT_STYLE[d.verdict])) if d.verdict in _VERDICT_STYLE else d.verdict
            t.add_row(cell.label if i == 0 else "", d.metric, f"{d.a:.4g}", f"{d.b:.4g}", f"{d.change:+.1%}",
                      "-" if d.p_value != d.p_value else f"{d.p_value:.3g}", verdict)
    screen.out.print(t)
    screen.out.print(f"significant = Welch's t-test p < {alpha:g} over repeats and a change of at least {min_change:g}%; "
                     "throughput in requests or samples per second, latency in ms", highlight=False, soft_wrap=True)
    for label in only_a:
        screen.err.print(styled(("only in A", "yellow"), f": {label}"), soft_wrap=True)
    for label in only_b:
        screen.err.print(styled(("only in B", "yellow"), f": {label}"), soft_wrap=True)


def show_regressions(screen: Screen, lines: Iterable[str]) -> None:
    for line in lines:
        screen.err.print(styled(("regression", "red"), f": {line}"), soft_wrap=True)


# -- query, scorecard, selftest --------------------------------------------------------------------------

def show_frame(screen: Screen, frame: Any) -> None:
    """A query's rows (a pandas DataFrame), every value as its str()."""
    t = Table(title=f"{len(frame)} rows")
    for col in frame.columns:
        t.add_column(str(col))
    for row in frame.itertuples(index=False):
        t.add_row(*(str(v) for v in row))
    screen.out.print(t)


def show_grid(screen: Screen, grid: Grid) -> None:
    """A Grid with its caption printed under it as a line of its own (a long caption is not squeezed to the
    table's width)."""
    from dataclasses import replace

    from infermeter.reports.grid import to_rich

    screen.out.print(to_rich(replace(grid, caption="")))
    screen.out.print(grid.caption, highlight=False, soft_wrap=True)


def show_selftest(screen: Screen, checks: list[Check]) -> None:
    """Each check: what was expected, what was measured, the error against its tolerance and the verdict."""
    t = Table(title="infermeter selftest")
    for col, just in (("check", "left"), ("expected", "right"), ("measured", "right"), ("error", "right"),
                      ("tolerance", "right"), ("result", "left"), ("note", "left")):
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    for c in checks:
        expected = "-" if c.expected is None else f"{c.expected:.4g}"
        error = "-" if c.error is None or c.tolerance is None else f"{c.error:+.1%}"
        tolerance = f"±{c.tolerance:.0%}" if c.tolerance is not None else ("limit" if c.expected is not None else "-")
        result = "info" if c.expected is None else (styled(("PASS", "green")) if c.passed else styled(("FAIL", "red")))
        t.add_row(c.name, expected, f"{c.measured:.4g} {c.unit}", error, tolerance, result, c.note)
    screen.out.print(t)


def show_studies(screen: Screen, studies: list[Study]) -> None:
    """`infermeter study --list`: each study's name, title, year and what it compares."""
    from infermeter.reports.grid import to_rich
    from infermeter.reports.studies import studies_grid

    screen.out.print(to_rich(studies_grid(studies)))


def show_plan(screen: Screen, estimate: PlanEstimate, suite_name: str) -> None:
    """A dry run: what the suite would measure here, and how long that takes at the least and at the most."""
    from infermeter.reports.grid import to_rich
    from infermeter.reports.plan import plan_grid

    screen.out.print(to_rich(plan_grid(estimate, suite_name)))


def show_findings(screen: Screen, study: Study, records: Sequence[AnyRecord]) -> None:
    """A study's claims, each with its verdict on these records."""
    from infermeter.reports.grid import to_rich
    from infermeter.reports.studies import findings_grid

    screen.out.print(to_rich(findings_grid(study, list(records))))
