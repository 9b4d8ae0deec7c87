"""`infermeter report` on a real run holding engine and server cells, opened in headless Chromium: every
figure drawn, no console error, a screenshot that is not blank, and the plots answer the mouse.

Chromium and chromedriver come from Debian (scripts/test.sh installs them when it runs as root and then
sets INFERMETER_REQUIRE_BROWSER=1, so that a missing browser fails the test instead of skipping it)."""

import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from conftest import with_environment
from PIL import Image

from infermeter.servers.registry import adapter_for

pytestmark = pytest.mark.integration

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


def _browser_or_skip():
    missing = [name for name, found in (("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER)) if not found]
    if importlib.util.find_spec("selenium") is None:
        missing.append("selenium (pip)")
    if missing:
        why = f"{', '.join(missing)} not installed (Debian: apt-get install chromium chromium-driver)"
        if os.environ.get("INFERMETER_REQUIRE_BROWSER") == "1":
            pytest.fail(why)
        pytest.skip(why)


@pytest.fixture(scope="module")
def run_with_engines_and_a_server(tmp_path_factory, cache_root):
    with_environment(adapter_for("litserve", {}))
    tmp = tmp_path_factory.mktemp("report")
    suite = tmp / "suite.yaml"
    suite.write_text(json.dumps({
        "name": "report-it", "workloads": ["malware-gbt"], "engines": ["sklearn", "onnxruntime"],
        "scenarios": ["single-stream", {"kind": "offline", "batch_sizes": [1, 4]}],
        "warmup": {"iterations": 2, "seconds": 0, "max_seconds": 3, "window": 8}, "measure": {"repeats": 2, "min_iterations": 20, "min_seconds": 0.2},
        "servers": [{"name": "litserve", "settings": {"threads": 1}}],
        "load": {"users": [1, 2], "warmup_s": 0.3, "min_seconds": 1.0, "min_requests": 5, "repeats": 2, "timeout_s": 30},
        "overhead": {"reference_seconds": 0.3, "reference_calls": 5},
    }))
    r = subprocess.run([sys.executable, "-m", "infermeter.cli.main", "run", str(suite), "--out", str(tmp / "out"), "--cache", str(cache_root)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return tmp / "out"


@pytest.fixture(scope="module")
def report(run_with_engines_and_a_server):
    out = run_with_engines_and_a_server
    r = subprocess.run([sys.executable, "-m", "infermeter.cli.main", "report", str(out)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return out


def test_report_of_engine_and_server_cells_has_every_part(report):
    figures = {p.stem for p in (report / "figures").glob("*.png")}
    assert {"throughput-vs-users-malware-gbt", "latency-vs-users-malware-gbt", "latency-at-one-user", "throughput-vs-batch-malware-gbt",
            "memory-vs-batch-malware-gbt", "energy-vs-batch-malware-gbt", "energy-vs-users-malware-gbt", "startup-malware-gbt",
            "latency-cdf-one-malware-gbt", "latency-cdf-users-malware-gbt-2"} <= figures
    md = (report / "report.md").read_text()
    assert "| framework \\ virtual users | 1 | 2 |" in md and "| litserve[threads=1] |" in md
    assert "| engine \\ batch size | 1 | 4 |" in md
    assert "## Warnings and remedies" in md and "## Environment" in md and '"name": "report-it"' in md


@pytest.fixture
def browser():
    _browser_or_skip()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager reach for the network
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1600"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def test_report_renders_in_headless_chromium(report, browser):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get((report / "report.html").as_uri())
    WebDriverWait(browser, 20).until(lambda d: d.execute_script("return document.body.dataset.figuresDrawn !== undefined"))
    expected = len(json.loads(browser.find_element(By.ID, "figure-data").get_attribute("textContent")))
    assert expected >= 10
    assert int(browser.execute_script("return document.body.dataset.figuresDrawn")) == expected

    for fig in browser.find_elements(By.CSS_SELECTOR, "figure[data-figure]"):
        marks = fig.find_elements(By.CSS_SELECTOR, "svg path.line, svg rect.bar")
        assert marks, f"{fig.get_attribute('data-figure')} has nothing drawn"

    shot = np.asarray(Image.open(io.BytesIO(browser.get_screenshot_as_png())).convert("RGB"))
    assert (shot < 240).any(axis=2).mean() > 0.03, "the page looks blank"
    chart = browser.find_element(By.CSS_SELECTOR, "figure[data-figure^='throughput-vs-users'] svg")
    pixels = np.asarray(Image.open(io.BytesIO(chart.screenshot_as_png)).convert("RGB"))
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 20, "the chart has no coloured marks"

    # Interactive: hovering a point shows its values; clicking a legend entry hides its series.
    fig = browser.find_element(By.CSS_SELECTOR, "figure[data-figure^='throughput-vs-users']")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", fig)
    marker = fig.find_element(By.CSS_SELECTOR, "circle.marker")
    ActionChains(browser).move_to_element(marker).perform()
    tip = fig.find_element(By.CSS_SELECTOR, ".tip")
    assert tip.is_displayed() and "requests/s" in tip.text
    before = len(fig.find_elements(By.CSS_SELECTOR, "path.line"))
    fig.find_element(By.CSS_SELECTOR, ".legend-item").click()
    fig = browser.find_element(By.CSS_SELECTOR, "figure[data-figure^='throughput-vs-users']")
    assert len(fig.find_elements(By.CSS_SELECTOR, "path.line")) == before - 1

    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert not errors, errors
