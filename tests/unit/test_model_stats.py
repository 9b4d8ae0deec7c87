"""Model statistics (the engine study's Table I): counted once on the reference torch module, cached beside
the artifacts, carried by every record, drawn as a report table."""

from typing import Any

import pytest

from infermeter.export.artifacts import Exporter
from infermeter.export.model_stats import STATS_FILE, model_stats, workload_record
from infermeter.reports.content import model_stats_grid
from infermeter.results.environment import ModelFigures, WorkloadInfo
from infermeter.testing.workload import FakeTiny


class TinyMlp(FakeTiny):
    name = "tiny-mlp"

    def torch_module(self) -> Any:
        import torch

        torch.manual_seed(self.seed)
        return torch.nn.Sequential(torch.nn.Linear(16, 8), torch.nn.ReLU(), torch.nn.Linear(8, 4)).eval()


def test_parameters_layers_size_and_flops_are_counted_once_and_cached(tmp_path):
    exporter = Exporter(TinyMlp(), tmp_path)
    assert model_stats(exporter, compute=False) is None  # never counted: nothing claimed
    stats = model_stats(exporter)
    assert stats == {"parameters": 16 * 8 + 8 + 8 * 4 + 4, "layers": 2, "size_mb": 172 * 4 / 1e6,
                     "flops_per_sample": 2 * (16 * 8 + 8 * 4)}  # 2 per multiply-add, biases not counted
    assert list(tmp_path.rglob(STATS_FILE))
    later = Exporter(TinyMlp(), tmp_path)
    assert model_stats(later, compute=False) == stats and later._module is None  # read back, no module built
    assert workload_record(later)["model"] == stats and workload_record(later)["name"] == "tiny-mlp"


def test_a_model_without_a_torch_module_says_why(tmp_path):
    exporter = Exporter(FakeTiny(), tmp_path)
    assert model_stats(exporter) == {"error": "fake-tiny has no torch module"}
    assert model_stats_grid([WorkloadInfo("fake-tiny", None, None, None, ModelFigures.of(model_stats(exporter)))]).rows == [
        ["fake-tiny", "not counted: fake-tiny has no torch module", "-", "-", "-"]]


def test_the_report_table_scales_and_leaves_out_what_was_never_counted():
    big = ModelFigures.of({"parameters": 25_557_032, "layers": 54, "size_mb": 102.44, "flops_per_sample": 7_715_946_496})
    g = model_stats_grid([WorkloadInfo("resnet50", "image", None, None, big), WorkloadInfo("old", None, None, None, None)])
    assert g.rows == [["resnet50", "25.56", "54", "102.4", "7.72"]]
    assert "seeded random weights" in g.caption and "2 FLOPs per multiply-add" in g.caption


@pytest.mark.parametrize("bad", [None, "x", {"parameters": "many"}])
def test_unreadable_figures_are_no_figures(bad):
    m = ModelFigures.of(bad)
    assert m is None or (m.parameters is None and m.error is None)
