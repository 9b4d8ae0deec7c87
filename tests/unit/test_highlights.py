"""The report's highlights name the fastest at one request by the figure its table shows, and say when the
lead is inside another's spread over repeats (synthetic engine records, as `infermeter report` reads them)."""

import numpy as np

from infermeter.reports.content import highlights
from infermeter.results import histogram, stats
from infermeter.results.summary import as_records, summarise_engines


def engine_cell(engine, p50s, batch=1):
    out = []
    for rep, p50 in enumerate(p50s):
        ns = np.linspace(0.98, 1.02, 301) * p50 * 1e6
        out.append({
            "kind": "engine", "cell_id": f"r50-{engine}-{batch}", "status": "ok", "repeat": rep, "repeats": len(p50s),
            "cell": {"workload": "resnet50", "engine": engine, "scenario": "single-stream", "batch_size": batch, "concurrency": 1},
            "engine": {"label": engine}, "parity": {"verdict": "match", "agreement": 1.0, "max_abs_diff": 0.0},
            "metrics": {"latency_hdr": histogram.encode(histogram.from_ns(ns)), "latency_ms": stats.latency_summary_ms(ns),
                        "samples_per_s": 1000 * batch / p50, "cpu_percent": 100.0, "peak_rss_mb": 400.0},
            "warnings": [],
        })
    return out


def lowest_line(*cells):
    records = as_records([r for c in cells for r in c])
    return next(x for x in highlights(records, summarise_engines(records), []) if "lowest p50" in x)


def test_the_fastest_is_named_by_the_tables_p50_not_by_the_merged_one():
    # Measured in the quickstart: openvino's repeats gave 52.4, 29.1 and 29.6 ms (merged p50 30, the table's 37),
    # onnxruntime's about 32 ms each. The highlight named openvino at 30 ms beside a table where it read 37.
    line = lowest_line(engine_cell("openvino", [52.4, 29.1, 29.6]), engine_cell("onnxruntime", [31.5, 32.4, 33.4]))
    assert "lowest p50 one request at a time: 32.4 ms in process on onnxruntime" in line
    assert "no clear lead: openvino's repeats ran 29.1-52.4 ms, onnxruntime's up to 33.4" in line


def test_a_lead_beyond_every_other_repeat_is_stated_plainly():
    line = lowest_line(engine_cell("openvino", [40.0, 41.0, 42.0]), engine_cell("onnxruntime", [31.5, 32.4, 33.4]))
    assert line.endswith("32.4 ms in process on onnxruntime (batch 1)")


def test_throughput_leads_are_judged_the_same_way_against_other_engines_only():
    records = as_records([*engine_cell("openvino", [52.4, 29.1, 29.6]), *engine_cell("onnxruntime", [31.5, 32.4, 33.4])])
    line = next(x for x in highlights(records, summarise_engines(records), []) if "highest in-process" in x)
    assert "30.85 samples/s on onnxruntime at batch 1, but no clear lead: openvino's repeats ran 19.08-34.36" in line
    # Its own other batch sizes are not its rivals: batch 8 and 16 overlap, openvino is far behind.
    records = as_records([*engine_cell("onnxruntime", [200.0, 210.0, 220.0], batch=8), *engine_cell("onnxruntime", [420.0, 440.0, 460.0], batch=16),
                          *engine_cell("openvino", [100.0, 100.0, 100.0], batch=1)])
    line = next(x for x in highlights(records, summarise_engines(records), []) if "highest in-process" in x)
    assert line.endswith("samples/s on onnxruntime at batch 8"), line
