"""Energy: RAPL counters read right (wrap included), the estimate always labelled as one, GPU 'n/a' with
a reason, joules per inference = power / throughput."""

import time

import pytest

from infermeter.collectors.energy import EnergyWindow, rapl_domains


def fake_rapl(root, uj, max_uj=1_000_000_000):
    d = root / "intel-rapl:0"
    d.mkdir(parents=True, exist_ok=True)
    (d / "energy_uj").write_text(str(uj))
    (d / "max_energy_range_uj").write_text(str(max_uj))
    sub = root / "intel-rapl:0:0"  # a sub-domain (cores): inside the package figure, not added again
    sub.mkdir(exist_ok=True)
    (sub / "energy_uj").write_text("5")
    return d


def test_without_rapl_the_estimate_is_labelled_and_attributed(tmp_path):
    w = EnergyWindow(cpu_watts_per_core=10.0, rapl_root=tmp_path).start()
    time.sleep(0.2)
    e = w.result(cpu_seconds=0.2, inferences_per_s=100.0)  # one core busy for the window
    assert e["source"] == "estimate" and "not a measurement" in e["cpu_estimate"]["basis"]
    assert e["cpu_estimate"]["watts"] == pytest.approx(10.0, rel=0.2)
    assert e["joules_per_inference"] == pytest.approx(0.1, rel=0.2) and e["joules_per_1000"] == pytest.approx(100, rel=0.2)
    assert e["gpu"]["source"] in ("n/a", "nvml")
    if e["gpu"]["source"] == "n/a":
        assert "GPU" in e["gpu"]["reason"]


def test_rapl_is_measured_whole_package_and_survives_a_wrap(tmp_path):
    d = fake_rapl(tmp_path, uj=999_000_000)
    assert rapl_domains(tmp_path) == [d]
    w = EnergyWindow(rapl_root=tmp_path).start()
    (d / "energy_uj").write_text("1000000")  # wrapped: 1 J to the top plus 1 J after it
    e = w.result(cpu_seconds=None, inferences_per_s=50.0)
    assert e["source"] == "rapl" and "every process" in e["cpu_rapl"]["basis"]
    joules = e["cpu_rapl"]["watts"] * e["window_s"]
    assert joules == pytest.approx(2.0)
    assert e["joules_per_inference"] == pytest.approx(e["cpu_rapl"]["watts"] / 50.0)


def test_nothing_to_measure_or_attribute_says_so(tmp_path):
    e = EnergyWindow(rapl_root=tmp_path).start().result(cpu_seconds=None, inferences_per_s=10.0)
    assert e["source"] == "n/a" and "RAPL" in e["reason"] and "joules_per_inference" not in e
