"""The Prometheus reader: sums of the samples servers expose, in the forms real servers write."""

from __future__ import annotations

import pytest

from infermeter.servers.common.prometheus import parse


def test_a_sample_with_a_timestamp_counts_its_value_not_its_timestamp():
    text = 'nv_inference_queue_duration_us{model="a",version="1"} 12.5 1712345678000\n'
    assert parse(text, ("nv_inference_queue_duration_us",)) == {"nv_inference_queue_duration_us": 12.5}


def test_label_values_with_spaces_braces_and_escaped_quotes():
    text = (
        '# TYPE req_us counter\n'
        'req_us{path="/v1/models/a b:predict",note="{x} y"} 3\n'
        'req_us{path="with \\"quotes\\" } inside",note=""} 4 1712345678000\n'
        'req_us_other{path="/"} 100\n'
    )
    assert parse(text, ("req_us",)) == {"req_us": 7.0}


def test_histogram_parts_are_addressed_by_their_sample_names():
    # MLServer's model_infer_request_duration, as prometheus_client exposes a histogram (seconds).
    text = (
        "# HELP model_infer_request_duration Model infer request duration\n"
        "# TYPE model_infer_request_duration histogram\n"
        'model_infer_request_duration_bucket{le="0.005",model="m",version=""} 1.0\n'
        'model_infer_request_duration_bucket{le="+Inf",model="m",version=""} 3.0\n'
        'model_infer_request_duration_count{model="m",version=""} 3.0\n'
        'model_infer_request_duration_sum{model="m",version=""} 0.25\n'
        'model_infer_request_duration_count{model="n",version=""} 2.0\n'
        'model_infer_request_duration_sum{model="n",version=""} 0.5\n'
        "# HELP model_infer_request_duration_created Model infer request duration\n"
        "# TYPE model_infer_request_duration_created gauge\n"
        'model_infer_request_duration_created{model="m",version=""} 1.712345678e+09\n'
    )
    got = parse(text, ("model_infer_request_duration_sum", "model_infer_request_duration_count"))
    assert got == {"model_infer_request_duration_sum": 0.75, "model_infer_request_duration_count": 5.0}


def test_counters_answer_to_the_name_the_server_wrote():
    # Triton and TorchServe declare counters without `_total`; the parser renames their samples to `x_total`.
    text = (
        "# HELP nv_inference_request_success Number of successful inference requests\n"
        "# TYPE nv_inference_request_success counter\n"
        'nv_inference_request_success{model="resnet",version="1"} 40\n'
        "# TYPE ts_queue_latency_microseconds counter\n"
        'ts_queue_latency_microseconds{ModelName="r",Level="Model",Hostname="h"} 1500.5\n'
        "# TYPE ts_inference_requests_total counter\n"
        'ts_inference_requests_total{model_name="r",model_version="default",hostname="h"} 9\n'
    )
    names = ("nv_inference_request_success", "ts_queue_latency_microseconds", "ts_inference_requests_total")
    assert parse(text, names) == {"nv_inference_request_success": 40.0, "ts_queue_latency_microseconds": 1500.5,
                                  "ts_inference_requests_total": 9.0}


def test_an_exposition_written_by_prometheus_client_reads_back():
    # An independent writer: the client library's own exposition of a counter and a histogram.
    from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

    reg = CollectorRegistry()
    c = Counter("served", "requests served", ["model"], registry=reg)
    h = Histogram("infer_seconds", "inference time", registry=reg)
    c.labels("a").inc(3)
    c.labels("b").inc(2)
    for v in (0.1, 0.2, 0.3):
        h.observe(v)
    got = parse(generate_latest(reg).decode(), ("served_total", "infer_seconds_sum", "infer_seconds_count"))
    assert got == {"served_total": 5.0, "infer_seconds_sum": pytest.approx(0.6), "infer_seconds_count": 3.0}


@pytest.mark.parametrize("text", [
    'ok_metric 1\nbroken{a="unclosed} 2\n',
    "ok_metric 1\nbroken not_a_number\n",
    "# TYPE\nok_metric 1\n# TYPE 9bad counter\n",
])
def test_a_malformed_exposition_gives_nothing_rather_than_a_crash(text):
    assert parse(text, ("ok_metric", "broken")) == {}


def test_metrics_not_exposed_are_absent():
    assert parse("other 1\n", ("ok_metric",)) == {}
    assert parse("", ("ok_metric",)) == {}
