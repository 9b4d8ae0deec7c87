"""The usability scorecard counts what was written to serve, per deployment, and says what it measured."""

import subprocess
import sys

from infermeter.reports.scorecard import scorecard_rows, serving_lines
from infermeter.results.migrate import migrate
from infermeter.results.record import parse_record


def test_serving_lines_count_handler_and_config_not_artifacts_logs_or_comments(tmp_path):
    (tmp_path / "app.py").write_text("# a comment\nimport x\n\ndef f():\n    return 1\n")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "config.pbtxt").write_text('name: "m"\n// note\nmax_batch_size: 4\n')
    (tmp_path / "serving.json").write_text('{"workload": "w"}\n')  # infermeter's own, the same everywhere
    (tmp_path / "server.log").write_text("x\n" * 100)
    (tmp_path / "model.onnx").write_bytes(b"\0" * 1000)
    assert serving_lines(tmp_path) == 3 + 2


def test_rows_take_cold_start_and_lines_once_per_deployment(tmp_path):
    work = tmp_path / "litserve-w"
    work.mkdir()
    (work / "app.py").write_text("a = 1\nb = 2\n")
    dep = {"log": str(work / "server.log"), "cold_start_s": 1.5}
    records = [parse_record(migrate({"kind": "server", "cell_id": "c", "cell": {}, "status": "ok", "server": {"name": "litserve"},
                                     "deployment": dep, "repeat": k, "repeats": 3})) for k in range(3)]
    rows = {r["server"]: r for r in scorecard_rows(records)}
    assert rows["litserve"]["cold_start_s"] == 1.5 and rows["litserve"]["serving_lines"] == 2
    assert rows["triton"]["study_scores"] == (4, 5, 5, 4, 5) and "V2 protocol" in rows["triton"]["features"]
    assert rows["mlflow"]["cold_start_s"] is None and "gRPC" not in rows["mlflow"]["features"]


def test_scorecard_command_lists_every_framework():
    r = subprocess.run([sys.executable, "-m", "infermeter.cli.main", "scorecard"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    for name in ("torchserve", "triton", "tfserving", "kserve", "mlserver", "mlflow", "bentoml", "litserve", "rayserve"):
        assert name in r.stdout
    assert "not measurements" in r.stdout


def test_every_framework_states_its_licence_maintenance_and_version(tmp_path):
    from infermeter.reports.scorecard import facts_grid
    from infermeter.servers.registry import SERVERS

    for name, cls in SERVERS.items():
        assert "not stated" not in (cls.licence, cls.maintenance, cls.released), name
    assert "archived 2025-08" in SERVERS["torchserve"].maintenance  # its repository is read-only: say so wherever it is measured
    dep = {"log": str(tmp_path / "server.log"), "cold_start_s": 1.0, "version": "torchserve==0.11.1, pyyaml"}
    records = [parse_record(migrate({"kind": "server", "cell_id": "c", "cell": {}, "status": "ok", "server": {"name": "torchserve"},
                                     "deployment": dep, "repeat": 0, "repeats": 1}))]
    rows = {r["server"]: r for r in scorecard_rows(records)}
    assert rows["torchserve"]["version"] == "torchserve 0.11.1"  # the one measured, not the pin
    assert rows["triton"]["version"] == "nvidia-pytriton 0.7.0 (pin)" and rows["tfserving"]["version"] is None
    g = facts_grid(records, only={"torchserve"})
    assert g.columns[:6] == ["server", "version", "released", "licence", "maintenance", "on a GPU"]
    assert g.rows[0][2:4] == ["2024-09-30", "Apache-2.0"] and g.rows[0][5].startswith("number_of_gpu 1")
    assert g.rows[0][6:] == ["torch", SERVERS["torchserve"].protocol]
    assert "checked 2026-" in g.caption


def test_the_users_own_scores_come_from_the_suite_labelled_as_theirs(tmp_path):
    import json

    import pytest

    from infermeter.config import UsabilitySection
    from infermeter.reports.scorecard import scorecard_grid

    (tmp_path / "suite.json").write_text(json.dumps({"usability": {"scores": {"mlserver": {"documentation": 4, "maintenance": 2}}}}))
    records = [parse_record(migrate({"kind": "server", "cell_id": "c", "cell": {}, "status": "ok", "server": {"name": "mlserver"},
                                     "deployment": {"log": None}, "repeat": 0, "repeats": 1})).model_copy(update={"source": str(tmp_path)})]
    g = scorecard_grid(records, only={"mlserver", "triton"})
    rows = {r[0]: r for r in g.rows}
    assert rows["mlserver"][-1] == "- 4 - - 2" and rows["triton"][-1] == "-" and rows["triton"][-2] == "4 5 5 4 5"
    assert "yours 1-5" in g.columns and "judgements, not measurements" in g.caption
    for bad in ({"nginx": {"documentation": 3}}, {"mlserver": {"documentation": 6}}, {"mlserver": {"speed": 3}}):
        with pytest.raises(ValueError):
            UsabilitySection(scores=bad)
