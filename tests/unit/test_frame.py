"""Results as data: load_results gives one DataFrame row per repeat, Parquet round-trips, DuckDB SQL runs
over results directories, and percentiles over repeats come from merged histograms."""

import json
import subprocess
import sys

import pytest
from conftest import synthetic_run

pd = pytest.importorskip("pandas")
pytest.importorskip("duckdb")

import infermeter  # noqa: E402
from infermeter.errors import ConfigError  # noqa: E402
from infermeter.results import histogram  # noqa: E402
from infermeter.results.frame import merged_percentiles, query, to_parquet  # noqa: E402
from infermeter.results.store import ResultStore  # noqa: E402


def stored(path, records):
    store = ResultStore(path)
    store.create()
    for r in records:
        store.append(r | {"warnings": ["w"] if r["repeat"] == 0 else [], "metrics": r["metrics"] | {"outcomes": {"200": 5}}})
    return path


def test_load_results_reads_many_runs_one_row_per_repeat(tmp_path):
    stored(tmp_path / "runs" / "a", synthetic_run(1, repeats=3))
    stored(tmp_path / "runs" / "b", synthetic_run(2, repeats=2, cells=("c1",)))
    df = infermeter.load_results(tmp_path / "runs")  # directories are searched
    assert len(df) == 3 * 2 + 2
    assert {"cell_id", "metrics.throughput_rps", "metrics.latency_ms.p99", "source"} <= set(df.columns)
    assert df.groupby("source").size().to_dict() == {str(tmp_path / "runs" / "a"): 6, str(tmp_path / "runs" / "b"): 2}


def test_parquet_keeps_every_row_and_column(tmp_path):
    df = infermeter.load_results(stored(tmp_path / "a", synthetic_run(1)))
    back = pd.read_parquet(to_parquet(df, tmp_path / "out" / "r.parquet"))
    assert back.shape == df.shape
    assert [w["text"] for w in json.loads(back["warnings"].iloc[0])] == ["w"]  # lists travel as JSON text


def test_sql_over_results_directories(tmp_path):
    stored(tmp_path / "a", synthetic_run(1, throughput=100.0, noise=0.0))
    q = query("SELECT cell_id, count(*) AS n, avg(metrics.throughput_rps) AS rps FROM results GROUP BY ALL ORDER BY cell_id", tmp_path)
    assert q["n"].tolist() == [5, 5] and q["rps"].tolist() == pytest.approx([100.0, 100.0])
    with pytest.raises(ConfigError, match="the query failed"):
        query("SELECT nope FROM results", tmp_path)
    with pytest.raises(ConfigError, match="does not exist"):
        query("SELECT 1", tmp_path / "missing")


def test_percentiles_over_repeats_come_from_merged_histograms(tmp_path):
    records = synthetic_run(1, cells=("c1",))
    df = infermeter.load_results(stored(tmp_path / "a", records))
    got = merged_percentiles(df, ["cell_id"]).iloc[0]
    want = histogram.summary_ms(histogram.merge(r["metrics"]["latency_hdr"] for r in records))
    assert got["repeats"] == 5 and got["p99"] == pytest.approx(want["p99"])


def test_export_and_query_commands(tmp_path):
    stored(tmp_path / "a", synthetic_run(1))
    cli = [sys.executable, "-m", "infermeter.cli.main"]
    r = subprocess.run(cli + ["export", str(tmp_path / "a"), "--parquet", str(tmp_path / "r.parquet")], capture_output=True, text=True)
    assert r.returncode == 0 and "10 rows" in r.stderr, r.stderr
    r = subprocess.run(cli + ["query", "SELECT count(*) AS n FROM results", str(tmp_path / "a")], capture_output=True, text=True)
    assert r.returncode == 0 and "10" in r.stdout, r.stderr
    r = subprocess.run(cli + ["query", "SELECT 1", str(tmp_path / "none")], capture_output=True, text=True)
    assert r.returncode == 2 and "does not exist" in r.stderr and "Traceback" not in r.stderr
