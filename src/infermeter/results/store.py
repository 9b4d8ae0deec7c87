"""The result store: OUT/results.jsonl (one JSON object per repeat, the full record) and OUT/results.csv
(the same rows flattened). Each record is appended with one write and fsynced the moment it exists, so a
crash loses nothing already measured; a torn last line (a kill mid-write) is ignored on reading.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from infermeter.results.histogram import PERCENTILES

LATENCY_KEYS = [f"p{p:g}" for p in PERCENTILES] + ["mean", "std", "min", "max"]
METRIC_KEYS = [
    "requests", "failures", "window_s", "samples_per_s", "batches_per_s", "cpu_percent", "import_s", "convert_s",
    "artifact_bytes", "load_s", "first_inference_s", "load_cached_s", "first_inference_cached_s", "rss_baseline_mb",
    "rss_after_load_mb", "peak_rss_mb", "peak_rss_delta_mb",
    # load tests against servers
    "throughput_rps", "failures_per_s", "failure_rate", "unsent", "generator_processes", "generator_cpu_max",
]
CSV_COLUMNS = (
    ["run_id", "cell_id", "kind", "status", "workload", "engine", "engine_label", "target", "scenario", "batch_size", "concurrency",
     "users", "rate", "repeat", "repeats"]
    + [f"latency_{k}_ms" for k in LATENCY_KEYS]
    + METRIC_KEYS
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
    row.update({f"latency_{k}_ms": lat.get(k) for k in LATENCY_KEYS})
    row.update({k: m.get(k) for k in METRIC_KEYS})
    return row


def _append(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


class ResultStore:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.jsonl = out / "results.jsonl"
        self.csv = out / "results.csv"

    def create(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)

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

    def finished_cells(self) -> set[str]:
        """Cells that --resume need not run again: every repeat ok. (Skipped cells are planned afresh:
        the engine may have been installed since.)"""
        ok: dict[str, set[int]] = {}
        needed: dict[str, int] = {}
        for r in self.records():
            if r.get("status") == "ok":
                cid = r.get("cell_id")
                ok.setdefault(cid, set()).add(r.get("repeat"))
                needed[cid] = r.get("repeats", 1)
        return {cid for cid, reps in ok.items() if len(reps) >= needed[cid]}
