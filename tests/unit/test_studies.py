"""The studies (studies/registry.py, claims.py): every study's quick and full suites parse and plan, and each
claim's verdict follows the records: supported, contradicted, or not decidable with the reason."""

import json
import subprocess
import sys

import numpy as np
import pytest

from infermeter.config import plan, plan_servers
from infermeter.errors import ConfigError
from infermeter.reports.content import build_report
from infermeter.results import histogram, stats
from infermeter.results.record import parse_record
from infermeter.studies.claims import Claim, check
from infermeter.studies.registry import studies, study, study_of_suite

EXPECTED = {"dl-serving", "serving-cost", "engines", "ort-tensorrt"}


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "infermeter.cli.main", *args], capture_output=True, text=True)


def _window(server, users, rep, rps, mean_ms, workload="resnet50", status="ok"):
    ns = np.full(50, mean_ms * 1e6)
    return parse_record({"schema_version": 2, "kind": "server", "cell_id": f"{server}-{users}", "status": status, "repeat": rep,
                         "repeats": 3, "run_id": "r1", "cell": {"workload": workload, "server": server, "server_settings": {},
                                                                "scenario": "closed-loop", "users": users, "rate": None},
                         "server": {"name": server, "label": server},
                         "metrics": {"latency_hdr": histogram.encode(histogram.from_ns(ns)), "latency_ms": stats.latency_summary_ms(ns),
                                     "throughput_rps": rps}})


def _claim(**kw):
    base = {"id": "c", "text": "a beats b", "metric": "throughput", "workload": "resnet50", "users": 10,
            "better": ["server:a"], "than": ["server:b"]}
    return Claim(**(base | kw))


def test_every_study_is_listed_and_its_suites_plan():
    found = studies()
    assert set(found) == EXPECTED
    for s in found.values():
        assert s.claims and s.title and s.year > 2000
        for full in (False, True):
            suite = s.suite(full)
            assert suite.name == f"study-{s.name}" + ("-full" if full else "")
            assert study_of_suite(suite.name) == s
            assert plan(suite) or any(cells for _, _, cells in plan_servers(suite))
        for c in s.claims:  # every claim names a workload the full suite measures
            assert c.workload in s.suite(True).workloads


def test_dl_serving_full_has_the_study_settings():
    full = study("dl-serving").suite(True)
    assert full.load.users == [1, 10, 25, 50, 75, 100] and full.load.repeats == 5
    assert {"wav2vec2-base", "wav2vec2-base-50k", "bart-large-cnn", "bart-large-cnn-beam"} <= set(full.workloads)


def test_unknown_study_is_a_clear_error():
    with pytest.raises(ConfigError, match="unknown study 'nope'"):
        study("nope")
    r = _cli("study", "nope")
    assert r.returncode == 2 and "unknown study 'nope'" in r.stderr and "Traceback" not in r.stderr


def test_study_list_names_every_study():
    r = _cli("study", "--list")
    assert r.returncode == 0
    for name in EXPECTED:
        assert name in r.stdout


def test_claim_supported_contradicted_and_within_noise():
    a = [_window("a", 10, i, rps, 10.0) for i, rps in enumerate((50.0, 51.0, 52.0))]
    b = [_window("b", 10, i, rps, 12.0) for i, rps in enumerate((40.0, 41.0, 39.5))]
    assert check(_claim(), a + b).verdict == "supported"
    assert check(_claim(better=["server:b"], than=["server:a"]), a + b).verdict == "contradicted"
    close = [_window("b", 10, i, rps, 12.0) for i, rps in enumerate((49.0, 53.0, 51.5))]
    v = check(_claim(), a + close)
    assert v.verdict == "not decidable" and "within the noise" in v.reason
    assert check(_claim(metric="mean"), a + b).verdict == "supported"  # lower latency is better


def test_claim_on_a_target_not_measured_is_not_decidable_with_its_reason():
    a = [_window("a", 10, i, 50.0 + i, 10.0) for i in range(3)]
    v = check(_claim(), a)
    assert v.verdict == "not decidable" and "b was not measured at 10 users" in v.reason
    one = [_window("b", 10, 0, 40.0, 12.0)]
    assert "one repeat" in check(_claim(), a + one).reason
    other_point = [_window("b", 1, i, 40.0, 12.0) for i in range(3)]
    assert check(_claim(), a + other_point).verdict == "not decidable"


def test_claim_needs_its_load_point_and_well_formed_targets():
    with pytest.raises(ValueError, match="names its users"):
        _claim(users=None)
    with pytest.raises(ValueError, match="server:NAME or engine:NAME"):
        _claim(better=["triton"])


def test_report_of_a_study_run_has_its_findings():
    a = [_window("torchserve", 10, i, 50.0 + i, 10.0) for i in range(3)]
    b = [_window("triton", 10, i, 40.0 + i, 12.0) for i in range(3)]
    report = build_report(a + b, {"out": json.dumps({"name": "study-dl-serving"})})
    section = next(s for s in report.sections if s.title == "Study findings")
    rows = {row[0]: row for row in section.grids[0].rows}
    row = rows["TorchServe serves ResNet-50 at more requests/s than Triton and TF Serving under load"]
    assert row[3] == "not decidable" and "tfserving was not measured" in row[4]
    assert "torchserve 51" in row[5] and "triton 41" in row[5]
    assert not any(s.title == "Study findings" for s in build_report(a + b, {"out": json.dumps({"name": "mine"})}).sections)
