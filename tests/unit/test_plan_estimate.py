"""A dry run shows what a suite would measure here and how long its windows and warm-ups take at the least
and at the most, and runs and writes nothing."""

import json
import subprocess
import sys

import pytest

from infermeter.config import parse_suite, plan
from infermeter.plan_estimate import estimate
from infermeter.reports.plan import span

SUITE = {
    "name": "plan", "workloads": ["fake-tiny"], "engines": ["fake"],
    "scenarios": [{"kind": "offline", "batch_sizes": [1, 4]}],
    "warmup": {"seconds": 3, "max_seconds": 20},
    "measure": {"repeats": 4, "min_seconds": 2, "max_seconds": 30},
}


def test_an_engine_cells_bounds_are_its_warm_up_and_its_windows():
    plan = estimate(parse_suite(SUITE))
    (target,) = plan.targets
    assert (target.kind, target.points, target.repeats) == ("engine", 2, 4)
    assert target.least_s == 2 * (3 + 4 * 2) and target.most_s == 2 * (20 + 4 * 30)
    assert plan.least_s == 22 and plan.most_s == 280


def test_a_server_point_is_its_repeats_of_warm_up_and_window(monkeypatch):
    from infermeter.servers.base import ServerAdapter

    monkeypatch.setattr(ServerAdapter, "missing", lambda self: None)  # as if its environment were installed
    suite = parse_suite({"name": "plan", "workloads": ["fake-tiny"], "servers": ["litserve"],
                         "load": {"users": [1, 10, 50], "warmup_s": 2, "min_seconds": 10, "max_seconds": 60, "repeats": 3}})
    (target,) = estimate(suite).targets
    assert (target.kind, target.points, target.repeats, target.skipped) == ("server", 3, 3, 0)
    assert target.least_s == 3 * 3 * (2 + 10) and target.most_s == 3 * 3 * (2 + 60)


def test_what_cannot_run_here_is_counted_apart_with_its_reason(monkeypatch, tmp_path):
    monkeypatch.setenv("INFERMETER_ENVS", str(tmp_path / "no-envs"))  # no framework environment installed
    suite = parse_suite({**SUITE, "servers": ["mlserver"], "load": {"users": [1, 10]}})
    server = next(t for t in estimate(suite).targets if t.kind == "server")
    assert (server.points, server.skipped, server.least_s) == (0, 2, 0)
    assert "infermeter servers install mlserver" in server.why_skipped


def test_with_resume_the_cells_out_holds_are_left_out():
    suite = parse_suite(SUITE)
    done = {plan(suite)[0].cell_id}
    (target,) = estimate(suite, done).targets
    assert (target.points, target.done, target.least_s) == (1, 1, 3 + 4 * 2)


@pytest.mark.parametrize("seconds, shown", [(45, "45 s"), (720, "12 min"), (3 * 3600 + 1440, "3.4 h")])
def test_a_span_reads_as_a_person_says_it(seconds, shown):
    assert span(seconds) == shown


def test_run_dry_run_prints_the_plan_and_writes_nothing(tmp_path):
    suite = tmp_path / "suite.yaml"
    suite.write_text(json.dumps(SUITE))
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "infermeter.cli.main", "run", str(suite), "--out", str(out), "--dry-run",
                        "--cache", str(tmp_path / "cache")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "plan: the plan (nothing is run)" in r.stdout and "measuring 2 points takes at least 22 s: every warm-up" in r.stdout and "at most 5 min" in r.stdout
    assert not out.exists() and not (tmp_path / "cache").exists()


def test_a_plan_with_nothing_to_measure_says_so():
    from infermeter.reports.plan import plan_grid

    suite = parse_suite(SUITE)
    grid = plan_grid(estimate(suite, {c.cell_id for c in plan(suite)}), "plan")
    assert grid.caption.startswith("nothing to measure here") and [row[3] for row in grid.rows] == ["2 already in OUT"]


def test_study_dry_run_shows_the_full_plan_and_what_cannot_run_here(tmp_path):
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "infermeter.cli.main", "study", "ort-tensorrt", "--full", "--dry-run", "--out", str(out)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "the plan (nothing is run)" in r.stdout and "cannot run" in r.stdout and "at most" in r.stdout
    assert not out.exists()


def test_the_dry_run_skips_what_the_run_skips(monkeypatch):
    # Server-side batching of clips that cannot be stacked: the run skips it; the dry run counted it as runnable.
    from infermeter.servers.base import ServerAdapter

    monkeypatch.setattr(ServerAdapter, "missing", lambda self: None)
    suite = parse_suite({"name": "plan", "workloads": ["wav2vec2-base-natural"], "load": {"users": [1, 10]},
                         "servers": [{"name": "litserve", "settings": {"max_batch_size": 4}}]})
    (target,) = estimate(suite).targets
    assert (target.points, target.skipped) == (0, 2) and "server-side batching (max_batch_size 4)" in target.why_skipped
