"""One measurement window: collectors read in order, closed in reverse, and their fields combined."""

import subprocess
import sys
import time

import psutil
import pytest

from infermeter.collectors.window import (
    Energy, OwnCPU, ProcessTree, Reading, ServerCounters, SystemCPU, Window, endpoint_window, engine_window,
)


class Recorder:
    def __init__(self, name, log):
        self.name, self.log = name, log

    def start(self):
        self.log.append(f"start {self.name}")

    def stop(self):
        self.log.append(f"stop {self.name}")

    def fields(self, reading):
        return {self.name: reading.wall_s}


def test_collectors_start_in_order_and_stop_in_reverse():
    log = []
    w = Window([Recorder("outer", log), Recorder("inner", log)])
    with w:
        log.append("work")
    assert log == ["start outer", "start inner", "work", "stop inner", "stop outer"]
    f = w.fields()
    assert f["outer"] == f["inner"] > 0


def test_fields_of_an_open_window_are_refused():
    w = Window([]).start()
    with pytest.raises(RuntimeError):
        w.fields()


def spin(seconds):
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_own_cpu_counts_this_process_and_other_cpu_the_rest():
    w = Window([OwnCPU(), SystemCPU(others=True)]).start()
    spin(0.3)
    wall = w.stop()
    f = w.fields()
    assert f["cpu_percent"] / 100 * wall == pytest.approx(0.3, abs=0.05)  # CPU seconds, whatever else runs
    assert f["other_cpu_percent"] >= 0
    assert f["system_cpu_percent"] >= f["cpu_percent"] - 1  # the machine includes this process


def test_a_server_tree_is_measured_and_its_cpu_feeds_the_energy_estimate():
    child = subprocess.Popen([sys.executable, "-c", "import time\nend = time.process_time() + 5\nwhile time.process_time() < end: pass"])
    try:
        time.sleep(0.2)
        proc = psutil.Process(child.pid)
        w = Window([Energy(10.0), ProcessTree(lambda: [proc]), SystemCPU()]).start()
        time.sleep(0.5)
        wall = w.stop()
        f = w.fields(throughput=100.0)
        seen = sum(proc.cpu_times()[:2])  # the child's CPU so far, read by hand after the window
    finally:
        child.kill()
        child.wait()
    assert 0.02 < f["server_cpu_percent"] / 100 * wall <= seen and f["server_rss_mb"] > 1
    estimate = f["energy"]["cpu_estimate"]
    assert estimate["watts"] == pytest.approx(f["server_cpu_percent"] / 100 * 10.0, rel=0.05)
    assert f["energy"]["joules_per_inference"] == pytest.approx(
        (f["energy"].get("cpu_rapl") or estimate)["watts"] / 100.0, rel=1e-6)


def test_server_counters_give_per_request_means_and_survive_a_failing_read():
    reads = iter([{"requests_total": 10, "inference_us_total": 5000}, {"requests_total": 30, "inference_us_total": 65000}])
    c = ServerCounters(lambda: next(reads))
    c.start()
    c.stop()
    assert c.fields(Reading(1.0)) == {"server_requests": 20, "inference_ms_mean": 3.0}

    def broken():
        raise ConnectionError("metrics endpoint down")

    c = ServerCounters(broken)
    c.start()
    c.stop()
    assert c.fields(Reading(1.0)) == {"server_requests": 0}


def test_an_endpoint_window_never_guesses_energy_from_cpu():
    w = endpoint_window().start()
    w.stop()
    f = w.fields(throughput=50.0)
    assert "cpu_estimate" not in f["energy"] and "cpu_percent" not in f
    assert set(f) == {"energy", "system_cpu_percent"}


def test_the_engine_window_keeps_the_speed_probe_outside_the_cpu_accounting():
    w = engine_window().start()
    w.stop()
    f = w.fields(throughput=None)
    assert f["speed_probe_ms"] > 0
    # The probe sorts for ~25 ms at each end; inside the accounting it would show as CPU in an empty window.
    assert f["cpu_percent"] * f["energy"]["window_s"] / 100 < 0.02
