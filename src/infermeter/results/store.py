"""The result store: OUT/results.jsonl (one JSON object per repeat, the full record) and OUT/results.csv
(the same rows flattened). Each record is appended and fsynced the moment it exists, so a crash loses
nothing already measured. A write the disk refuses (full, quota) is undone, so the file never holds half
a line; a torn last line left by a kill mid-write is ignored on reading and cut off before the next append
(otherwise the next record would be glued to it and lost too).
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from infermeter.errors import ConfigError, ResultsWriteError
from infermeter.results.histogram import PERCENTILES

LATENCY_KEYS = [f"p{p:g}" for p in PERCENTILES] + ["mean", "std", "min", "max"]
METRIC_KEYS = [
    "requests", "failures", "window_s", "samples_per_s", "batches_per_s", "cpu_percent", "import_s", "convert_s",
    "artifact_bytes", "load_s", "first_inference_s", "load_cached_s", "first_inference_cached_s", "rss_baseline_mb",
    "rss_after_load_mb", "peak_rss_mb", "peak_rss_delta_mb",
    # load tests against servers
    "throughput_rps", "failures_per_s", "failure_rate", "unsent", "generator_processes", "generator_cpu_max",
    "client_cpu_percent", "client_rss_mb", "server_cpu_percent", "server_rss_mb", "system_cpu_percent",
]
CSV_COLUMNS = (
    ["run_id", "cell_id", "kind", "status", "workload", "engine", "engine_label", "target", "scenario", "batch_size", "concurrency",
     "users", "rate", "repeat", "repeats"]
    + [f"latency_{k}_ms" for k in LATENCY_KEYS]
    + METRIC_KEYS
    + ["energy_source", "energy_j_per_inference", "energy_j_per_1000", "gpu"]
    + ["parity_max_abs_diff", "parity_agreement", "weights", "error", "warnings"]
)


def flatten(record: dict[str, Any]) -> dict[str, Any]:
    cell = record.get("cell", {})
    m = record.get("metrics", {})
    lat = m.get("latency_ms", {})
    parity = record.get("parity") or {}
    row = {
        "run_id": record.get("run_id"),
        "cell_id": record.get("cell_id"),
        "kind": record.get("kind"),
        "status": record.get("status"),
        "target": cell.get("target"),
        "users": cell.get("users"),
        "rate": cell.get("rate"),
        "workload": cell.get("workload"),
        "engine": cell.get("engine"),
        "engine_label": (record.get("engine") or {}).get("label"),
        "scenario": cell.get("scenario"),
        "batch_size": cell.get("batch_size"),
        "concurrency": cell.get("concurrency"),
        "repeat": record.get("repeat"),
        "repeats": record.get("repeats"),
        "parity_max_abs_diff": parity.get("max_abs_diff"),
        "parity_agreement": parity.get("agreement"),
        "weights": record.get("workload", {}).get("provenance", {}).get("weights"),
        "error": record.get("error"),
        "warnings": " | ".join(record.get("warnings", [])),
    }
    energy = m.get("energy") or {}
    gpu = energy.get("gpu") or {}
    row.update(energy_source=energy.get("source"), energy_j_per_inference=energy.get("joules_per_inference"),
               energy_j_per_1000=energy.get("joules_per_1000"), gpu=gpu.get("reason") or gpu.get("source"))
    row.update({f"latency_{k}_ms": lat.get(k) for k in LATENCY_KEYS})
    row.update({k: m.get(k) for k in METRIC_KEYS})
    return row


def _append(path: Path, data: bytes) -> None:
    """Append `data` whole or not at all."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as exc:
        raise write_error(path, exc) from None
    try:
        start = os.fstat(fd).st_size
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(fd, view):]  # a full disk may take part of a write
            os.fsync(fd)
        except OSError as exc:
            try:
                os.ftruncate(fd, start)
            except OSError:
                pass
            raise write_error(path, exc) from None
    finally:
        os.close(fd)


def write_error(path: Path | str, exc: OSError) -> ResultsWriteError:
    """The error for a write the system refused (disk full, quota, permissions, read-only)."""
    return ResultsWriteError(
        f"cannot write results to {path}: {exc.strerror or exc}; every result written before is intact",
        "free space (or fix the permissions) there, then run the same command with --resume to finish",
    )


def cut_torn_tail(path: Path) -> int:
    """Remove a partial last line (a kill mid-write); returns the bytes removed."""
    if not path.exists() or path.stat().st_size == 0:
        return 0
    with path.open("rb+") as f:
        size = f.seek(0, os.SEEK_END)
        f.seek(max(0, size - 1))
        if f.read(1) == b"\n":
            return 0
        block = 1 << 16
        end = size
        while end > 0:  # the last newline, read backwards a block at a time
            begin = max(0, end - block)
            f.seek(begin)
            chunk = f.read(end - begin)
            i = chunk.rfind(b"\n")
            if i >= 0:
                keep = begin + i + 1
                break
            end = begin
        else:
            keep = 0
        f.truncate(keep)
        return size - keep


class ResultStore:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.jsonl = out / "results.jsonl"
        self.csv = out / "results.csv"

    def create(self) -> int:
        """Make OUT ready for appending; returns the bytes of torn last lines removed (0 normally)."""
        if self.out.exists() and not self.out.is_dir():
            raise ConfigError(f"{self.out} is a file, not a results directory", "give --out a directory (new or holding results)")
        try:
            self.out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise write_error(self.out, exc) from None
        torn = cut_torn_tail(self.jsonl)
        if self.jsonl.exists():
            self._rewrite_csv()  # results.csv is a view of results.jsonl; a failed or torn row is rebuilt
        return torn

    def _rewrite_csv(self) -> None:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for r in self.records():
            writer.writerow(flatten(r))
        tmp = self.csv.with_suffix(".csv.tmp")
        try:
            tmp.write_text(buf.getvalue())
            os.replace(tmp, self.csv)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise write_error(self.csv, exc) from None

    def has_results(self) -> bool:
        return self.jsonl.exists() and self.jsonl.stat().st_size > 0

    def append(self, record: dict[str, Any]) -> None:
        _append(self.jsonl, (json.dumps(record, default=str) + "\n").encode())
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        if not self.csv.exists() or self.csv.stat().st_size == 0:
            writer.writeheader()
        writer.writerow(flatten(record))
        _append(self.csv, buf.getvalue().encode())

    def records(self) -> Iterator[dict[str, Any]]:
        if not self.jsonl.exists():
            return
        with self.jsonl.open() as f:
            for line in f:
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line torn by a kill mid-write

    def finished_cells(self, records: Iterable[dict[str, Any]] | None = None) -> set[str]:
        """Cells that --resume need not run again: every repeat ok. (Skipped cells are planned afresh:
        the engine may have been installed since.) `records`: already read from this store."""
        ok: dict[str, set[int]] = {}
        needed: dict[str, int] = {}
        for r in self.records() if records is None else records:
            if r.get("status") == "ok":
                cid = r.get("cell_id")
                ok.setdefault(cid, set()).add(r.get("repeat"))
                needed[cid] = r.get("repeats", 1)
        return {cid for cid, reps in ok.items() if len(reps) >= needed[cid]}
