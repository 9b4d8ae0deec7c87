"""The serving-overhead decomposition and check (validity/overhead.py) and the in-process timing of a
server's pipeline (servers/reference.py), on synthetic pipelines and figures: no server, no ML package."""

import time

import pytest

from infermeter.config import parse_suite
from infermeter.servers.reference import time_pipeline
from infermeter.validity.overhead import assess, decompose, overhead_check


class SleepyPipeline:
    """A ServingModel's three stages (decode -> infer -> answers), each sleeping a set time per call."""

    def __init__(self, decode_s: float, model_s: float, post_s: float = 0.0) -> None:
        self.decode_s, self.model_s, self.post_s = decode_s, model_s, post_s

    def decode(self, payloads):
        time.sleep(self.decode_s * len(payloads))
        return {"x": payloads}

    def infer(self, batch):
        time.sleep(self.model_s)
        return batch["x"]

    def answers(self, outputs):
        time.sleep(self.post_s)
        return list(outputs)


def reference(pipeline, batch_sizes=(1,)):
    """A reference block of `pipeline`, as if measured on a quiet machine (the one running the tests may
    be busy: the tests that need contention set it)."""
    batches = [time_pipeline(pipeline, [b"a", b"b", b"c"], b, 0.2, 5) | {"other_cpu_percent": 0.0} for b in batch_sizes]
    return {"status": "ok", "batches": batches}


def window(client_p50, client_min=None, queue=None, compute=None, mean=None, counted=100):
    m = {"latency_ms": {"p50": client_p50, "mean": mean if mean is not None else client_p50,
                        "min": client_min if client_min is not None else client_p50},
         "requests": 100, "server_requests": counted}
    if compute is not None:
        m["inference_ms_mean"] = compute
    if queue is not None:
        m["queue_ms_mean"] = queue
    return m


def test_time_pipeline_times_each_stage_of_every_call():
    block = time_pipeline(SleepyPipeline(0.004, 0.010, 0.002), [b"a", b"b"], 2, min_seconds=0.1, min_calls=6)
    assert block["batch_size"] == 2 and block["calls"] >= 6 and block["warmup_calls"] >= 5 and not block["capped"]
    assert 8 <= block["decode_ms"]["p50"] < 20  # 2 payloads x 4 ms (a busy machine wakes sleepers late)
    assert block["model_ms"]["min"] >= 10 and block["postprocess_ms"]["min"] >= 2
    assert block["pipeline_ms"]["min"] >= block["decode_ms"]["min"] + block["model_ms"]["min"]
    assert block["pre_post_ms"]["min"] >= 10


def test_check_flags_a_slow_decode_naming_pre_processing():
    ref = reference(SleepyPipeline(decode_s=0.030, model_s=0.005))  # a tokenizer built per request
    pipeline = ref["batches"][0]["pipeline_ms"]
    d = decompose(window(pipeline["p50"] + 1.0, pipeline["min"] + 1.0), ref)
    assert d["pre_post_ms"] > 29 and d["serving_ms"] == pytest.approx(1.0) and d["beyond_model_ms"] > 30
    check = overhead_check(d, users=1)
    assert check["ok"] is False
    assert "pre-processing takes" in check["detail"] and "built per request" in check["detail"]
    assert "framework" not in check["detail"].split("; ", 1)[1]


def test_check_passes_a_fast_pipeline_behind_a_lean_server():
    ref = reference(SleepyPipeline(decode_s=0.0002, model_s=0.005))
    pipeline = ref["batches"][0]["pipeline_ms"]
    check = overhead_check(decompose(window(pipeline["p50"] + 1.5, pipeline["min"] + 1.5), ref), users=1)
    assert check["ok"] is True, check["detail"]


def test_framework_time_is_split_from_network_where_the_framework_reports_it():
    ref = reference(SleepyPipeline(decode_s=0.0, model_s=0.010))
    mean = ref["batches"][0]["pipeline_ms"]["mean"]
    # client 40 ms = 2 ms outside the framework + 38 ms reported (3 queue + 35 compute), pipeline ~10 ms
    d = decompose(window(40.0, 39.0, queue=3.0, compute=35.0, mean=40.0), ref)
    assert d["network_protocol_ms"] == pytest.approx(2.0)
    assert d["framework_ms"] == pytest.approx(38.0 - mean)
    assert d["network_protocol_ms"] + d["framework_ms"] + mean == pytest.approx(d["client_mean_ms"])
    check = overhead_check(d, users=1)
    assert not check["ok"] and "the framework adds" in check["detail"]
    # counters that also counted the warm-up requests: the split is kept, but no cause is named from it
    d = decompose(window(40.0, 39.0, queue=3.0, compute=35.0, mean=40.0, counted=140), ref)
    assert d["framework_requests"] == 140 and d["client_requests"] == 100
    assert "counters cover 140 requests, the client's window 100" in overhead_check(d, users=1)["detail"]
    # the same figures with nothing reported by the framework: one "serving" figure, said so
    d = decompose(window(40.0, 39.0), ref)
    assert d["framework_ms"] is None and d["network_protocol_ms"] is None
    assert "reports no time of its own" in overhead_check(d, users=1)["detail"]


def test_check_applies_only_with_one_request_in_flight_and_allows_the_batching_wait():
    ref = reference(SleepyPipeline(decode_s=0.0, model_s=0.005))
    p = ref["batches"][0]["pipeline_ms"]
    d = decompose(window(p["p50"] + 12, p["min"] + 12), ref)
    assert overhead_check(d, users=10) is None and overhead_check(d, users=None) is None
    assert overhead_check(d, users=1)["ok"] is False
    assert overhead_check(d, users=1, batch_wait_ms=10)["ok"] is True  # LitServe waits batch_timeout at 1 user


def test_contention_during_the_window_alone_is_not_flagged():
    """The server's p50 is high but its fastest requests are as fast as the pipeline in process: the
    machine was busy during that window, the server adds nothing."""
    ref = reference(SleepyPipeline(decode_s=0.0, model_s=0.005))
    p = ref["batches"][0]["pipeline_ms"]
    assert overhead_check(decompose(window(p["p50"] + 20, p["min"] + 1), ref), users=1)["ok"] is True


def test_assess_gives_the_decomposition_the_check_and_its_warning():
    ref = reference(SleepyPipeline(decode_s=0.030, model_s=0.002))
    p = ref["batches"][0]["pipeline_ms"]
    a = assess(window(p["p50"] + 1, p["min"] + 1), True, ref, users=1)
    assert a.decomposition["pre_post_ms"] > 29
    assert a.check["check"] == "serving overhead" and not a.check["ok"]
    assert a.warning.code == "serving-overhead-preprocess" and a.warning.remedy.startswith("Build what")
    assert a.warning.text.startswith("serving overhead at 1 user:") and "pre-processing takes" in a.warning.text
    assert assess(window(p["p50"] + 1, p["min"] + 1), False, ref, users=1).decomposition is None  # a failed window


def test_no_reference_no_decomposition_and_no_check():
    a = assess(window(10.0), True, {"status": "not applicable", "error": "tensors in"}, users=1)
    assert a.decomposition is None and a.check is None and a.warning is None


def test_budgets_are_suite_settings_with_defaults():
    suite = parse_suite({"workloads": ["fake-tiny"], "engines": ["fake"]})
    assert suite.overhead.serving_budget_ms == 5.0 and suite.overhead.preprocess_budget_ms == 15.0 and suite.overhead.reference
    suite = parse_suite({"workloads": ["fake-tiny"], "engines": ["fake"], "overhead": {"serving_budget_ms": 2, "reference": False}})
    assert suite.overhead.serving_budget_ms == 2.0 and not suite.overhead.reference


def test_serving_is_not_judged_while_other_processes_take_the_cpu_but_pre_processing_still_is():
    ref = reference(SleepyPipeline(decode_s=0.0, model_s=0.005))
    p = ref["batches"][0]["pipeline_ms"]
    busy = window(p["p50"] + 40, p["min"] + 30) | {"system_cpu_percent": 190.0, "server_cpu_percent": 45.0, "client_cpu_percent": 5.0}
    d = decompose(busy, ref)
    assert d["other_cpu_percent"] == pytest.approx(140.0)
    check = overhead_check(d, users=1)
    assert check["ok"] and "serving not judged: other processes used 140% of a core during the window" in check["detail"]
    quiet = busy | {"system_cpu_percent": 60.0}
    assert not overhead_check(decompose(quiet, ref), users=1)["ok"]
    busy_ref = {"status": "ok", "batches": [ref["batches"][0] | {"other_cpu_percent": 90.0}]}
    check = overhead_check(decompose(quiet, busy_ref), users=1)
    assert check["ok"] and "90% during the in-process reference" in check["detail"]
    slow = reference(SleepyPipeline(decode_s=0.030, model_s=0.005))
    assert not overhead_check(decompose(busy, slow), users=1)["ok"]  # measured in process: judged anyway


def test_each_overhead_warning_carries_its_remedy():
    ref = reference(SleepyPipeline(decode_s=0.030, model_s=0.002))
    p = ref["batches"][0]["pipeline_ms"]
    assert "functools.cache" in assess(window(p["p50"] + 1, p["min"] + 1), True, ref, users=1).warning.remedy
    lean = reference(SleepyPipeline(decode_s=0.0, model_s=0.002))
    q = lean["batches"][0]["pipeline_ms"]
    found = assess(window(q["p50"] + 30, q["min"] + 30), True, lean, users=1).warning
    assert found.code == "serving-overhead" and "OMP_NUM_THREADS" in found.remedy


class StubAdapter:
    name = "stub"

    def __init__(self, runtime, max_batch_size=1):
        from infermeter.servers.base import ServingModelSettings

        self._runtime = runtime
        self.settings = ServingModelSettings(max_batch_size=max_batch_size)
        self.written = []

    def runtime(self, workload):
        return self._runtime

    def serving_config(self, workload, exporter, directory):
        self.written.append(directory)


class StubWorkload:
    name = "w"


class StubSession:
    """A reference worker: answers each request with the next block of `blocks`, recording the request."""

    def __init__(self, blocks):
        self.blocks, self.requests, self.closed = list(blocks), [], False

    def measure(self, request):
        self.requests.append(request)
        return self.blocks.pop(0)

    def close(self):
        self.closed = True


def test_the_reference_asks_for_batch_1_and_the_servers_batch_size_then_batch_1_on_demand(tmp_path):
    from infermeter.config import OverheadSection
    from infermeter.server_cells import start_reference

    jobs, session = [], StubSession([{"status": "ok", "batches": []}, {"status": "ok", "batches": ["now"]}])

    def start(job, log):
        jobs.append((job, log))
        return session

    adapter = StubAdapter("onnxruntime", max_batch_size=4)
    ref = start_reference(start, OverheadSection(reference_seconds=1.5, reference_calls=30), adapter, StubWorkload(), None,
                          tmp_path / "ref", tmp_path / "ref.log")
    assert ref.initial == {"status": "ok", "batches": []} and ref.pairs
    assert adapter.written == [tmp_path / "ref"]
    assert jobs == [({"job": "reference", "serving_config": str(tmp_path / "ref")}, tmp_path / "ref.log")]
    assert session.requests == [{"batch_sizes": [1, 4], "min_seconds": 1.5, "min_calls": 30}]
    assert ref.now() == {"status": "ok", "batches": ["now"]}
    assert session.requests[-1] == {"batch_sizes": [1], "min_seconds": 1.5, "min_calls": 30}
    ref.close()
    assert session.closed


def test_no_reference_where_the_framework_runs_its_own_model_or_the_suite_says_no(tmp_path):
    from infermeter.config import OverheadSection
    from infermeter.server_cells import start_reference

    sessions = []

    def start(job, log):
        sessions.append(StubSession([{"status": "failed", "error": "ValueError: boom; see ref.log"}]))
        return sessions[-1]

    args = (StubWorkload(), None, tmp_path / "ref", tmp_path / "ref.log")
    assert start_reference(start, OverheadSection(), StubAdapter(None), *args).initial["status"] == "not applicable"
    assert start_reference(start, OverheadSection(reference=False), StubAdapter("sklearn"), *args).initial is None
    assert start_reference(None, OverheadSection(), StubAdapter("sklearn"), *args).initial is None
    assert not sessions
    failed = start_reference(start, OverheadSection(), StubAdapter("sklearn"), *args)
    assert failed.initial["status"] == "failed" and "ValueError: boom" in failed.initial["error"]
    assert not failed.pairs and sessions[0].closed  # a worker that cannot time the pipeline is not kept


def test_a_window_is_set_beside_the_mean_of_the_references_around_it():
    """ABA: a machine whose speed drifts linearly between two references is cancelled out."""
    from infermeter.servers.reference import bracket

    def block(p50, floor, probe, other):
        stage = {"p50": p50, "p90": p50 + 1, "mean": p50, "min": floor}
        entry = {"batch_size": 1, "calls": 10, "warmup_calls": 5, "window_s": 2.0, "capped": False,
                 "other_cpu_percent": other, "speed_probe_ms": probe,
                 **{f"{s}_ms": stage for s in ("decode", "model", "postprocess", "pre_post", "pipeline")}}
        return {"status": "ok", "runtime": "onnxruntime", "batches": [entry]}

    both = bracket(block(10.0, 9.0, 0.70, 5.0), block(14.0, 8.5, 0.80, 30.0))
    [b] = both["batches"]
    assert both["pairing"] == "bracketed" and b["calls"] == 20 and b["window_s"] == 4.0
    assert b["pipeline_ms"]["p50"] == 12.0 and b["pipeline_ms"]["min"] == 8.5
    assert b["speed_probe_ms"] == pytest.approx(0.75) and b["other_cpu_percent"] == 30.0
    d = decompose(window(15.0, 11.0), both)
    assert d["serving_ms"] == 3.0 and d["serving_floor_ms"] == 2.5
    failed = {"status": "failed", "error": "worker died"}
    assert bracket(failed, block(14.0, 8.5, 0.8, 0.0))["pairing"] == "after"
    assert bracket(block(10.0, 9.0, 0.7, 0.0), failed)["pairing"] == "before"
    assert bracket(failed, failed) is failed


def test_a_machine_that_changed_speed_since_the_reference_is_not_blamed_on_the_server():
    """The reference is timed before the server starts; on a VM the machine's own speed moved 15-20% within a
    minute here. When the speed probe says it moved, the serving part is not judged."""
    ref = reference(SleepyPipeline(decode_s=0.0, model_s=0.002))
    ref["batches"][0]["speed_probe_ms"] = 0.70
    q = ref["batches"][0]["pipeline_ms"]
    slow = window(q["p50"] + 30, q["min"] + 30) | {"speed_probe_ms": 0.84}
    d = decompose(slow, ref)
    assert d["speed_ratio"] == pytest.approx(1.2)
    check = overhead_check(d, users=1)
    assert check["ok"] and "the machine itself ran at another speed" in check["detail"] and "1.20x" in check["detail"]
    same = window(q["p50"] + 30, q["min"] + 30) | {"speed_probe_ms": 0.71}
    check = overhead_check(decompose(same, ref), users=1)
    assert not check["ok"] and "serving not judged" not in check["detail"]


def test_each_window_at_one_user_is_set_beside_references_timed_just_before_and_after_it(tmp_path, monkeypatch):
    """Windows at one user (the ones the check judges) get their own bracketed reference, timed between
    windows with the server up; other load points keep the one timed before the server started."""
    from types import SimpleNamespace

    from infermeter import server_cells
    from infermeter.results.record import LoadMetrics
    from infermeter.results.store import ResultStore
    from infermeter.server_cells import DeploymentReference, measure_server

    events = []

    def ref_block(p50):
        block = reference(SleepyPipeline(decode_s=0.0, model_s=0.0))
        block["batches"][0]["pipeline_ms"] = {"p50": p50, "p90": p50, "mean": p50, "min": p50 - 1}
        return block

    class Session(StubSession):
        def measure(self, request):
            events.append("reference")
            return super().measure(request)

    class Window:
        def start(self):
            return self

        def stop(self):
            pass

        def fields(self, throughput):
            return {}

    def one_window(plans, collected=None, generators=None):
        events.append("window")
        return LoadMetrics(latency_ms={"p50": 20.0, "mean": 20.0, "min": 18.0}, requests=100, ok=100), None, []

    monkeypatch.setattr(server_cells, "build_plans", lambda *a: [])
    monkeypatch.setattr(server_cells, "measure_window", one_window)
    monkeypatch.setattr(server_cells, "server_window", lambda *a, **k: Window())
    suite = parse_suite({"name": "t", "workloads": ["malware-gbt"], "servers": ["litserve"],
                         "load": {"users": [1, 4], "repeats": 2, "min_requests": 5}})
    [(_, entry, cells)] = server_cells.plan_servers(suite)
    adapter = server_cells.adapter_for(entry.name, entry.settings)
    initial = ref_block(30.0)
    session = Session([ref_block(10.0), ref_block(14.0), ref_block(12.0)])
    ref = DeploymentReference(initial, session, {"batch_sizes": [1, 4], "min_seconds": 1.0, "min_calls": 5})
    process = SimpleNamespace(tree=lambda: [], exit_code=lambda: None, log_path=tmp_path / "log")
    store = ResultStore(tmp_path / "out")
    store.create()
    measure_server(adapter, SimpleNamespace(process=process, target=None), cells, "run", store, lambda _: None,
                   {"inprocess": initial}, ref=ref)
    assert events == ["reference", "window", "reference", "window", "reference", "window", "window"]
    assert [r["batch_sizes"] for r in session.requests] == [[1], [1], [1]]
    recs = store.read()
    one = [r for r in recs if r.cell["users"] == 1]
    assert [r.inprocess["pairing"] for r in one] == ["bracketed", "bracketed"]
    assert [r.decomposition["serving_ms"] for r in one] == [8.0, 7.0]  # 20 - mean(10, 14), 20 - mean(14, 12)
    assert all(r.inprocess is initial or r.inprocess == initial for r in recs if r.cell["users"] == 4)
