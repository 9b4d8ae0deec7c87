"""What `run` and `load` print (reports/console.py), drawn from stored records alone: nothing is measured,
no engine or server runs. The records are the fixture runs of tests/data/schema1 (its README says what each
holds), read as `run` reads them after measuring."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from infermeter.reports.console import RunView, Screen, show_failed_windows, show_load, show_run
from infermeter.results.frame import read_under
from infermeter.results.record import Cost
from infermeter.results.warnings import warning
from infermeter.runner import RunSummary

DATA = Path(__file__).resolve().parents[1] / "data" / "schema1"


class Captured:
    """A Screen whose two consoles write to strings, as the CLI's do to a pipe (plain text, wide)."""

    def __init__(self) -> None:
        self._out, self._err = io.StringIO(), io.StringIO()
        self.screen = Screen(*(Console(file=f, width=250, markup=False, emoji=False, highlight=False) for f in (self._out, self._err)))

    @property
    def out(self) -> str:
        return self._out.getvalue()

    @property
    def err(self) -> str:
        return self._err.getvalue()


def header(text: str, first: str) -> list[str]:
    """The column headings of the table whose header row starts with `first`."""
    line = next(x for x in text.splitlines() if x.strip("┃ ").startswith(first))
    return [c.strip() for c in line.strip().strip("┃").split("┃")]


def test_a_runs_engine_table_and_the_cells_it_could_not_measure():
    c = Captured()
    view = RunView.of(read_under([DATA / "engines"]))
    show_run(c.screen, view, "v1-fixture", Path("results/x"), RunSummary("r", Path("results/x"), measured=2, skipped=2, failed=2))
    assert "v1-fixture: results/x" in c.out
    assert header(c.out, "workload") == ["workload", "engine", "scenario", "batch", "conc", "p50 ms", "p99 ms", "samples/s", "load s",
                                         "1st inf s", "peak MB", "CPU %", "J/1k inf", "agree / max|diff|", "sanity"]
    rows = [x for x in c.out.splitlines() if "fake[service_ms=1.0]" in x]
    assert len(rows) == 2 and all("fake-tiny" in x and "offline" in x for x in rows)  # batch 1 and 2, measured
    assert "±" in rows[0]  # a mean over repeats with its interval
    assert "failed: fake-tiny on fake[fail_on_load=true] (offline, batch 1)" in c.out
    assert "skipped: fake-tiny on onnxruntime (offline, batch 1)" in c.out
    assert "servers" not in c.out and "cost per million" not in c.out  # no server cell: no server tables
    assert "2 cells measured, 2 skipped, 2 failed; results in results/x/results.jsonl" in c.err


def test_a_runs_server_tables_cost_ranking_and_warnings():
    records = read_under([DATA / "servers"])
    assert {r.status for r in records} == {"ok"} and len(records) == 4
    price = 3.6  # per hour: at r req/s, 1e6 requests cost 3.6 / (r * 3600) * 1e6 = 1000 / r
    priced = [r.model_copy(update={"cost": Cost(price_per_hour=price, currency="EUR",
                                                per_million_requests=1000 / r.metrics.throughput_rps)}) for r in records]
    priced[0] = priced[0].model_copy(update={"warnings": [warning("busy-machine", "quiet machine: 3 other processes took 40% CPU")]})
    c = Captured()
    show_run(c.screen, RunView.of(priced), "v1-servers", Path("out"), RunSummary("r", Path("out"), measured=2))
    assert header(c.out, "target")[-2:] == ["queue ms", "infer ms"]  # the load table of server cells
    assert "v1-servers: what each server cost" in c.out and "srv CPU %" in c.out and "EUR/1M req" in c.out
    (ranking,) = [x for x in c.out.splitlines() if x.startswith("cost per million requests")]
    assert ranking.startswith("cost per million requests, malware-gbt: 1. litserve")
    assert "EUR" in ranking and ("(1 users)" in ranking or "(2 users)" in ranking)
    assert "warning malware-gbt on litserve" in c.err and "quiet machine: 3 other processes took 40% CPU" in c.err
    assert "2 cells measured, 0 skipped, 0 failed" in c.err


def test_a_load_tests_table_and_its_failed_windows():
    records = read_under([DATA / "load"])
    c = Captured()
    show_load(c.screen, records, "load test: http://127.0.0.1:1/predict", Path("o"))
    assert "load test: http://127.0.0.1:1/predict" in c.out
    assert header(c.out, "target")[:7] == ["target", "scenario", "users", "rate/s", "req/s", "p50 ms", "p90 ms"]
    assert sum("fake endpoint" in x for x in c.out.splitlines()) == 2  # 1 and 2 users
    assert "results in o/results.jsonl and o/results.csv" in c.err
    failed = records[0].model_copy(update={"status": "failed", "error": "connection refused\n(traceback)"})
    show_failed_windows(c.screen, [*records, failed, failed], {records[0].cell_id})
    assert c.err.count("failed window: connection refused") == 1 and "(traceback)" not in c.err
