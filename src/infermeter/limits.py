"""Upper bounds that protect the machine from a typo (`--users 10000000`, `repeats: 1e9`).

Each bound is documented here and in the README, and a user who needs more sets INFERMETER_MAX_<NAME>
(e.g. INFERMETER_MAX_USERS=50000). They are read when a value is validated, not at import, so a test or a
long-lived process sees a changed environment.
"""

from __future__ import annotations

import math
import os

from infermeter.errors import ConfigError

# name: (default maximum, what it bounds). Chosen far above what a 2-core to 128-core machine can drive,
# far below what exhausts its memory or runs for months.
LIMITS: dict[str, tuple[float, str]] = {
    "users": (10_000, "virtual users of one load point"),
    "rate": (100_000, "arrivals per second of one load point"),
    "points": (1_000, "load points (users or rates) of one sweep"),
    "repeats": (1_000, "repeats (measurement windows) per cell or load point"),
    "batch_size": (65_536, "samples per batch"),
    "concurrency": (1_024, "concurrent callers of an engine"),
    "iterations": (10_000_000, "minimum calls or requests of one window"),
    "seconds": (86_400, "seconds of one window, warm-up or timeout"),
    "workers": (256, "load generator processes"),
    "threads": (4_096, "engine threads"),
    "body_mb": (256, "MB of one request body"),
    "suite_mb": (16, "MB of one suite file"),
    "dimension": (1_000_000, "size of one dimension of a model input shape"),
}


def env_name(name: str) -> str:
    return f"INFERMETER_MAX_{name.upper()}"


def limit(name: str) -> float:
    """The maximum for `name`: INFERMETER_MAX_<NAME> when set, the documented default otherwise."""
    default, what = LIMITS[name]
    text = os.environ.get(env_name(name))
    if text is None or not text.strip():
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{env_name(name)}={text!r} is not a positive number", f"set it to the most {what} to allow, or unset it")
    return value


def check(name: str, value: float, what: str | None = None) -> None:
    """Raise ValueError (pydantic turns it into the field's message) when `value` passes its maximum."""
    most = limit(name)
    if value > most:
        label = what or LIMITS[name][1]
        raise ValueError(f"{value:.15g} {label} is above the limit of {most:.15g} "
                         f"(a guard against typos; set {env_name(name)} to allow more)")


def describe() -> str:
    """One line per bound, for --help and the README."""
    return "\n".join(f"{env_name(n)} (default {d:g}): {what}" for n, (d, what) in LIMITS.items())
