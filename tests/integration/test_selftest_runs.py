"""The self-test runs end to end against the real calibrated target. Its verdicts depend on this machine's
timing, so here only its shape is asserted; the theory is tested deterministically in tests/unit."""

import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration


def test_selftest_prints_every_check_and_exits_0_or_7():
    """Without the capacity search's checks (a minute or two of CI's; their wiring is tests/unit/test_validity.py's)."""
    r = subprocess.run([sys.executable, "-m", "infermeter.cli.main", "selftest", "--seconds", "1.0", "--skip-capacity"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode in (0, 7), r.stderr[-2000:]
    assert "Traceback" not in r.stderr
    for name in ("timer resolution", "Little's law", "M/D/1", "M/M/1", "open loop sees the stall", "generator keeps"):
        assert name in r.stdout, name
    assert "capacity search: skipped" in r.stderr and "capacity at" not in r.stdout
    assert ("all" in r.stderr and "checks passed" in r.stderr) or "checks failed" in r.stderr
