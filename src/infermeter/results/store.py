"""The result store: OUT/results.jsonl (one JSON object per repeat, the full record) and OUT/results.csv
(the same rows flattened). Each record is validated against the typed model (results/record.py), then
appended and fsynced the moment it exists, so a crash loses nothing already measured. A write the disk
refuses (full, quota) is undone, so the file never holds half a line; a torn last line left by a kill
mid-write is ignored on reading and cut off before the next append (otherwise the next record would be
glued to it and lost too). Reading migrates older schema versions and validates every record; a line that
is not a record is reported (`rejected`), never a crash.

A cell is the unit of completion: when a cell interrupted in an earlier run is measured again, its old
repeats are marked superseded (rewritten atomically in place) and every reader leaves them out.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from infermeter.errors import ConfigError
from infermeter.results.files import locked, open_nofollow, private_dir, replace_atomically, write_error
from infermeter.results.histogram import PERCENTILES
from infermeter.results.migrate import UnknownSchema, migrate
from infermeter.results.record import AnyRecord, CapacityResult, NotMeasured, StoredRecord, parse_record, to_dict

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
    + ["slo", "slo_verdict", "goodput_rps"]
    + ["parity_max_abs_diff", "parity_agreement", "weights", "error", "warnings", "superseded"]
)


DAMAGED_NAME = "results.damaged.jsonl"  # where `infermeter doctor` moves lines that are not records


def flatten(record: dict[str, Any]) -> dict[str, Any]:
    cell = record.get("cell") or {}
    m = record.get("metrics") or {}
    lat = m.get("latency_ms") or {}
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
        "weights": ((record.get("workload") or {}).get("provenance") or {}).get("weights"),
        "error": record.get("error"),
        "warnings": " | ".join(w["text"] if isinstance(w, dict) else str(w) for w in record.get("warnings") or []),
        "superseded": record.get("superseded", False),
    }
    energy = m.get("energy") or {}
    gpu = energy.get("gpu") or {}
    row.update(energy_source=energy.get("source"), energy_j_per_inference=energy.get("joules_per_inference"),
               energy_j_per_1000=energy.get("joules_per_1000"), gpu=gpu.get("reason") or gpu.get("source"))
    judged = record.get("slo") or {}
    row.update(slo=judged.get("slo"), slo_verdict=judged.get("verdict"), goodput_rps=judged.get("goodput_rps"))
    row.update({f"latency_{k}_ms": lat.get(k) for k in LATENCY_KEYS})
    row.update({k: m.get(k) for k in METRIC_KEYS})
    return row


def _append(path: Path, data: bytes) -> None:
    """Append `data` whole or not at all (never through a link planted at `path`)."""
    try:
        fd = open_nofollow(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
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


def cut_torn_tail(path: Path) -> int:
    """Remove a partial last line (a kill mid-write); returns the bytes removed."""
    if not path.exists() or path.stat().st_size == 0:
        return 0
    with os.fdopen(open_nofollow(path, os.O_RDWR), "rb+") as f:
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


_log = logging.getLogger("infermeter.results")


def superseded_lines(cells_runs: list[tuple[str, str] | None]) -> set[int]:
    """Line indices whose record is superseded: a record of a cell from a run other than the last run that
    wrote that cell (in file order). `cells_runs`: (cell_id, run_id) per line, None for a line that is not
    a record."""
    last_run: dict[str, str] = {}
    for cr in cells_runs:
        if cr:
            last_run[cr[0]] = cr[1]
    return {i for i, cr in enumerate(cells_runs) if cr and last_run[cr[0]] != cr[1]}


class ResultStore:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.jsonl = out / "results.jsonl"
        self.csv = out / "results.csv"
        self.rejected: list[tuple[int, str]] = []  # (line number, why) of lines that are not records
        self._told: set[tuple[int, str]] = set()
        self._runs_of: dict[str, set[str]] | None = None  # cell_id -> run ids already in the file (for appends)
        # The file's parsed lines, kept while its identity, size and mtime stay the same: a resume read it
        # three or four times over (set-up, the damage check, finished cells, the first append), and once
        # more after each server.
        self._parsed: tuple[tuple[int, int, int], list[StoredRecord | None], list[tuple[int, str]]] | None = None

    def create(self) -> int:
        """Make OUT ready for appending; returns the bytes of torn last lines removed (0 normally)."""
        if self.out.exists() and not self.out.is_dir():
            raise ConfigError(f"{self.out} is a file, not a results directory", "give --out a directory (new or holding results)")
        private_dir(self.out, "results directory")  # created 0700; someone else's directory (or a link) is refused
        torn = cut_torn_tail(self.jsonl)
        if self.jsonl.exists():
            self._rewrite_csv()  # results.csv is a view of results.jsonl; a failed or torn row is rebuilt
        return torn

    def _rewrite_csv(self) -> None:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for r in self.read(include_superseded=True):
            writer.writerow(flatten(to_dict(r)))
        replace_atomically(self.csv, buf.getvalue().encode())

    def lock(self) -> contextlib.AbstractContextManager[None]:
        """OUT's exclusive lock, for a whole run (OUT is created first, private to the user)."""
        private_dir(self.out, "results directory")
        return locked(self.out)

    def refuse_damage(self) -> None:
        """For --resume, which appends: refuse a results.jsonl with lines that are not records (reading
        skips them; a run adding to the file would bury them deeper), and say how to repair it."""
        self.read(include_superseded=True)
        if self.rejected:
            shown = "; ".join(f"line {n}: {why}" for n, why in self.rejected[:3])
            more = f" and {len(self.rejected) - 3} more" if len(self.rejected) > 3 else ""
            raise ConfigError(
                f"{self.jsonl} has {len(self.rejected)} damaged line(s) ({shown}{more}); --resume will not add to it",
                f"infermeter doctor {self.out}  (moves damaged lines to {DAMAGED_NAME}, keeps every record), then --resume again",
            )

    def has_results(self) -> bool:
        return self.jsonl.exists() and self.jsonl.stat().st_size > 0

    def append(self, record: StoredRecord | dict[str, Any]) -> None:
        """Validate and append one record (a dict is read as a record of its schema_version, 1 if absent). The first record of a cell in a new run supersedes that cell's
        records from earlier runs (an interrupted cell measured again)."""
        try:
            record = parse_record(migrate(record) if isinstance(record, dict) else record)
        except (ValidationError, UnknownSchema) as exc:  # a writer's bug: refuse it rather than store a record no reader can use
            raise ValueError(f"refusing to store an invalid record: {exc}") from None
        if self._runs_of is None:
            self._runs_of = {}
            for r in self._read_all(include_superseded=True):
                self._runs_of.setdefault(r.cell_id, set()).add(r.run_id)
        earlier = self._runs_of.setdefault(record.cell_id, set())
        if earlier - {record.run_id}:
            self.mark_superseded(record.cell_id, keep_run=record.run_id)
        earlier.add(record.run_id)
        data = to_dict(record)
        _append(self.jsonl, (json.dumps(data) + "\n").encode())
        if isinstance(record, CapacityResult):  # results.csv has a row per window; a search's answer is no window
            return
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        if not self.csv.exists() or self.csv.stat().st_size == 0:
            writer.writeheader()
        writer.writerow(flatten(data))
        _append(self.csv, buf.getvalue().encode())

    def mark_superseded(self, cell_id: str, keep_run: str) -> None:
        """Mark every record of `cell_id` not from `keep_run` superseded, in the file itself (atomic
        rewrite; lines are otherwise kept byte for byte)."""
        if not self.jsonl.exists():
            return
        lines = self.jsonl.read_bytes().splitlines(keepends=True)
        changed = False
        for i, line in enumerate(lines):
            try:
                raw = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue
            if isinstance(raw, dict) and raw.get("cell_id") == cell_id and raw.get("run_id") != keep_run and not raw.get("superseded"):
                raw["superseded"] = True
                lines[i] = (json.dumps(raw) + "\n").encode()
                changed = True
        if changed:
            replace_atomically(self.jsonl, b"".join(lines))
            self._rewrite_csv()

    def read(self, include_superseded: bool = False) -> list[AnyRecord]:
        """Every measurement record, migrated to the current schema and validated; superseded repeats left out
        unless asked for. Lines that are not records are skipped and listed in `self.rejected`. Capacity
        searches' answers are no measurement: capacity() has them."""
        return [r for r in self._read_all(include_superseded) if not isinstance(r, CapacityResult)]

    def capacity(self, include_superseded: bool = False) -> list[CapacityResult]:
        """The capacity searches' answers (their probes are windows among read()'s records)."""
        return [r for r in self._read_all(include_superseded) if isinstance(r, CapacityResult)]

    def _read_all(self, include_superseded: bool) -> list[StoredRecord]:
        self.rejected = []
        try:
            st = self.jsonl.stat()
        except FileNotFoundError:
            return []
        signature = (st.st_ino, st.st_size, st.st_mtime_ns)
        if self._parsed is not None and self._parsed[0] == signature:
            parsed, self.rejected = self._parsed[1], list(self._parsed[2])
        else:
            parsed = []
            with self.jsonl.open("rb") as f:
                for n, line in enumerate(f, start=1):
                    parsed.append(self._parse_line(n, line))
            self._parsed = (signature, parsed, list(self.rejected))
        for n, why in self.rejected:
            if (n, why) in self._told:
                continue
            self._told.add((n, why))
            _log.warning("%s line %d is not read: %s; the line is kept as it is", self.jsonl, n, why)
        stale = superseded_lines([(r.cell_id, r.run_id) if r else None for r in parsed])
        out = []
        for i, r in enumerate(parsed):
            if r is None:
                continue
            if i in stale and not r.superseded:
                r = r.model_copy(update={"superseded": True})
            if include_superseded or not r.superseded:
                out.append(r)
        return out

    def _parse_line(self, n: int, line: bytes) -> StoredRecord | None:
        if not line.strip():
            return None
        try:
            raw = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            if line.endswith(b"\n"):  # a torn last line (no newline) is expected after a kill; anything else is not
                self.rejected.append((n, "not JSON"))
            return None
        if not isinstance(raw, dict):
            self.rejected.append((n, f"a JSON {type(raw).__name__}, not a record"))
            return None
        try:
            return parse_record(migrate(raw))
        except UnknownSchema as exc:
            self.rejected.append((n, str(exc)))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first["loc"])
            self.rejected.append((n, f"not a valid record ({where}: {first['msg']})"))
        return None

    def records(self, include_superseded: bool = False) -> Iterator[dict[str, Any]]:
        """The records as plain dicts (the JSON shape), current schema, superseded repeats left out."""
        for r in self.read(include_superseded):
            yield to_dict(r)

    def finished_cells(self, records: Iterable[AnyRecord] | None = None) -> set[str]:
        """Cells that --resume need not run again: every repeat of the cell's latest attempt ok. (Skipped
        cells are planned afresh: the engine may have been installed since.) `records`: current records
        already read from this store."""
        ok: dict[str, set[int]] = {}
        needed: dict[str, int] = {}
        for r in self.read() if records is None else records:
            if r.superseded or isinstance(r, NotMeasured):
                continue
            if r.status == "ok":
                ok.setdefault(r.cell_id, set()).add(r.repeat)
                needed[r.cell_id] = r.repeats or 1
        return {cid for cid, reps in ok.items() if len(reps) >= needed[cid]}
