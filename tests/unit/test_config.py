import pytest

from infermeter.config import engine_label, parse_suite, plan
from infermeter.errors import ConfigError

BASE = {"workloads": ["resnet50"], "engines": ["onnxruntime"]}


def test_minimal_suite_gets_defaults():
    s = parse_suite(BASE)
    assert s.measure.repeats == 5 and s.scenarios[0].kind == "single-stream"
    assert s.engines[0].name == "onnxruntime" and s.engines[0].settings == {}


@pytest.mark.parametrize(
    "change, message",
    [
        ({"workloads": ["resnet5O"]}, "unknown workload 'resnet5O'"),
        ({"engines": ["onnx-runtime"]}, "unknown engine 'onnx-runtime'"),
        ({"engines": [{"name": "openvino", "settings": {"hint": "fastest"}}]}, "engine 'openvino' settings: hint"),
        ({"engines": [{"name": "onnxruntime", "settings": {"treads": 2}}]}, "treads"),
        ({"engines": [{"name": "pytorch", "settings": {"threads": 0}}]}, "threads"),
        ({"measure": {"min_seconds": 10, "max_seconds": 5}}, "max_seconds (5.0) is below min_seconds"),
        ({"measure": {"repeats": 0}}, "measure.repeats"),
        ({"warmup": {"seconds": 10, "max_seconds": 5}}, "max_seconds (5.0) is below seconds"),
        ({"warmup": {"window": 4}}, "warmup.window"),
        ({"scenarios": [{"kind": "offline", "batch_sizes": [0, 8]}]}, "batch_sizes"),
        ({"scenarios": [{"kind": "single-stream", "concurrency": [4]}]}, "use kind 'concurrent'"),
        ({"scenarios": ["burst"]}, "scenarios.0.kind"),
        ({"scenarios": ["open-loop"]}, "open-loop needs rates"),
        ({"scenarios": [{"kind": "open-loop", "rates": [5, 0]}]}, "rates must be > 0"),
        ({"scenarios": [{"kind": "open-loop", "rates": [1e9]}]}, "INFERMETER_MAX_RATE"),
        ({"scenarios": [{"kind": "offline", "rates": [5]}]}, "rates are for kind 'open-loop'"),
        ({"workloads": []}, "workloads"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_suites_are_rejected_with_the_reason(change, message):
    with pytest.raises(ConfigError) as err:
        parse_suite({**BASE, **change}, "s.yaml")
    assert message in str(err.value)


def test_top_level_must_be_a_mapping():
    with pytest.raises(ConfigError, match="mapping"):
        parse_suite(["resnet50"])


def test_plan_expands_matrix_and_keeps_unrunnable_cells_with_a_reason():
    s = parse_suite({
        "workloads": ["resnet50", "bart-large-cnn"],
        "engines": ["pytorch", "onnxruntime"],
        "scenarios": [{"kind": "offline", "batch_sizes": [1, 8]}],
        "threads": 2,
    })
    cells = plan(s)
    assert len(cells) == 2 * 2 * 2
    skipped = [c for c in cells if c.skip_reason]
    assert {(c.workload, c.engine) for c in skipped} == {("bart-large-cnn", "onnxruntime")}
    assert all(c.engine_settings["threads"] == 2 for c in cells)
    assert len({c.cell_id for c in cells}) == len(cells)


def test_cell_id_is_stable_and_changes_with_settings():
    a = plan(parse_suite(BASE))[0]
    b = plan(parse_suite(BASE))[0]
    c = plan(parse_suite({**BASE, "engines": [{"name": "onnxruntime", "settings": {"threads": 1}}]}))[0]
    assert a.cell_id == b.cell_id != c.cell_id


def test_cell_ids_of_older_results_survive_the_new_warmup_settings():
    """An id computed by the code before steady-state warm-up (warmup had iterations and seconds only):
    --resume must still find those cells; a warm-up setting moved off its default makes a new cell."""
    suite = {"workloads": ["fake-tiny"], "engines": [{"name": "fake", "settings": {"service_ms": 2.0}}],
             "warmup": {"iterations": 3, "seconds": 0.5}}
    assert plan(parse_suite(suite))[0].cell_id == "fd87aee2fed7303e"
    moved = plan(parse_suite({**suite, "warmup": {"iterations": 3, "seconds": 0.5, "max_seconds": 30}}))[0]
    assert moved.cell_id != "fd87aee2fed7303e"


def test_engine_label_shows_settings():
    assert engine_label("tensorflow", {"xla": True}) == "tensorflow[xla=true]"
    assert engine_label("pytorch", {}) == "pytorch"


def test_engine_not_installed_is_skipped_with_the_install_hint(monkeypatch):
    from infermeter.engines.registry import ENGINES

    monkeypatch.setattr(ENGINES["openvino"], "missing", classmethod(lambda cls: ["openvino"]))
    cells = plan(parse_suite({**BASE, "engines": ["openvino"]}))
    assert "not installed here" in cells[0].skip_reason and "pip install" in cells[0].skip_reason


def test_an_open_loop_scenario_plans_one_cell_per_rate_and_callers_with_the_rate_in_its_identity():
    suite = {"workloads": ["fake-tiny"], "engines": [{"name": "fake", "settings": {"service_ms": 2.0}}],
             "warmup": {"iterations": 3, "seconds": 0.5}}
    cells = plan(parse_suite({**suite, "scenarios": ["single-stream", {"kind": "open-loop", "rates": [5, 50], "concurrency": [1, 2]}]}))
    assert [(c.scenario, c.batch_size, c.concurrency, c.rate) for c in cells] == [
        ("single-stream", 1, 1, None), ("open-loop", 1, 1, 5.0), ("open-loop", 1, 1, 50.0), ("open-loop", 1, 2, 5.0),
        ("open-loop", 1, 2, 50.0)]
    assert len({c.cell_id for c in cells}) == 5
    assert cells[0].cell_id == "fd87aee2fed7303e"  # a cell without a rate keeps the id it had before rates existed
