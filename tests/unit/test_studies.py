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


def _engine_plan(suite):
    return {(c.workload, c.engine_label, c.batch_size) for c in plan(suite)}


def _server_plan(suite):
    return {(w, e.name, c.users) for w, e, cells in plan_servers(suite) for c in cells}


def _product(workloads, targets, points):
    return {(w, t, p) for w in workloads for t in targets for p in points}


SERVING = ("torchserve", "triton", "tfserving")
COST = ("tfserving", "torchserve", "mlserver", "mlflow", "bentoml")
ENGINES = ("tensorflow", "onnxruntime", "openvino", "tensorrt")
ORT = ("onnxruntime", "onnxruntime[provider=cuda]", "onnxruntime[fp16=true,provider=tensorrt]")
DL_FULL = ("resnet50", "wav2vec2-base-natural", "wav2vec2-base", "wav2vec2-base-50k", "bart-large-cnn", "bart-large-cnn-beam")
ENGINES_FULL = ("vgg19", "resnet50", "densenet201", "efficientnet_b0", "ensemble(vgg19,resnet50,densenet201)")


@pytest.mark.parametrize("name,full,engines,servers,repeats,seconds", [
    ("dl-serving", False, set(), _product(["resnet50", "wav2vec2-base-50k"], SERVING, [1, 10]), 3, 5),
    ("dl-serving", True, set(), _product(DL_FULL, SERVING, [1, 10, 25, 50, 75, 100]), 5, 20),
    ("serving-cost", False, set(), _product(["resnet50"], COST, [1, 10]), 3, 5),
    ("serving-cost", True, set(), _product(["malware-gbt", "crypto-lstm", "resnet50", "sentiment-minilm"], COST, [1, 10, 50]), 5, 20),
    ("engines", False, _product(["resnet50"], ENGINES, [1, 8]), set(), 3, 2),
    ("engines", True, _product(ENGINES_FULL, ENGINES, [1, 8, 32, 128]), set(), 5, 5),
    ("ort-tensorrt", False, _product(["resnet50", "bert-base"], ORT, [1, 8]), set(), 3, 2),
    ("ort-tensorrt", True, _product(["resnet50", "bert-base"], ORT + ("onnxruntime[provider=tensorrt]",), [1, 8, 32, 64]), set(), 5, 5),
])
def test_each_studys_plan_has_its_cells_and_settings(name, full, engines, servers, repeats, seconds):
    """What each study measures, quick and --full, without measuring it: every cell, the windows, the repeats."""
    suite = study(name).suite(full)
    assert _engine_plan(suite) == engines
    assert _server_plan(suite) == servers
    if servers:
        assert (suite.load.repeats, suite.load.min_seconds) == (repeats, seconds)
    else:
        assert (suite.measure.repeats, suite.measure.min_seconds) == (repeats, seconds)
        assert {s.kind for s in suite.scenarios} == {"offline"}


def test_the_studies_own_settings_where_they_matter():
    cost = study("serving-cost")
    for full in (False, True):
        suite = cost.suite(full)
        assert suite.cost.price_per_hour == 0.085  # a cost study prices every load point
        assert {e.settings.get("runtime") for e in suite.servers if e.name != "tfserving"} == {"onnxruntime"}  # only the framework differs
    engines = study("engines").suite(True)
    assert [e for e in engines.engines if e.name == "tensorflow"][0].settings == {}  # no XLA on the CPU, as the study ran it
    dl = study("dl-serving").suite(True)
    assert {e.settings.get("threads") for e in dl.servers if e.name != "tfserving"} == {2}


def test_a_workload_whose_samples_cannot_be_batched_skips_batches_and_server_batching(monkeypatch):
    """Clips of their own lengths are measured one per call: a batch would pad them to one length, which is
    another workload (wav2vec2-base)."""
    from infermeter.config import parse_suite
    from infermeter.server_cells import _cannot_batch
    from infermeter.servers.registry import adapter_for
    from infermeter.testing.workload import FakeTiny

    monkeypatch.setattr(FakeTiny, "unbatchable", "its samples differ in shape")
    suite = parse_suite({"workloads": ["fake-tiny"], "engines": ["fake"], "scenarios": [{"kind": "offline", "batch_sizes": [1, 4]}]})
    reasons = {c.batch_size: c.skip_reason for c in plan(suite)}
    assert reasons[1] is None and reasons[4] == "fake-tiny is measured one sample per call: its samples differ in shape"
    assert "server-side batching (max_batch_size 4)" in _cannot_batch("fake-tiny", adapter_for("litserve", {"max_batch_size": 4}))
    assert _cannot_batch("fake-tiny", adapter_for("litserve", {})) is None


def test_a_servers_only_suite_is_not_refused_for_having_no_engine(tmp_path, monkeypatch):
    """`infermeter study dl-serving` (servers only) stopped at once with "no engine of this suite is installed"."""
    import infermeter.runner
    from infermeter.cli import main
    from infermeter.config import parse_suite

    class Reached(Exception):
        pass

    def run_suite(*args, **kwargs):
        raise Reached

    monkeypatch.setattr(infermeter.runner, "run_suite", run_suite)
    suite = parse_suite({"workloads": ["fake-tiny"], "servers": ["litserve"]})
    assert not suite.engines
    with pytest.raises(Reached):
        main._run_locked(suite, tmp_path, False, None, True, False, False)
