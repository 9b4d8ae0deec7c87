"""SIGKILL of a running suite at an arbitrary moment: every completed result stays readable, --resume
finishes the suite without measuring finished cells again, and no process of the killed run is left."""

import json
import os
import signal
import subprocess
import sys
import time

import psutil

from infermeter.results.store import ResultStore

SUITE = """
name: crash
workloads: [fake-tiny]
engines: [{name: fake, settings: {service_ms: 2.0}}]
scenarios: [{kind: offline, batch_sizes: [1, 2, 3, 4, 5, 6]}]
warmup: {iterations: 1, seconds: 0, max_seconds: 3, window: 8}
measure: {repeats: 2, min_iterations: 5, min_seconds: 0.3, max_seconds: 5}
"""


def cli(*args):
    return [sys.executable, "-m", "infermeter.cli.main", *args]


def alive_after(pids: list[int], seconds: float = 5.0) -> list[int]:
    """Which of `pids` still run after up to `seconds`: the cell worker learns of its parent's death from the
    kernel (PR_SET_PDEATHSIG), a moment after it; anything alive after that outlived the run."""
    def alive() -> list[int]:
        out = []
        for p in pids:
            try:
                if psutil.Process(p).status() != psutil.STATUS_ZOMBIE:
                    out.append(p)
            except psutil.NoSuchProcess:
                pass
        return out

    deadline = time.monotonic() + seconds
    while (left := alive()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def test_sigkill_loses_no_finished_result_and_resume_completes(tmp_path):
    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE)
    out, cache = tmp_path / "out", tmp_path / "cache"
    run = subprocess.Popen(cli("run", str(suite), "--out", str(out), "--cache", str(cache)),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    results = out / "results.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and (not results.exists() or results.read_text().count("\n") < 3):
        time.sleep(0.05)
    family = [run.pid] + [c.pid for c in psutil.Process(run.pid).children(recursive=True)]
    os.killpg(run.pid, signal.SIGKILL)  # the runner and its cell worker, mid-measurement
    run.wait(10)

    before = list(ResultStore(out).records())
    assert 3 <= len(before) < 12, len(before)
    for line in results.read_text().splitlines():
        if line.strip():
            json.loads(line)  # every line written is whole: records are appended in one write and fsynced
    assert not alive_after(family), "a process of the killed run outlived it"

    finished_before = {r["cell_id"] for r in before if r["repeat"] == r["repeats"] - 1}
    r = subprocess.run(cli("run", str(suite), "--out", str(out), "--cache", str(cache), "--resume"),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    after = list(ResultStore(out).records())
    by_cell: dict[str, list] = {}
    for rec in after:
        by_cell.setdefault(rec["cell_id"], []).append(rec)
    assert len(by_cell) == 6
    for cell_id in finished_before:  # finished cells were not measured again
        assert len(by_cell[cell_id]) == 2
    assert all(any(x["status"] == "ok" and x["repeat"] == 1 for x in recs) for recs in by_cell.values())
