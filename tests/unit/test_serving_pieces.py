"""Pieces of the serving path that need no server: cost, answer comparison, serving.json, payload encoding."""

import math

import pytest

from infermeter.results import stats
from infermeter.results.cost import cost_ranking, cost_record, per_million_requests
from infermeter.results.summary import LoadCellSummary
from infermeter.protocols.rest import json_payload_bodies
from infermeter.servers.answers import same_answer
from infermeter.servers.common.serving_model import ServingConfig, json_bytes_encoding


def test_cost_per_million_requests_from_throughput():
    assert per_million_requests(0.36, 100.0) == pytest.approx(1.0)  # 360000 requests per hour for 0.36
    assert per_million_requests(0.36, 0.0) is None
    assert cost_record(None, "USD", 10.0) is None
    assert cost_record(0.36, "EUR", 100.0) == {"price_per_hour": 0.36, "currency": "EUR", "per_million_requests": pytest.approx(1.0)}


def test_cost_ranking_orders_servers_by_their_cheapest_load_point():
    def row(server, users, cost=None, status="ok"):
        return LoadCellSummary(cell_id=f"{server}-{users}", kind="server", label=f"w on {server}", workload="w", scenario="closed-loop",
                               status=status, error=None, repeats=1, server=server, users=users, currency="USD",
                               cost_per_million=stats.over_repeats([] if cost is None else [cost]))

    rows = [row("a", 1, 3.0), row("a", 10, 1.0), row("b", 1, 2.0), row("b", 10, 1.5), row("c", 1, status="failed")]
    [line] = cost_ranking(rows)
    assert line == "cost per million requests, w: 1. a 1.0000 USD (10 users); 2. b 1.5000 USD (10 users)"
    from infermeter.reports.table import cost_grid

    g = cost_grid(rows)  # the same ranking in the report, as a table
    assert g.rows == [["w", "1", "a", "1.0000 USD", "10 users"], ["w", "2", "b", "1.5000 USD", "10 users"]]
    assert cost_grid(rows[-1:]) is None  # no price, no table


def test_same_answer_tolerates_float_noise_but_not_other_labels():
    want = {"label": "malware", "malware_probability": 0.912345, "top5": [[1, 0.5], [2, 0.25]]}
    assert same_answer(want, {"label": "malware", "malware_probability": 0.9124, "top5": [[1, 0.5002], [2, 0.25]]})
    assert not same_answer(want, {**want, "label": "benign"})
    assert not same_answer(want, {**want, "top5": [[2, 0.5], [1, 0.25]]})
    assert not same_answer(want, "error: HTTPError")
    assert not same_answer(1.0, math.nan)


def test_serving_config_resolves_a_relative_artifact_beside_itself(tmp_path):
    ServingConfig("malware-gbt", 0, "sklearn", "model.pkl", 2, "utf-8").write(tmp_path)
    cfg = ServingConfig.read(tmp_path)
    assert cfg.artifact == str(tmp_path / "model.pkl") and cfg.threads == 2
    ServingConfig("w", 0, "pytorch", "/abs/model.pt").write(tmp_path)
    assert ServingConfig.read(tmp_path / "serving.json").artifact == "/abs/model.pt"


def test_payloads_travel_in_json_as_text_or_base64():
    assert json_bytes_encoding([b'{"a": 1}', "héllo".encode()]) == "utf-8"
    assert json_bytes_encoding([b"ok", b"\xff\xd8\xff"]) == "base64"
    assert json_payload_bodies([b"\xff"], "base64") == [b'{"payload": "/w=="}']
    assert json_payload_bodies([b"hi"], "utf-8") == [b'{"payload": "hi"}']


def test_an_environment_made_by_another_infermeter_is_not_used(tmp_path, monkeypatch):
    """A framework environment imports infermeter through a .pth pointing at the installation that made
    it; one made by another checkout would run that checkout's (older) code inside the server."""
    import json

    from infermeter.servers.common import envs

    monkeypatch.setenv("INFERMETER_ENVS", str(tmp_path))
    reqs = ["kserve==0.21.0"]
    assert envs.why_not_ready("kserve", reqs) == "not installed"
    (tmp_path / "kserve").mkdir()
    meta = {"marker": envs._marker(reqs), "shared_with": "/elsewhere/.venv/lib/site-packages", "requirements": reqs}
    (tmp_path / "kserve" / "infermeter-env.json").write_text(json.dumps(meta))
    why = envs.why_not_ready("kserve", reqs)
    assert why is not None and "/elsewhere/.venv" in why and envs.shared_site() in why
    assert envs.why_not_ready("kserve", ["kserve==0.20.0"]) == "its pins changed"
    meta["shared_with"] = envs.shared_site()
    (tmp_path / "kserve" / "infermeter-env.json").write_text(json.dumps(meta))
    assert envs.is_installed("kserve", reqs)
