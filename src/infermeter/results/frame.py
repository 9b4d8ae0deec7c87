"""The result store, queried: results stay the JSONL/CSV files a run writes; this reads one or many of
them as a pandas DataFrame, writes Parquet, and runs DuckDB SQL over them. pandas, pyarrow and duckdb
are imported only here (extra `analysis`).

Rows are records (one per repeat). Nested fields become dotted columns (`metrics.throughput_rps`,
`cell.workload`, `metrics.energy.joules_per_1000`). Percentiles over repeats must come from the merged
histograms (`metrics.latency_hdr`), never from averaging the per-repeat percentile columns;
`merged_percentiles` does that.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from infermeter.errors import ConfigError, NotInstalledError
from infermeter.results.record import AnyRecord, CapacityResult, to_dict
from infermeter.results.store import ResultStore


def result_files(paths: Iterable[Path | str]) -> list[Path]:
    """results.jsonl files named directly, or found under the directories given (recursively)."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_file():
            found.append(p)
        elif p.is_dir():
            found.extend(sorted(p.rglob("results.jsonl")))
        else:
            raise ConfigError(f"{p} does not exist", "give a results directory (the --out of a run) or a results.jsonl file")
    if not found:
        raise ConfigError(f"no results.jsonl under {', '.join(map(str, paths))}", "give the --out directory of an infermeter run")
    return found


def read_under(paths: Iterable[Path | str]) -> list[AnyRecord]:
    """Every current record under `paths` (typed), each with a `source` naming the results directory it
    came from."""
    return [r.model_copy(update={"source": str(f.parent)}) for f in result_files(paths) for r in ResultStore(f.parent).read()]


def capacity_under(paths: Iterable[Path | str]) -> list[CapacityResult]:
    """Every capacity search's answer under `paths` (store.capacity()), each with its `source`."""
    return [r.model_copy(update={"source": str(f.parent)}) for f in result_files(paths) for r in ResultStore(f.parent).capacity()]


def records_under(paths: Iterable[Path | str]) -> list[dict[str, Any]]:
    """The same as plain dicts (the JSON shape)."""
    return [to_dict(r) for r in read_under(paths)]


def _need(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise NotInstalledError(f"{module} is not installed", "pip install 'infermeter[analysis]'") from None


def load_results(*paths: Path | str) -> Any:
    """Every record under `paths` as a pandas DataFrame (one row per repeat), with a `source` column
    naming the results directory each row came from."""
    return _need("pandas").json_normalize(records_under(paths), sep=".")


def to_parquet(frame: Any, out: Path) -> Path:
    """Write `frame` as Parquet; lists and mappings (warnings, outcomes, checks) are stored as JSON text,
    since their shapes differ from row to row."""
    _need("pyarrow")
    flat = frame.copy()
    for col in flat.columns:
        if flat[col].map(lambda v: isinstance(v, (list, dict))).any():
            flat[col] = flat[col].map(lambda v: json.dumps(v, default=str) if isinstance(v, (list, dict)) else v)
    out.parent.mkdir(parents=True, exist_ok=True)
    flat.to_parquet(out, index=False)
    return out


def query(sql: str, *paths: Path | str) -> Any:
    """Run DuckDB SQL with a view `results` over every record under `paths` (nested fields are structs:
    `cell.workload`, `metrics.throughput_rps`); returns a pandas DataFrame. The view holds the records as
    every other reader sees them: migrated to the current schema, validated, superseded repeats left out."""
    import tempfile

    duckdb = _need("duckdb")
    records = records_under(paths)
    con = duckdb.connect()
    with tempfile.TemporaryDirectory(prefix="infermeter-query-") as tmp:
        view = Path(tmp) / "records.jsonl"
        view.write_text("".join(json.dumps(r) + "\n" for r in records))
        try:
            con.execute(f"CREATE VIEW results AS SELECT * FROM read_json_auto('{view}', format='newline_delimited', "
                        "union_by_name=true)")
            try:
                return con.execute(sql).df()
            except duckdb.Error as exc:
                raise ConfigError(f"the query failed: {exc}", "query the view `results`, e.g. "
                                  "SELECT cell.workload, avg(metrics.throughput_rps) FROM results GROUP BY ALL") from None
        finally:
            con.close()


def merged_percentiles(frame: Any, by: list[str]) -> Any:
    """Latency percentiles (ms) per group, from the merged histograms of the group's ok rows."""
    pd = _need("pandas")
    from infermeter.results import histogram

    ok = frame[frame["status"] == "ok"]
    rows = []
    for key, group in ok.groupby(by, dropna=False):
        summary = histogram.summary_ms(histogram.merge(group["metrics.latency_hdr"]))
        rows.append(dict(zip(by, key if isinstance(key, tuple) else (key,))) | {"repeats": len(group)} | summary)
    return pd.DataFrame(rows)
