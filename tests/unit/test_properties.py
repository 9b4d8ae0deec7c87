"""Property-based tests of what reads user input: whatever it is fed, a parser answers with a value or with
its own error (ValueError / an InfermeterError naming the fix), never with anything else.

INFERMETER_HYPOTHESIS_EXAMPLES sets the examples per property (200 by default, so CI stays fast; the issue's
check ran 10,000 per parser)."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infermeter.cli.inputs import parse_header, parse_numbers, parse_url
from infermeter.errors import InfermeterError

EXAMPLES = int(os.environ.get("INFERMETER_HYPOTHESIS_EXAMPLES", "200"))
many = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _target(url: str, headers: tuple[tuple[str, str], ...] = ()):
    try:
        from infermeter.protocols.http import (
            HttpTarget,  # where issue 13 moves the protocol clients
        )
    except ImportError:
        from infermeter.protocols.http import HttpTarget

    return HttpTarget(url, "POST", b"{}", headers)


# --- URLs -----------------------------------------------------------------------------------------------
url_like = st.one_of(
    st.text(),
    st.builds(lambda host, port, path: f"http://{host}:{port}/{path}",
              st.text(max_size=20), st.one_of(st.integers(-10, 100_000).map(str), st.text(max_size=6)), st.text(max_size=30)),
    st.builds(lambda scheme, rest: f"{scheme}://{rest}", st.sampled_from(["http", "https", "ftp", "HTTP", ""]), st.text(max_size=40)),
)


@many
@given(url_like)
def test_a_url_is_accepted_whole_or_refused_with_a_reason(text):
    try:
        url = parse_url(text)
    except ValueError as exc:
        assert str(exc)  # a reason, in words
        return
    target = _target(url)
    assert 1 <= target.port <= 65535
    assert target.host
    request = target.encode()  # what the load generator sends: it can be built, in ASCII, with one request line
    head = request.split(b"\r\n\r\n", 1)[0].decode("ascii")
    assert head.count("\r\n") == len(head.split("\r\n")) - 1
    assert head.split("\r\n")[0].endswith(" HTTP/1.1")


# --- headers --------------------------------------------------------------------------------------------
header_like = st.one_of(
    st.text(),
    st.builds(lambda n, v: f"{n}: {v}", st.text(max_size=20), st.text(max_size=40)),
    st.builds(lambda n, v: f"{n}:{v}", st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,10}", fullmatch=True), st.text(max_size=40)),
)


@many
@given(header_like)
def test_a_header_is_accepted_as_one_line_or_refused(text):
    try:
        name, value = parse_header(text)
    except ValueError as exc:
        assert str(exc)
        return
    request = _target("http://127.0.0.1:8080/x", ((name, value),)).encode()
    head = request.split(b"\r\n\r\n", 1)[0].decode("ascii")  # ASCII: a header value never needs another charset
    lines = head.split("\r\n")
    assert f"{name}: {value}" in lines  # the header is one line of its own: nothing smuggled after it
    assert sum(1 for line in lines if line.lower().startswith("host:")) == 1


@many
@given(st.text(), st.sampled_from([int, float]))
def test_a_list_of_numbers_is_finite_or_refused(text, kind):
    try:
        values = parse_numbers(text, kind, "--rate")
    except ValueError as exc:
        assert "--rate" in str(exc) or "finite" in str(exc)
        return
    assert values is None or all(isinstance(v, kind) and math.isfinite(v) for v in values)


# --- the suite parser -----------------------------------------------------------------------------------
@many
@given(st.binary(max_size=2000))
def test_a_suite_file_of_random_bytes_is_read_or_refused(data):
    from infermeter.config import Suite, load_suite

    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "suite.yaml"
        p.write_bytes(data)
        try:
            assert isinstance(load_suite(p), Suite)
        except InfermeterError as exc:
            assert exc.message and exc.exit_code == 2


def _containers(children, size):
    return st.one_of(st.lists(children, max_size=size), st.dictionaries(st.text(max_size=10), children, max_size=size))


yaml_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=12),
              st.sampled_from(["fake-tiny", "fake", "mlserver", "offline", "single-stream", "concurrent"])),
    lambda children: _containers(children, 4), max_leaves=20)
suite_like = st.fixed_dictionaries(
    {}, optional={k: yaml_values for k in ("name", "workloads", "engines", "servers", "load", "scenarios", "measure",
                                           "warmup", "threads", "seed", "cost", "energy", "overhead")},
).map(lambda d: {**d, "workloads": d.get("workloads", ["fake-tiny"]), "engines": d.get("engines", ["fake"])})


@many
@given(suite_like)
def test_a_suite_of_random_structure_is_valid_or_refused(data):
    from infermeter.config import Suite, parse_suite, plan

    try:
        suite = parse_suite(data)
    except InfermeterError as exc:
        assert exc.message and exc.exit_code == 2
        return
    assert isinstance(suite, Suite)
    plan(suite)  # a suite that validates also plans


@many
@given(st.text(max_size=40))
def test_model_input_shapes_are_positive_or_refused(query):
    from infermeter.workloads.user_model import _split

    try:
        _, shapes = _split("file:m.onnx?" + query)
    except InfermeterError as exc:
        assert exc.message and exc.exit_code == 2
        return
    assert all(shape and all(d >= 1 for d in shape) for shape in shapes.values())


# --- the results reader ---------------------------------------------------------------------------------
json_values = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8)),
                           lambda children: _containers(children, 3), max_leaves=10)


# Field names of records old and new, so that random lines reach the migration's and the model's branches.
RECORD_FIELDS = {"kind", "run_id", "cell", "status", "error", "warnings", "repeat", "repeats", "metrics", "engine",
                 "server", "superseded", "sanity", "artifact", "machine", "packages", "finished_at", "deployment"}


@many
@given(st.lists(st.one_of(st.binary(max_size=200), json_values.map(lambda v: json.dumps(v).encode()),
                          st.builds(lambda v, d: json.dumps({"schema_version": v, "cell_id": "a", **d}).encode(),
                                    st.sampled_from([1, 2]),
                                    st.dictionaries(st.one_of(st.sampled_from(sorted(RECORD_FIELDS)), st.text(max_size=8)),
                                                    json_values, max_size=6))),
                max_size=8))
def test_the_results_reader_survives_random_bytes(lines):
    from infermeter.results.store import ResultStore

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        (out / "results.jsonl").write_bytes(b"\n".join(lines))
        store = ResultStore(out)
        records = store.read()
        assert isinstance(records, list)
        store.finished_cells(records)
