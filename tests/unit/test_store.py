import json

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


def test_finished_cells_need_every_repeat_ok(tmp_path):
    store = ResultStore(tmp_path)
    store.create()
    for r in (rec("done", 0), rec("done", 1), rec("half", 0), rec("bad", 0, status="failed"), rec("skip", 0, 1, "skipped")):
        store.append(r)
    assert store.finished_cells() == {"done"}
