"""The typed record model: results of the previous schema still read, report, compare and resume; a cell
interrupted and measured again counts its repeats once; lines that are not records are reported, never a
crash; a writer cannot store a record the model does not know."""

import json
import shutil
from pathlib import Path

import pytest

from infermeter.config import parse_suite
from infermeter.reports.report import write_report
from infermeter.results.compare import compare_runs
from infermeter.results.record import EngineWindow, parse_record
from infermeter.results.store import ResultStore
from infermeter.results.summary import summarise_engines, summarise_loads
from infermeter.runner import run_suite

SCHEMA1 = Path(__file__).parent.parent / "data" / "schema1"  # written by infermeter at c7e155a (see its README)


def copy(name, tmp_path):
    return Path(shutil.copytree(SCHEMA1 / name, tmp_path / name))


@pytest.mark.parametrize("name", ["engines", "load", "servers"])
def test_schema1_results_read_whole_as_the_current_schema(name, tmp_path):
    store = ResultStore(copy(name, tmp_path))
    raw = [json.loads(line) for line in store.jsonl.read_text().splitlines()]
    records = store.read(include_superseded=True)
    assert store.rejected == [] and len(records) == len(raw)
    assert {r.schema_version for r in records} == {2}
    for r in records:
        assert all(w.code and w.remedy for w in r.warnings)


def test_schema1_cell_measured_again_after_a_kill_counts_its_repeats_once(tmp_path):
    """The old code's --resume measured an interrupted cell again from repeat 0 and every reader kept both
    attempts: this cell had 2 + 3 'ok' records for 3 repeats."""
    store = ResultStore(copy("engines", tmp_path))
    raw = [json.loads(line) for line in store.jsonl.read_text().splitlines()]
    twice = {r["cell_id"] for r in raw if r["status"] == "ok" and sum(x["cell_id"] == r["cell_id"] and x["status"] == "ok" for x in raw) == 5}
    assert len(twice) == 1
    rows = {r.cell_id: r for r in summarise_engines(store.read())}
    assert rows[twice.pop()].repeats == 3
    assert all(row.repeats == 3 for row in rows.values() if row.status == "ok")


def test_schema1_results_report_and_compare(tmp_path):
    dirs = [copy(n, tmp_path) for n in ("engines", "load", "servers")]
    files = write_report(dirs, tmp_path / "report")
    md = files.markdown.read_text()
    assert "fake[service_ms=1.0]" in md and "litserve[runtime=onnxruntime]" in md
    records = ResultStore(dirs[0]).read()
    diffs, only_a, only_b = compare_runs(records, records)
    assert len(diffs) == 2 and {d.repeats for d in diffs} == {(3, 3)}
    assert not any(m.significant for d in diffs for m in d.diffs)
    server_rows = summarise_loads(ResultStore(dirs[2]).read(), kind="server")
    assert [r.repeats for r in server_rows] == [2, 2]


def test_schema1_results_resume(tmp_path, cache_root):
    out = copy("engines", tmp_path)
    suite = parse_suite(json.loads((out / "suite.json").read_text()))
    summary = run_suite(suite, out, cache_root=cache_root, isolation="none", resume=True)
    assert summary.resumed == 2 and summary.measured == 0  # both measured cells are complete; the rest fail or skip again


def suite(repeats=3):
    return parse_suite({
        "workloads": ["fake-tiny"], "engines": [{"name": "fake", "settings": {"service_ms": 1.0}}],
        "scenarios": [{"kind": "offline", "batch_sizes": [1, 2]}], "warmup": {"iterations": 2, "seconds": 0},
        "measure": {"repeats": repeats, "min_iterations": 20, "min_seconds": 0.02, "max_seconds": 2},
    })


def test_resume_after_a_kill_mid_cell_supersedes_the_partial_repeats(tmp_path, cache_root):
    out = tmp_path / "out"
    run_suite(suite(), out, cache_root=cache_root, isolation="none")
    lines = (out / "results.jsonl").read_text().splitlines(keepends=True)
    (out / "results.jsonl").write_text("".join(lines[:5]))  # killed during the second cell's third repeat
    summary = run_suite(suite(), out, cache_root=cache_root, isolation="none", resume=True)
    assert (summary.resumed, summary.measured) == (1, 1)
    raw = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(raw) == 8 and [r["superseded"] for r in raw] == [False] * 3 + [True] * 2 + [False] * 3
    store = ResultStore(out)
    rows = summarise_engines(store.read())
    assert [r.repeats for r in rows] == [3, 3]
    assert len(list(store.records())) == 6 and len(list(store.records(include_superseded=True))) == 8
    csv_rows = (out / "results.csv").read_text().splitlines()[1:]
    assert sum(row.endswith(",True") for row in csv_rows) == 2
    assert store.finished_cells() == {r.cell_id for r in rows}


def test_lines_that_are_not_records_are_reported_and_the_rest_read(tmp_path, caplog):
    out = copy("load", tmp_path)
    with (out / "results.jsonl").open("ab") as f:
        f.write(b"42\n")
        f.write(b'{"schema_version": 99, "cell_id": "x"}\n')
        f.write(b'{"kind": "engine", "status": "ok", "repeat": 0, "cell_id": "x", "cell": {}, \xff}\n')
        f.write(b'{"kind": "engine", "status": "ok", "repeat": 0, "repeats": 1, "cell_id": "x", "cell": {}}\n')
    store = ResultStore(out)
    assert len(store.read()) == 4
    why = dict(store.rejected)
    assert why[5].startswith("a JSON int") and "newer infermeter" in why[6] and why[7] == "not JSON"
    assert "metrics" in why[8]
    assert "line 5 is not read" in caplog.text


def test_a_writer_cannot_store_a_record_the_model_does_not_know(tmp_path):
    store = ResultStore(tmp_path)
    store.create()
    good = parse_record(json.loads((SCHEMA1 / "load" / "results.jsonl").read_text().splitlines()[0]) | {"schema_version": 2, "warnings": []})
    store.append(good)
    with pytest.raises(ValueError, match="invalid record"):
        store.append({"schema_version": 2, "kind": "engine", "run_id": "r", "cell_id": "c", "cell": {}, "status": "ok", "repeat": 0,
                      "repeats": 1, "engine": {"name": "e", "label": "e"}, "metrics": {}, "latency_p50": 3.0})
    with pytest.raises(Exception):
        EngineWindow(run_id="r", cell_id="c", cell={}, status="done", repeat=0, repeats=1, engine={"name": "e", "label": "e"}, metrics={})
    assert [r.cell_id for r in store.read()] == [good.cell_id]


def test_sql_sees_the_records_every_reader_sees(tmp_path):
    from infermeter.results.frame import query

    q = query("SELECT count(*) AS n, count(DISTINCT warnings) AS w FROM results", copy("engines", tmp_path))
    assert q["n"].tolist() == [10]  # 16 lines, 6 of them superseded by the resumed run


def test_open_loop_fields_are_optional_on_engine_windows(tmp_path):
    """Engine windows written before the open loop read with its fields absent; one with them round-trips."""
    old = [r for r in ResultStore(copy("engines", tmp_path)).read() if isinstance(r, EngineWindow)]
    assert old and all(r.metrics.offered is None and r.metrics.issue_lag_hdr is None and r.cell.get("rate") is None for r in old)
    raw = old[0].model_dump(mode="json")
    raw["cell"]["rate"] = 5.0
    raw["metrics"].update(offered=12, offered_per_s=4.8, backlog=0, unsent=0, issue_lag_ms={"p50": 0.1}, wakeup_lag_ms={"p99": 0.2})
    store = ResultStore(tmp_path / "new")
    store.create()
    store.append(parse_record(raw))
    (back,) = store.read()
    assert back.metrics.offered == 12 and back.metrics.offered_per_s == 4.8 and back.cell["rate"] == 5.0
