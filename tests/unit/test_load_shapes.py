"""Load shapes (ramp-up, think time, gamma arrivals, trace replay) and the per-second time series."""

from __future__ import annotations

import numpy as np
import pytest

from infermeter.errors import ConfigError
from infermeter.loadgen import series
from infermeter.loadgen.endpoint import build_plans
from infermeter.loadgen.fake_server import FakeHttpServer, FakeServerConfig
from infermeter.loadgen.generator import merge, run_plan
from infermeter.loadgen.schedule import arrivals, trace_times
from infermeter.loadgen.settings import LoadSettings, cli_settings, parse_think_time
from infermeter.protocols.http import HttpTarget

T = HttpTarget("http://127.0.0.1:9/x")


def test_gamma_of_shape_one_is_the_poisson_schedule_and_burstiness_sets_the_spread():
    assert np.array_equal(arrivals(50, 20, "gamma", seed=3, burstiness=1.0), arrivals(50, 20, "poisson", seed=3))
    for b in (0.25, 4.0):
        t = arrivals(200, 200, "gamma", seed=1, burstiness=b)
        gaps = np.diff(t)
        assert len(t) / 200 == pytest.approx(200, rel=0.05)  # the rate asked for
        assert gaps.std() / gaps.mean() == pytest.approx(1 / np.sqrt(b), rel=0.1)  # gamma's CV: 1/sqrt(shape)


def _trace(tmp_path, lines: str):
    p = tmp_path / "trace.csv"
    p.write_text(lines)
    return str(p)


def test_a_trace_is_replayed_at_the_rate_asked_for_keeping_its_shape(tmp_path):
    path = _trace(tmp_path, "# a burst of 3, then a quiet second\n0,0\n0.01,1\n0.02,2\n1.0,1\n")
    times, payloads = trace_times(path)
    assert payloads.tolist() == [0, 1, 2, 1]
    t = arrivals(8.0, 10.0, "trace", trace=times)  # the trace's own rate is 4 / (1.0 * 4/3) = 3/s
    assert len(t) == pytest.approx(80, abs=4)
    gaps = np.diff(t[:5]) / 1e9
    assert gaps[0] == pytest.approx(gaps[1]) and gaps[2] / gaps[0] == pytest.approx(98)  # the same shape, squeezed
    s = LoadSettings(arrival="trace", trace=path, min_seconds=10, min_requests=1, generator_processes=2)
    plans = build_plans(T, s, None, 8.0, 0)
    dealt = sorted(zip(plans[0].schedule_ns + plans[1].schedule_ns, plans[0].payloads + plans[1].payloads))
    assert [p for _, p in dealt][:8] == [0, 1, 2, 1, 0, 1, 2, 1]  # each arrival keeps its payload through the dealing


@pytest.mark.parametrize("text, why", [("1\n0.5\n", "go back"), ("0\nabc\n", "not SECONDS"), ("0\n", "at least two"),
                                       ("0,1\n1\n", "every line"), ("0\n-1\n", "finite and >= 0")])
def test_a_bad_trace_is_refused_with_its_line(tmp_path, text, why):
    with pytest.raises(ValueError, match=why):
        trace_times(_trace(tmp_path, text))
    with pytest.raises(ConfigError, match="--trace"):
        cli_settings(arrival="trace", trace=_trace(tmp_path, text))


def test_shape_settings_are_checked_and_left_out_of_old_cells_ids():
    assert parse_think_time("uniform:0.1-0.5") == ("uniform", 0.1, 0.5)
    assert parse_think_time("exponential:2") == ("exponential", 2.0, 2.0)
    for bad in ("uniform:0.5-0.1", "sometimes:1", "constant:x", "exponential:-1"):
        with pytest.raises(ConfigError, match="--think-time"):
            cli_settings(think_time=bad)
    with pytest.raises(ConfigError, match="burstiness"):
        cli_settings(burstiness=0.5)  # with poisson arrivals
    with pytest.raises(ConfigError, match="trace"):
        cli_settings(arrival="trace")
    # a cell measured before shapes existed keeps its id: the dump has no new keys at their defaults
    assert set(LoadSettings().model_dump()) == {"arrival", "warmup_s", "min_seconds", "min_requests", "max_seconds", "timeout_s",
                                               "repeats", "generator_processes", "seed"}
    assert LoadSettings(spawn_rate=5).model_dump()["spawn_rate"] == 5


def test_a_ramp_is_drawn_once_and_dealt_and_the_warm_up_covers_it():
    plans = build_plans(T, LoadSettings(spawn_rate=4, warmup_s=1, generator_processes=3), 10, None, 0)
    starts = sorted(a for p in plans for spans in p.user_spans for a, _ in spans)
    assert starts == pytest.approx([k / 4 for k in range(10)])
    assert all(p.warmup_s == 2.5 for p in plans) and [p.users for p in plans] == [4, 3, 3]


def test_ramp_and_think_time_show_in_the_series_and_littles_law_counts_the_think_time():
    s = LoadSettings(spawn_rate=4, warmup_s=0.5, think_time="constant:0.05", min_seconds=3, min_requests=1)
    with FakeHttpServer(FakeServerConfig(service_ms=10)) as srv:
        [plan] = build_plans(HttpTarget(srv.url), s, 8, None, 0)
        result = run_plan(plan)
    m = merge([result])
    ser = m["series"]
    assert ser["first_s"] == -2  # a 2 s ramp: the warm-up is 2 s
    assert ser["active"][:2] == [4, 8] and set(ser["active"][2:]) == {8}  # 4 users a second, then all 8
    assert sum(ser["completed"][2:]) >= m["requests"]  # the window's seconds hold its requests
    mean_s = m["latency_ms"]["mean"] / 1000
    assert m["throughput_rps"] * (mean_s + 0.05) == pytest.approx(8, rel=0.05)  # N = X (R + Z)


def test_series_of_two_shares_add_up_second_by_second():
    with FakeHttpServer(FakeServerConfig(service_ms=2)) as srv:
        s = LoadSettings(arrival="gamma", burstiness=0.5, warmup_s=0.3, min_seconds=2, min_requests=1, generator_processes=2)
        results = [run_plan(p) for p in build_plans(HttpTarget(srv.url), s, None, 100.0, 0)]
    merged = series.merge([r.series for r in results])
    assert merged["completed"] == [a + b for a, b in zip(results[0].series["completed"], results[1].series["completed"])]
    window = merge(results)
    assert sum(merged["completed"][1:]) >= window["requests"] > 0
    assert all(p99 >= p50 for p50, p99 in zip(merged["p50_ms"], merged["p99_ms"]) if p50 is not None)


def test_generator_cpus_pin_the_generator_and_the_record_says_which():
    import os

    from infermeter.loadgen.endpoint import measure_window

    core = min(os.sched_getaffinity(0))
    s = LoadSettings(generator_cpus=str(core), warmup_s=0.1, min_seconds=0.5, min_requests=1)
    with FakeHttpServer(FakeServerConfig(service_ms=1)) as srv:
        metrics, failure, _ = measure_window(build_plans(HttpTarget(srv.url), s, 2, None, 0))
    assert failure is None and metrics.generator_cpus == [core]
    assert os.sched_getaffinity(0) != {core} or len(os.sched_getaffinity(0)) == 1  # this process was not pinned
    with pytest.raises(ConfigError, match="--generator-cpus"):
        cli_settings(generator_cpus="9999")
    with pytest.raises(ConfigError, match="--generator-cpus"):
        cli_settings(generator_cpus="a-b")


def test_a_suite_load_section_takes_distribution_and_shapes():
    from infermeter.config import LoadSection

    section = LoadSection(users=[4], distributed=2, remote_workers=1, spawn_rate=2.0)
    assert section.generator_processes == 3
    assert LoadSettings.of(section, 0).spawn_rate == 2.0
    assert "distributed" not in LoadSection(users=[4]).model_dump()  # old suites' cells keep their ids
    for bad in (dict(remote_workers=2), dict(distributed=0), dict(distributed=2, generator_processes=4)):
        with pytest.raises(ValueError):
            LoadSection(users=[4], **bad)


def test_stages_become_each_users_spans():
    from infermeter.loadgen.shapes import parse_stages, stage_spans

    spans = stage_spans(parse_stages("10s:2,10:4@1,10:1,5:3"))
    assert spans[0] == ((0.0, 35.0),)  # the first user runs all along
    assert spans[1] == ((0.0, 20.0), (30.0, 35.0))  # stopped when the count fell to 1, back for the last stage
    assert spans[2] == ((10.0, 20.0), (30.0, 35.0)) and spans[3] == ((11.0, 20.0),)  # ramped at 1 user/s
    for bad in ("10:x", "0:5", "10:0", "10:5@0", "5000:1"):
        with pytest.raises(ValueError):
            parse_stages(bad)


def test_a_shaped_load_runs_one_window_and_its_series_follows_the_shape(tmp_path):
    import json
    import subprocess
    import sys

    shape = tmp_path / "shape.py"
    shape.write_text("def tick(t):\n    return None if t >= 3 else ((2, 10.0) if t < 1 else (5, 10.0) if t < 2 else (1, 10.0))\n")
    with FakeHttpServer(FakeServerConfig(service_ms=2)) as srv:
        run = subprocess.run([sys.executable, "-m", "infermeter.cli.main", "load", srv.url, "--shape", str(shape), "--warmup", "0",
                              "--repeats", "1", "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
        bad = subprocess.run([sys.executable, "-m", "infermeter.cli.main", "load", srv.url, "--stages", "1:2", "--users", "3",
                              "--out", str(tmp_path / "bad")], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr[-1500:]
    assert "1:2@10,1:5@10,1:1@10" in run.stderr  # the shape as it was read, kept in the record
    rec = json.loads((tmp_path / "out" / "results.jsonl").read_text().splitlines()[-1])
    assert rec["cell"]["scenario"] == "shaped" and rec["cell"]["settings"]["stages"] == "1:2@10,1:5@10,1:1@10"
    assert rec["metrics"]["series"]["active"][:3] == [2, 5, 1]
    assert bad.returncode == 2 and "leave out --users" in bad.stderr and "Traceback" not in bad.stderr
