"""`infermeter compare`: differences that are noise are called so, real ones are found, and --fail-on
gates on them. Runs are made of synthetic repeats drawn from seeded distributions, so the verdicts are
deterministic."""

import json
import subprocess
import sys

import pytest
from conftest import synthetic_run as run_records

from infermeter.results.compare import breaches, compare_runs, holm, parse_fail_on
from infermeter.errors import ConfigError


def verdicts(cells):
    return {(c.label, d.metric): d.verdict for c in cells for d in c.diffs}


def test_two_runs_of_the_same_thing_are_not_significantly_different():
    cells, only_a, only_b = compare_runs(run_records(1), run_records(2))
    assert len(cells) == 2 and not only_a and not only_b
    assert set(verdicts(cells).values()) == {"not significant"}


def test_holm_adjusts_for_the_number_of_tests_and_skips_untested():
    adjusted = holm([0.01, 0.04, 0.03, float("nan")])
    assert adjusted[:3] == pytest.approx([0.03, 0.06, 0.06]) and adjusted[3] != adjusted[3]


def test_a_slower_run_is_found_worse_and_a_faster_one_better():
    slow = run_records(2, latency_ms=13.0, throughput=77.0)
    cells, _, _ = compare_runs(run_records(1), slow)
    v = verdicts(cells)
    assert v[("w on srv-c1, users 1", "p50")] == "worse" and v[("w on srv-c1, users 1", "throughput")] == "worse"
    p50 = next(d for d in cells[0].diffs if d.metric == "p50")
    assert 0.2 < p50.change < 0.45 and p50.p_value < 0.01  # 13 ms against 10 ms, with window-to-window noise
    back, _, _ = compare_runs(slow, run_records(1))
    assert verdicts(back)[("w on srv-c1, users 1", "throughput")] == "better"


def test_a_tiny_shift_is_not_called_real_and_one_repeat_cannot_be_tested():
    cells, _, _ = compare_runs(run_records(1, noise=0.0005), run_records(2, latency_ms=10.05, noise=0.0005))
    assert verdicts(cells)[("w on srv-c1, users 1", "p50")] == "not significant"  # below the 2% floor
    cells, _, _ = compare_runs(run_records(1, repeats=1), run_records(2, repeats=1))
    assert set(verdicts(cells).values()) == {"too few repeats"}


def test_cells_in_one_run_only_are_listed():
    _, only_a, only_b = compare_runs(run_records(1, cells=("c1", "c2")), run_records(2, cells=("c2", "c3")))
    assert only_a == ["w on srv-c1, users 1"] and only_b == ["w on srv-c3, users 1"]


def test_fail_on_thresholds_gate_only_significant_changes_in_their_direction():
    assert parse_fail_on("p99:+5%, throughput:-5%") == {"p99": 0.05, "throughput": -0.05}
    slow, _, _ = compare_runs(run_records(1), run_records(2, latency_ms=13.0, throughput=77.0))
    assert len(breaches(slow, parse_fail_on("p99:+5%,throughput:-5%"))) == 4  # two cells x two metrics
    assert breaches(slow, parse_fail_on("p99:+50%")) == []
    same, _, _ = compare_runs(run_records(1), run_records(2))
    assert breaches(same, parse_fail_on("p99:+0.1%,throughput:-0.1%")) == []
    for bad in ("p99:5%", "p99:+5", "latency:+5%", "p99"):
        with pytest.raises(ConfigError):
            parse_fail_on(bad)


def write_run(path, records):
    path.mkdir()
    (path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return str(path)


def cli(*args):
    return subprocess.run([sys.executable, "-m", "infermeter.cli.main", *args], capture_output=True, text=True)


def test_compare_command_prints_verdicts_and_exits_9_past_a_threshold(tmp_path):
    a = write_run(tmp_path / "a", run_records(1))
    same = write_run(tmp_path / "same", run_records(2))
    slow = write_run(tmp_path / "slow", run_records(2, latency_ms=13.0, throughput=77.0))
    r = cli("compare", a, same, "--fail-on", "p99:+5%")
    assert r.returncode == 0, r.stderr
    assert "not significant" in r.stdout and "worse" not in r.stdout
    r = cli("compare", a, slow, "--fail-on", "p99:+5%,throughput:-5%")
    assert r.returncode == 9 and "worse" in r.stdout and "regression" in r.stderr and "Traceback" not in r.stderr
    r = cli("compare", a, str(tmp_path / "nowhere"))
    assert r.returncode == 2 and "nowhere does not exist" in r.stderr
    r = cli("compare", a, write_run(tmp_path / "other", run_records(2, cells=("x",))))
    assert r.returncode == 2 and "no measured cell in common" in r.stderr


MACHINE = {"hostname": "box-1", "platform": "Linux-6.8.0-45-generic-x86_64-with-glibc2.39", "python": "3.11.9",
           "cpu_model": "AMD EPYC 7763 64-Core Processor", "logical_cpus": 2, "physical_cpus": 1, "affinity_cpus": 2,
           "memory_gb": 8.33, "gpu": None}
PACKAGES = {"infermeter": "0.1.0", "numpy": "2.1.0", "torch": "2.13.0"}


def with_meta(records, machine=None, packages=None):
    """The records of a run, each carrying this machine and these package versions (as every writer does)."""
    return [r | {"machine": MACHINE | (machine or {}), "packages": PACKAGES | (packages or {})} for r in records]


def test_metadata_diff_names_a_different_cpu_as_a_different_machine():
    from infermeter.results.metadata import metadata_diff

    d = metadata_diff(with_meta(run_records(1)), with_meta(run_records(2), machine={"cpu_model": "Intel Xeon 8375C"}))
    assert d.different_machines
    assert [(x.field, x.a, x.b) for x in d.diffs] == [("cpu_model", MACHINE["cpu_model"], "Intel Xeon 8375C")]


def test_metadata_diff_lists_software_and_hostname_without_calling_it_another_machine():
    from infermeter.results.metadata import metadata_diff

    d = metadata_diff(with_meta(run_records(1)),
                      with_meta(run_records(2), machine={"hostname": "ci-job-7", "python": "3.12.1", "memory_gb": 8.31},
                                packages={"torch": "2.14.0", "onnxruntime": "1.20.0"}))
    assert not d.different_machines
    assert [(x.field, x.a, x.b) for x in d.diffs] == [
        ("hostname", "box-1", "ci-job-7"), ("python", "3.11.9", "3.12.1"),
        ("package onnxruntime", "(absent)", "1.20.0"), ("package torch", "2.13.0", "2.14.0")]


def test_metadata_diff_of_one_machine_and_one_software_is_empty_and_mixed_runs_show_every_value():
    from infermeter.results.metadata import metadata_diff

    assert metadata_diff(with_meta(run_records(1)), with_meta(run_records(2))).diffs == ()
    mixed = with_meta(run_records(2, cells=("c1",))) + with_meta(run_records(3, cells=("c2",)), machine={"logical_cpus": 4})
    d = metadata_diff(with_meta(run_records(1)), mixed)
    assert d.different_machines and [(x.field, x.a, x.b) for x in d.diffs] == [("logical_cpus", "2", "2 | 4")]


def test_metadata_diff_without_machine_metadata_says_so_and_does_not_refuse():
    from infermeter.results.metadata import metadata_diff

    d = metadata_diff(run_records(1), with_meta(run_records(2)))
    assert not d.different_machines and "run A's records carry no machine metadata" in d.notes[0]


def test_compare_refuses_runs_from_different_machines_naming_the_difference(tmp_path):
    a = write_run(tmp_path / "a", with_meta(run_records(1)))
    b = write_run(tmp_path / "b", with_meta(run_records(2), machine={"cpu_model": "Intel Xeon 8375C", "physical_cpus": 2}))
    r = cli("compare", a, b)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "different machines" in r.stderr and "cpu_model" in r.stderr and "Intel Xeon 8375C" in r.stderr
    assert "physical_cpus" in r.stderr and "--allow-different-machines" in r.stderr
    assert "not significant" not in r.stdout  # no figures compared


def test_compare_with_allow_different_machines_lists_the_difference_then_compares(tmp_path):
    a = write_run(tmp_path / "a", with_meta(run_records(1)))
    b = write_run(tmp_path / "b", with_meta(run_records(2), machine={"cpu_model": "Intel Xeon 8375C"}))
    r = cli("compare", a, b, "--allow-different-machines")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "cpu_model" in out and "Intel Xeon 8375C" in out and "not significant" in out
    assert out.index("cpu_model") < out.index("not significant")  # named before the results


def test_compare_lists_a_different_torch_version_and_still_compares(tmp_path):
    a = write_run(tmp_path / "a", with_meta(run_records(1)))
    b = write_run(tmp_path / "b", with_meta(run_records(2), packages={"torch": "2.14.0"}))
    r = cli("compare", a, b)
    assert r.returncode == 0, r.stderr
    assert "torch" in r.stdout and "2.13.0" in r.stdout and "2.14.0" in r.stdout and "not significant" in r.stdout
    same = cli("compare", a, write_run(tmp_path / "same", with_meta(run_records(3))))
    assert same.returncode == 0 and "torch" not in same.stdout


def test_a_refusal_prints_values_that_look_like_markup_as_they_are(tmp_path):
    # Rich read "[/x]" in an error message as a closing tag and crashed with a traceback.
    a = write_run(tmp_path / "a", with_meta(run_records(1), machine={"gpu": {"name": "A100"}}))
    b = write_run(tmp_path / "b", with_meta(run_records(2), machine={"gpu": {"name": "[/x] H100"}}))
    r = cli("compare", a, b)
    assert r.returncode == 2 and "Traceback" not in r.stderr and "[/x] H100" in r.stderr
