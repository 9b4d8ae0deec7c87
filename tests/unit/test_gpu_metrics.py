"""GPU metrics over a window (issue 18), on the fake NVML: utilisation averaged over the window (not the last
reading), memory peaks for the device and for the measured processes only, energy from the device's counter
or, without one, sampled power x time labelled as such; clocks and temperature at both ends."""

from __future__ import annotations

import time

import pytest

from infermeter.collectors.energy import EnergyWindow
from infermeter.collectors.gpu import FakeNvml, GpuWindow


def ramp(i: int, t: float) -> dict[str, float]:
    """Utilisation climbs from 0 to 100% over the first 0.4 s and stays; 200 W (300 W on device 1)."""
    watts = 200.0 + 100 * i
    return {"util": min(100.0, 250 * t), "mem": 1000 + 4000 * min(t, 0.3), "power": watts, "energy_mj": watts * t * 1000,
            "clock": 1980 - 100 * min(t, 1.0), "temp": 40 + 10 * t}


def test_utilisation_is_averaged_over_the_window_and_memory_is_its_peak():
    api = FakeNvml(["H200-fake", "H200-fake"], ramp, pids={41: 700.0, 42: 300.0, 99: 5000.0})
    w = GpuWindow(api, pids=lambda: [41, 42], interval_s=0.02).start()
    time.sleep(0.8)
    g = w.result()
    d0, d1 = g["devices"]
    assert d0["samples"] >= 20 and d0["utilization_max_percent"] == 100.0
    assert 60 < d0["utilization_mean_percent"] < 90  # about 75% over 0.8 s; the last reading alone says 100
    assert d0["memory_peak_mb"] == pytest.approx(2200, rel=0.01) and d0["process_memory_peak_mb"] == 1000.0  # not pid 99's
    assert d0["energy_source"] == "energy counter" and d0["watts"] == pytest.approx(200, rel=0.05)
    assert d1["watts"] == pytest.approx(300, rel=0.05) and g["watts"] == pytest.approx(500, rel=0.05)
    assert d0["sm_clock_mhz"][0] > d0["sm_clock_mhz"][1] and d0["temperature_c"][0] < d0["temperature_c"][1]


def test_without_an_energy_counter_power_is_sampled_and_labelled():
    api = FakeNvml(["T4-fake"], ramp, energy_counter=False)
    w = GpuWindow(api, interval_s=0.02).start()
    time.sleep(0.3)
    [d] = w.result()["devices"]
    assert d["energy_source"].startswith("sampled power") and d["watts"] == pytest.approx(200.0)
    assert d["joules"] == pytest.approx(200.0 * 0.3, rel=0.2) and d["process_memory_peak_mb"] is None  # no processes named


def test_the_energy_block_adds_the_gpus_power_to_joules_per_inference(tmp_path):
    api = FakeNvml(["H200-fake"], ramp)
    w = EnergyWindow(cpu_watts_per_core=10.0, rapl_root=tmp_path, gpus=lambda: (api, None)).start()
    time.sleep(0.3)
    e = w.result(cpu_seconds=0.3, inferences_per_s=100.0)  # 10 W of CPU estimate + 200 W of GPU
    assert e["gpu"]["source"] == "nvml" and e["gpu"]["devices"][0]["name"] == "H200-fake"
    assert e["joules_per_inference"] == pytest.approx(2.1, rel=0.1)


def test_no_gpu_is_n_a_with_its_reason(tmp_path):
    e = EnergyWindow(rapl_root=tmp_path, gpus=lambda: (None, "NVML sees no GPU")).start().result(None, 10.0)
    assert e["gpu"] == {"source": "n/a", "reason": "NVML sees no GPU"}


def test_the_report_has_a_gpu_section_only_where_a_window_had_nvml_figures(tmp_path, cache_root):
    from infermeter.config import parse_suite
    from infermeter.reports.content import build_report
    from infermeter.results.store import ResultStore
    from infermeter.runner import run_suite

    suite = parse_suite({"workloads": ["fake-tiny"], "engines": [{"name": "fake", "settings": {"service_ms": 1.0}}],
                         "scenarios": [{"kind": "offline", "batch_sizes": [1]}], "warmup": {"iterations": 2, "seconds": 0},
                         "measure": {"repeats": 1, "min_iterations": 10, "min_seconds": 0.05, "max_seconds": 5}})
    run_suite(suite, tmp_path / "out", cache_root=cache_root, isolation="none")
    records = ResultStore(tmp_path / "out").read()
    if records[0].metrics.energy.model_dump()["gpu"]["source"] != "n/a":
        pytest.skip("this machine has a GPU: its windows carry NVML figures already")
    assert not [s for s in build_report(records, {}).sections if s.title == "GPU"]
    gpu = GpuWindow(FakeNvml(["H200-fake"], ramp), pids=lambda: [], interval_s=0.02).start().result()
    for r in records:
        r.metrics.energy = r.metrics.energy.model_copy(update={"gpu": gpu})
    [section] = [s for s in build_report(records, {}).sections if s.title == "GPU"]
    assert "0: H200-fake" in section.grids[0].rows[0] and section.grids[0].rows[0][0] == "fake-tiny on fake[service_ms=1.0]"


def test_gpu_figures_memory_against_batch_and_power_against_throughput_from_the_windows_blocks(tmp_path, cache_root):
    """A cell's GPU summary comes from its windows' NVML blocks (peak: max over repeats; utilisation and
    power: over repeats), and the GPU section draws them; none of it exists for windows without NVML."""
    from infermeter.config import parse_suite
    from infermeter.reports.content import build_report
    from infermeter.results.store import ResultStore
    from infermeter.results.summary import summarise
    from infermeter.runner import run_suite

    suite = parse_suite({"workloads": ["fake-tiny"], "engines": [{"name": "fake", "settings": {"service_ms": 1.0}}],
                         "scenarios": [{"kind": "offline", "batch_sizes": [1, 4]}], "warmup": {"iterations": 2, "seconds": 0},
                         "measure": {"repeats": 2, "min_iterations": 10, "min_seconds": 0.05, "max_seconds": 5}})
    run_suite(suite, tmp_path / "out", cache_root=cache_root, isolation="none")
    records = ResultStore(tmp_path / "out").read()
    if records[0].metrics.energy.gpu["source"] != "n/a":
        pytest.skip("this machine has a GPU: its windows carry NVML figures already")
    assert all(s.gpu is None for s in summarise(records))
    for r in records:  # batch 4 asks for more memory and more power; the second repeat peaks higher
        scale = r.cell["batch_size"] * (1 + r.repeat)
        gpu = GpuWindow(FakeNvml(["H200-fake"], lambda i, t, k=scale: {**ramp(i, t), "mem": 1000.0 * k, "power": 100.0 * k,
                                                                       "energy_mj": 100.0 * k * t * 1000}),
                        pids=lambda: [], interval_s=0.02).start().result()
        r.metrics.energy = r.metrics.energy.model_copy(update={"gpu": gpu})
    by_batch = {s.batch_size: s.gpu for s in summarise(records)}
    assert by_batch[1].memory_peak_mb == 2000.0 and by_batch[4].memory_peak_mb == 8000.0  # max over the two repeats
    assert by_batch[4].watts.mean == pytest.approx(600, rel=0.1) and by_batch[4].watts.n == 2
    [section] = [s for s in build_report(records, {}).sections if s.title == "GPU"]
    ids = {f.id for f in section.figures}
    assert ids == {"gpu-memory-vs-batch-fake-tiny", "power-vs-throughput-fake-tiny"}, ids
    [memory] = [f for f in section.figures if f.id.startswith("gpu-memory")]
    assert [(p.x, p.y) for p in memory.series[0].points] == [(1, 2000.0), (4, 8000.0)]
