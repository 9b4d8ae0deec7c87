import json
import subprocess
import sys

from infermeter.results.store import CSV_COLUMNS, ResultStore


def rec(cell, repeat, repeats=2, status="ok"):
    return {"cell_id": cell, "repeat": repeat, "repeats": repeats, "status": status, "cell": {"workload": "w"}, "metrics": {"requests": 3}}


def test_append_writes_jsonl_and_csv_rows(tmp_path):
    store = ResultStore(tmp_path)
    store.create()
    store.append(rec("a", 0))
    store.append(rec("a", 1))
    assert [r["repeat"] for r in store.records()] == [0, 1]
    lines = store.csv.read_text().splitlines()
    assert lines[0].split(",") == CSV_COLUMNS and len(lines) == 3


def test_torn_last_line_is_ignored(tmp_path):
    store = ResultStore(tmp_path)
    store.create()
    store.append(rec("a", 0))
    with store.jsonl.open("a") as f:
        f.write(json.dumps(rec("a", 1))[:20])  # killed mid-write
    assert len(list(store.records())) == 1


def test_resuming_after_a_torn_line_keeps_the_next_record(tmp_path):
    """The next append must not be glued to the torn fragment (both would be lost on reading)."""
    store = ResultStore(tmp_path)
    store.create()
    store.append(rec("a", 0))
    with store.jsonl.open("a") as f:
        f.write(json.dumps(rec("a", 1))[:20])
    resumed = ResultStore(tmp_path)
    assert resumed.create() == 20
    resumed.append(rec("a", 1))
    assert [r["repeat"] for r in resumed.records()] == [0, 1]
    assert len(resumed.csv.read_text().splitlines()) == 3  # header + the two whole records


# Run in a child whose file-size limit the kernel enforces: each write past it fails (EFBIG), as on a
# full disk (ENOSPC); a write that straddles the limit is partly taken, as a filling disk does.
FULL_DISK = """
import json, resource, sys
from infermeter.errors import ResultsWriteError
from infermeter.results.store import ResultStore
store = ResultStore(__import__("pathlib").Path(sys.argv[1]))
store.create()
resource.setrlimit(resource.RLIMIT_FSIZE, (3000, 3000))
n = 0
try:
    for i in range(100):
        store.append({"cell_id": "c", "repeat": i, "repeats": 100, "status": "ok", "cell": {"pad": "x" * 200}, "metrics": {}})
        n += 1
except ResultsWriteError as exc:
    print(json.dumps({"written": n, "error": str(exc), "code": exc.exit_code}))
"""


def test_a_full_disk_leaves_only_whole_records_and_a_clear_error(tmp_path):
    r = subprocess.run([sys.executable, "-c", FULL_DISK, str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert 0 < out["written"] < 100 and out["code"] == 8
    assert "File too large" in out["error"] and "intact" in out["error"] and "--resume" in out["error"]
    text = (tmp_path / "results.jsonl").read_text()
    assert text.endswith("\n")
    assert [json.loads(line)["repeat"] for line in text.splitlines()] == list(range(out["written"]))


def test_finished_cells_need_every_repeat_ok(tmp_path):
    store = ResultStore(tmp_path)
    store.create()
    skip = {"cell_id": "skip", "status": "skipped", "error": "not installed", "cell": {"workload": "w"}}
    for r in (rec("done", 0), rec("done", 1), rec("half", 0), rec("bad", 0, status="failed"), skip):
        store.append(r)
    assert store.finished_cells() == {"done"}


def test_a_file_unchanged_since_the_last_read_is_not_parsed_again(tmp_path, monkeypatch):
    """A resume read results.jsonl three or four times before measuring anything, and again after each
    server; each read after the first now costs a stat, until the file changes."""
    store = ResultStore(tmp_path)
    store.create()
    store.append(rec("a", 0))
    store.append(rec("a", 1))
    parsed = []
    real = store._parse_line
    monkeypatch.setattr(store, "_parse_line", lambda n, line: parsed.append(n) or real(n, line))
    store.refuse_damage()
    store.finished_cells()
    assert [r.repeat for r in store.read()] == [0, 1]
    assert parsed == [1, 2]
    store.append(rec("b", 0))  # the file changed: read again, and the new record is there
    assert [r.cell_id for r in store.read()] == ["a", "a", "b"]
    assert parsed == [1, 2, 1, 2, 3]
