"""The capacity search (bracketing, bisection, vetoes, limits), the decision each window makes, the records
and the command against the fake server."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from infermeter.capacity.probes import decide
from infermeter.capacity.search import search
from infermeter.results import histogram
from infermeter.results.record import CapacityProbe, CapacityResult, LoadMetrics, LoadWindow
from infermeter.results.slo import assess, parse_slo
from infermeter.results.warnings import warning


def threshold(capacity: float, veto_above: float | None = None):
    """A target that meets the SLO up to `capacity` (and whose generator gives out above `veto_above`)."""
    calls: list[float] = []

    def measure(load: float, step: int) -> CapacityProbe:
        calls.append(load)
        if veto_above is not None and load > veto_above:
            return CapacityProbe(load=load, decision="vetoed", why="generator")
        return CapacityProbe(load=load, decision="meets" if load <= capacity else "misses", why="")
    return measure, calls


@pytest.mark.parametrize("start", [1.0, 37.0, 500.0, 9000.0])
def test_the_rate_search_brackets_then_bisects_to_the_resolution(start):
    measure, calls = threshold(123.0)
    found = search(measure, mode="rate", start=start, resolution=0.02, floor=0.01, ceiling=1e5)
    assert found.stopped == "resolution" and found.capacity <= 123.0 < found.upper
    assert found.upper / found.capacity - 1 <= 0.02 and len(calls) == len(set(calls)) == len(found.probes)


def test_the_users_search_ends_one_user_apart():
    measure, calls = threshold(13)
    found = search(measure, mode="users", start=1, resolution=0.05, floor=1, ceiling=10_000)
    assert (found.capacity, found.upper, found.stopped) == (13, 14, "resolution")
    assert all(x == int(x) for x in calls) and calls[:5] == [1, 2, 4, 8, 16]


def test_no_load_meets_an_impossible_slo():
    measure, _ = threshold(0.0)
    found = search(measure, mode="rate", start=100, resolution=0.05, floor=100 / 64, ceiling=1e5)
    assert found.capacity is None and found.stopped == "no load meets it"


def test_a_generator_that_gives_out_first_is_a_ceiling_never_a_capacity():
    measure, _ = threshold(1000.0, veto_above=200.0)
    found = search(measure, mode="rate", start=50, resolution=0.05, floor=1, ceiling=1e5)
    assert found.stopped == "generator limit" and found.capacity <= 200 < found.upper


def test_the_ceiling_and_the_probe_limit_stop_the_search():
    measure, _ = threshold(1e9)
    found = search(measure, mode="rate", start=50, resolution=0.05, floor=1, ceiling=300)
    assert (found.capacity, found.upper, found.stopped) == (300, None, "ceiling")
    measure, _ = threshold(123.0)
    found = search(measure, mode="rate", start=1, resolution=1e-6, floor=0.01, ceiling=1e5, max_probes=10)
    assert found.stopped == "probe limit" and len(found.probes) == 10 and found.capacity <= 123 < found.upper


def test_bisection_steps_are_counted_for_the_probes_to_grow():
    steps: list[int] = []
    measure, _ = threshold(123.0)
    search(lambda x, step: (steps.append(step), measure(x, step))[1], mode="rate", start=50, resolution=0.02, floor=1, ceiling=1e5)
    bracketing = steps[:steps.index(1)]
    assert set(bracketing) == {0} and steps[len(bracketing):] == list(range(1, len(steps) - len(bracketing) + 1))


def test_the_simulated_single_server_queue_matches_mm1_exactly():
    from infermeter.validity import theory

    service = np.random.default_rng(1).exponential(0.002, 200_000)
    # M/M/1: time in system is exponential with rate mu - lambda; its p99 is within 20 ms at 500 - ln(100) / 0.02 per s.
    assert theory.capacity_for_quantile(service, 0.99, 0.020) == pytest.approx(500 - np.log(100) / 0.020, rel=0.02)
    assert theory.capacity_for_quantile([0.002], 0.99, 0.001) == 0.0  # below the service time: no rate


def test_the_knee_is_the_last_load_whose_median_stayed_within_twice_the_unloaded():
    probes = [CapacityProbe(load=x, decision="meets", why="", p50_ms=p50) for x, p50 in ((10, 5.0), (20, 9.0), (40, 11.0))]
    from infermeter.capacity.search import SearchOutcome

    assert SearchOutcome("rate", 40, None, "ceiling", 0.05, probes).knee(5.0) == 20
    assert SearchOutcome("rate", 40, None, "ceiling", 0.05, probes).knee(None) is None


def window(latencies_ms, slo_text="p99<=10ms", failures=0, unsent=0, warnings=(), window_s=10.0, latest_send_ms=None):
    lat = np.asarray(latencies_ms, dtype=float)
    h = histogram.from_ns((lat * 1e6).astype(np.int64))
    m = LoadMetrics(latency_ms=histogram.summary_ms(h), latency_hdr=histogram.encode(h), requests=len(lat), ok=len(lat) - failures,
                    failures=failures, unsent=unsent, window_s=window_s,
                    issue_lag_ms=None if latest_send_ms is None else {"p99": latest_send_ms, "max": latest_send_ms})
    return LoadWindow(run_id="r", cell_id="c", cell={}, status="ok", repeat=0, repeats=1, metrics=m, slo=assess(parse_slo(slo_text), m),
                      warnings=list(warnings))


def test_a_window_meets_misses_or_is_decided_by_its_measured_share():
    slo = parse_slo("p99<=10ms")
    assert decide(window([5.0] * 1000), slo, "rate", 100, 100).decision == "meets"
    assert decide(window([5.0] * 900 + [20.0] * 100), slo, "rate", 100, 100).decision == "misses"
    # 5 of 1000 past: within p99 as measured, not proven at 99%: the measured share decides, and says so
    p = decide(window([5.0] * 995 + [20.0] * 5), slo, "rate", 100, 100)
    assert p.verdict == "not proven" and p.decision == "meets" and "as measured" in p.why
    p = decide(window([5.0] * 985 + [20.0] * 15), slo, "rate", 100, 100)
    assert p.verdict == "not proven" and p.decision == "misses"


def test_a_saturated_open_loop_misses_whatever_its_percentile():
    slo = parse_slo("p99<=10ms")
    p = decide(window([5.0] * 1000, unsent=50), slo, "rate", 150, 150)  # 1000 in 10 s: 100/s of 150/s offered
    assert p.decision == "misses" and p.saturated and "saturated" in p.why and "50 never sent" in p.why


def test_the_generators_own_checks_veto_a_miss_the_target_kept_up_with():
    slo = parse_slo("p99<=10ms")
    late = warning("schedule-not-kept", "schedule not kept: p99 send lag 9 ms > 5 ms; requests left late")
    p = decide(window([5.0] * 900 + [20.0] * 100, warnings=[late]), slo, "rate", 100, 100)
    assert p.decision == "vetoed" and "p99 send lag 9 ms" in p.why and "misses" in p.why
    busy = warning("generator-saturated", "generator saturated")
    assert decide(window([5.0] * 1000, warnings=[busy]), slo, "users", 4).decision == "vetoed"  # fewer sent than 4 users would
    # late because the target fell behind (the send lag waited for connections): a miss, not a veto
    assert decide(window([5.0] * 1000, unsent=300, warnings=[late]), slo, "rate", 200, 200).decision == "misses"


def test_an_open_loop_pass_despite_a_late_generator_stands_as_conservative():
    # TorchServe here: its workers took both cores, the generator woke 5-38 ms late at every rate with every
    # probe inside the SLO, and vetoes halved the search to its floor ("no load meets it").
    slo = parse_slo("p99<=10ms")
    late = warning("schedule-not-kept", "schedule not kept: p99 send lag 9 ms > 5 ms; requests left late")
    p = decide(window([5.0] * 1000, warnings=[late]), slo, "rate", 100, 100)
    assert p.decision == "meets" and "conservative" in p.why and "send lag 9 ms" in p.why


def test_an_open_loop_miss_beyond_what_lateness_could_add_stands():
    # MLServer here: p90 8.1 s at 3.3/s with a p99 send lag of 10 ms had been vetoed as "the generator's lateness"
    slo = parse_slo("p99<=10ms")
    late = warning("schedule-not-kept", "schedule not kept: p99 send lag 9 ms > 5 ms; requests left late")
    p = decide(window([5.0] * 900 + [40.0] * 100, warnings=[late], latest_send_ms=9), slo, "rate", 100, 100)
    assert p.decision == "misses" and "the miss stands" in p.why and "18 ms" in p.why
    # 15 ms against 10 + 2 x 9: lateness on both sides of a request could explain it, so the window proves nothing
    assert decide(window([5.0] * 900 + [15.0] * 100, warnings=[late], latest_send_ms=9), slo, "rate", 100, 100).decision == "vetoed"
    # a saturated generator may also have read the answers late by more than it sent late: still vetoed
    busy = warning("generator-saturated", "generator saturated")
    assert decide(window([5.0] * 900 + [40.0] * 100, warnings=[busy, late], latest_send_ms=9), slo, "rate", 100, 100).decision == "vetoed"


def test_a_search_whose_every_probe_is_vetoed_blames_the_generator_not_the_target():
    def measure(load: float, step: int) -> CapacityProbe:
        return CapacityProbe(load=load, decision="vetoed", why="generator")
    found = search(measure, mode="rate", start=10, resolution=0.05, floor=10 / 64, ceiling=1e5)
    assert found.capacity is None and found.stopped == "generator limit"


def test_a_stop_rule_never_sees_a_veto_as_a_miss():
    asked: list[tuple[float | None, float | None]] = []
    measure, _ = threshold(1000.0, veto_above=200.0)
    search(measure, mode="rate", start=50, resolution=0.05, floor=1, ceiling=1e5, stop=lambda met, missed: asked.append((met, missed)) or False)
    assert asked and all(missed is None for _, missed in asked)


def test_a_capacity_record_round_trips_through_the_store_and_stays_out_of_the_windows(tmp_path):
    from infermeter.results.store import ResultStore

    store = ResultStore(tmp_path)
    store.create()
    w = window([5.0] * 100)
    store.append(w)
    result = CapacityResult(run_id="r", cell_id="s", cell={"target": "t"}, status="ok", mode="rate", slo="p99<=10ms", capacity=90.0,
                            upper=94.0, resolution=0.05, stopped="resolution", probes=[CapacityProbe(load=90, decision="meets", why="x")])
    store.append(result)
    fresh = ResultStore(tmp_path)
    assert [r.cell_id for r in fresh.read()] == ["c"] and fresh.capacity() == [result]
    assert len((tmp_path / "results.csv").read_text().splitlines()) == 2  # header + the window: the answer is no window


def cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "infermeter.cli.main", *args], capture_output=True, text=True, timeout=timeout)


def test_capacity_of_the_fake_server_in_both_loops_with_every_probe_kept(tmp_path):
    from infermeter.loadgen.fake_server import FakeHttpServer, FakeServerConfig

    out = tmp_path / "o"
    with FakeHttpServer(FakeServerConfig(service_ms=5, workers=1)) as srv:
        r = cli("capacity", srv.url, "--slo", "p90<=30ms", "--min-requests", "150", "--duration", "0.5", "--warmup", "0.2",
                "--resolution", "0.2", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "open loop capacity at p90<=30ms:" in r.stdout and "closed loop capacity at p90<=30ms:" in r.stdout
    lines = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    answers = [x for x in lines if x["kind"] == "capacity"]
    assert [a["mode"] for a in answers] == ["rate", "users"]
    rate = answers[0]
    # One worker of 5 ms serves at most ~200/s: the capacity is below that, and above a quarter of it.
    assert rate["stopped"] in ("resolution", "generator limit") and 50 < rate["capacity"] < 200 < rate["upper"] * 2
    windows = {x["cell_id"] for x in lines if x["kind"] == "load"}
    assert {p["cell_id"] for a in answers for p in a["probes"]} <= windows
    assert all(x["cell"]["capacity_probe"] for x in lines if x["kind"] == "load")


def test_capacity_resumes_without_measuring_a_probe_again(tmp_path):
    from infermeter.loadgen.fake_server import FakeHttpServer, FakeServerConfig

    out = tmp_path / "o"
    args = ["--slo", "p90<=30ms", "--min-requests", "100", "--duration", "0.3", "--warmup", "0", "--resolution", "0.3",
            "--mode", "users", "--out", str(out)]
    with FakeHttpServer(FakeServerConfig(service_ms=5, workers=1)) as srv:
        assert cli("capacity", srv.url, *args).returncode == 0
        before = (out / "results.jsonl").read_text().splitlines()
        sent = srv.requests
        again = cli("capacity", srv.url, *args, "--resume")
        resent = srv.requests - sent
    assert again.returncode == 0, again.stderr
    after = (out / "results.jsonl").read_text().splitlines()
    assert resent == 0 and len(after) == len(before) + 1  # the answer again; no window measured twice
    assert json.loads(after[-1])["capacity"] == json.loads(before[-1])["capacity"]


@pytest.mark.parametrize("args, said", [
    (["http://127.0.0.1:9/x"], "capacity needs an SLO"),
    (["http://127.0.0.1:9/x", "--slo", "p99 < 1"], "--slo:"),
    (["http://127.0.0.1:9/x", "--slo", "p99<=1ms", "--resolution", "0"], "--resolution"),
    (["http://127.0.0.1:9/x", "--slo", "p99<=1ms", "--mode", "fast"], "--mode"),
    (["http://127.0.0.1:9/x", "--slo", "p99<=1ms"], "nothing answers at 127.0.0.1:9"),
    (["resnet50", "--slo", "p99<=1ms"], "is not an http:// URL"),
    (["no-such-workload", "--engine", "onnxruntime", "--slo", "p99<=1ms"], "no-such-workload"),
    (["http://127.0.0.1:9/x", "--engine", "onnxruntime", "--slo", "p99<=1ms"], "--engine sizes a workload"),
])
def test_capacity_refuses_bad_input_with_a_clear_error(tmp_path, args, said):
    r = cli("capacity", *args, "--out", str(tmp_path / "o"), timeout=60)
    assert r.returncode == 2 and "Traceback" not in r.stderr + r.stdout, r.stderr
    assert said in r.stderr
    assert not (tmp_path / "o" / "results.jsonl").exists()


def test_capacity_of_an_engine_in_process_on_one_loaded_worker(tmp_path, cache_root):
    out = tmp_path / "o"
    r = cli("capacity", "fake-tiny", "--engine", "fake", "--slo", "p90<=6ms", "--min-requests", "100", "--duration", "0.2",
            "--resolution", "0.2", "--cache", str(cache_root), "--out", str(out))
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    answers = {x["mode"]: x for x in lines if x["kind"] == "capacity"}
    engine_windows = [x for x in lines if x["kind"] == "engine"]
    # The fake engine sleeps 1 ms a call: one caller serves at most ~1000/s; p90 within 6 ms holds well below that.
    assert 100 < answers["rate"]["capacity"] < 1000 and answers["users"]["capacity"] >= 1
    assert {x["cell"]["scenario"] for x in engine_windows} >= {"single-stream", "open-loop"}
    assert len({x["engine"]["label"] for x in engine_windows}) == 1 and all(x["parity"]["verdict"] for x in engine_windows)
    assert "sizes a workload" not in r.stderr and "open loop capacity at p90<=6ms" in r.stdout


def test_the_report_has_a_capacity_section_with_the_curve_and_every_probe():
    from infermeter.reports.content import build_report

    probes = [CapacityProbe(load=x, decision=d, why=f"probe at {x}", latency_ms=lat, p50_ms=lat / 3)
              for x, d, lat in ((25, "meets", 6.0), (50, "meets", 8.0), (100, "misses", 30.0), (70, "meets", 9.5))]
    result = CapacityResult(run_id="r", cell_id="s", cell={"label": "svc"}, status="ok", mode="rate", slo="p99<=10ms", capacity=70.0,
                            upper=100.0, resolution=0.05, stopped="probe limit", knee=50.0, unloaded_p50_ms=2.0, probes=probes)
    report = build_report([], {}, capacity=[result])
    [section] = [s for s in report.sections if s.title == "Capacity under the SLO"]
    assert [g.title for g in section.grids][:1] == ["capacity"] and len(section.grids[1].rows) == 4
    [fig] = section.figures
    names = [s.name for s in fig.series]
    assert names[:3] == ["p99", "p50", "bound p99<=10ms"] and {"capacity", "knee"} <= set(names)
    assert [p.x for p in fig.series[0].points] == [25, 50, 70, 100]  # in rate order, not probe order
    assert "no capacity" not in fig.caption and "70 requests/s offered" in fig.caption


def test_a_suites_server_is_deployed_once_and_searched_with_server_records(tmp_path, cache_root, monkeypatch):
    """The suite path on a real (if small) server: the stdlib-http plugin example, run from its source."""
    from pathlib import Path

    from infermeter.capacity.suite import run_suite_capacity
    from infermeter.config import Suite
    from infermeter.loadgen.settings import LoadSettings
    from infermeter.results.store import ResultStore
    from infermeter.servers.registry import SERVERS

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "data" / "plugins" / "infermeter-stdlib-server"))
    from infermeter_stdlib_server.adapter import StdlibHttp

    monkeypatch.setitem(SERVERS, "stdlib-http", StdlibHttp)
    suite = Suite(name="cap", workloads=["malware-gbt"], servers=["stdlib-http"])
    store = ResultStore(tmp_path / "o")
    store.create()
    settings = LoadSettings(warmup_s=0.2, min_seconds=0.3, min_requests=100, max_seconds=30, timeout_s=10, repeats=1)
    # The SLO leaves room: one user was 44 ms at p50 here while another job ran (p90 52 ms failed a 50 ms bound).
    results, skipped = run_suite_capacity(suite, store, "r", parse_slo("p90<=150ms"), ["users"], 100, settings, cache_root,
                                          resolution=0.5, max_users=8)
    assert not skipped and [r.mode for r in results] == ["users"]
    [answer] = results
    assert answer.capacity is not None and answer.capacity >= 1 and answer.cell["server"] == "stdlib-http"
    windows = store.read()
    assert {w.kind for w in windows} == {"server"} and all(w.answers.get("verdict") == "match" for w in windows)
    assert all(w.cell["capacity_probe"] and w.metrics.server_cpu_percent is not None for w in windows)


def test_capacity_of_a_suite_takes_its_slo_and_searches_each_engine(tmp_path, cache_root):
    suite = tmp_path / "s.yaml"
    suite.write_text("name: cap\nworkloads: [fake-tiny]\nengines: [{name: fake, settings: {service_ms: 2}}]\nslo: 'p90<=10ms'\n")
    out = tmp_path / "o"
    r = cli("capacity", str(suite), "--mode", "rate", "--min-requests", "100", "--duration", "0.2", "--resolution", "0.3",
            "--cache", str(cache_root), "--out", str(out))
    assert r.returncode == 0, r.stderr
    [answer] = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines() if '"kind": "capacity"' in x]
    assert answer["slo"] == "p90<=10ms" and answer["cell"]["engine"] == "fake[service_ms=2]" and answer["capacity"] > 50
    assert cli("capacity", str(suite), "--engine", "fake", "--out", str(tmp_path / "p")).returncode == 2


def test_a_low_rate_probe_is_stretched_to_hold_the_requests_a_verdict_needs():
    from infermeter.capacity.search import STRETCH, probe_window, requests_to_pass

    slo = parse_slo("p90<=500ms")
    needed = requests_to_pass(slo)
    assert needed > 20
    assert probe_window("rate", 10.0, 200, slo, 60.0) == (200, 60.0)  # fits: as asked
    assert probe_window("rate", 2.0, 200, slo, 60.0) == (96, 60.0)  # what fits in 0.8 x 60 s, more than a verdict needs
    n, max_s = probe_window("rate", 0.3, 200, slo, 60.0)  # 14 would fit: stretched for the `needed`
    assert n == needed and 60.0 < max_s <= STRETCH * 60.0 and n / 0.3 <= 0.8 * max_s + 1e-9
    assert probe_window("rate", 0.01, 200, slo, 60.0) == (1, STRETCH * 60.0)  # even the longest window holds too few
    assert probe_window("users", 1.0, 200, slo, 60.0) == (200, 60.0)


def test_the_search_stops_where_lower_rates_hold_too_few_requests_for_a_verdict():
    calls: list[float] = []

    def measure(load: float, step: int) -> CapacityProbe:  # misses at every rate; below 1/s too few to judge
        calls.append(load)
        return CapacityProbe(load=load, decision="misses", why="", verdict="fail" if load >= 1 else "too few samples")

    found = search(measure, mode="rate", start=8.0, resolution=0.05, floor=8 / 64, ceiling=1e5)
    assert (found.capacity, found.upper, found.stopped) == (None, 1.0, "too few requests")
    assert calls == [8.0, 4.0, 2.0, 1.0, 0.5]  # not on down to the floor
