"""The default benchmark stays the default benchmark: made smaller to finish within 5 minutes on 2 cores
(set-up included), it must still compare every engine that can run its models."""

from importlib import resources
from pathlib import Path

from infermeter.config import load_suite
from infermeter.engines.registry import ENGINES, is_test_double
from infermeter.workloads.registry import get_workload

QUICKSTART = Path(str(resources.files("infermeter").joinpath("suites/quickstart.yaml")))


def test_the_quickstart_names_every_engine_installed_here_that_can_run_its_image_model():
    suite = load_suite(QUICKSTART)
    named = {e.name for e in suite.engines}
    image = get_workload("resnet50", suite.seed)
    able = {name for name, cls in ENGINES.items()
            if not is_test_double(cls) and cls.artifact_format in image.formats and not cls.missing()}
    assert able - named == set(), f"engines the quickstart leaves out: {sorted(able - named)}"


def test_the_quickstart_measures_an_image_and_a_text_model_with_real_windows():
    suite = load_suite(QUICKSTART)
    assert len(suite.workloads) == 2
    assert suite.measure.repeats >= 3  # a ± interval needs repeats
    assert {s.kind for s in suite.scenarios} == {"single-stream"}
