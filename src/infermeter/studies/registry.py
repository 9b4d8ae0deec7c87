"""The published comparisons infermeter reproduces (../shared/seeds/), one YAML file each beside this module:
who wrote it, what it compares, a quick suite that runs on a 2-core CPU, a full one with the study's own
settings, and its headline claims as data (studies/claims.py checks them against the records)."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from infermeter.config import Suite, parse_suite
from infermeter.errors import ConfigError
from infermeter.studies.claims import Claim

SUITE_PREFIX = "study-"  # a study's suites are named study-NAME and study-NAME-full: the report finds its claims by it


class Study(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    title: str
    authors: str
    year: int
    compares: str
    source: str  # which seed documents it is, for the reader who wants the original
    quick: dict[str, Any]  # a suite, run on a 2-core CPU in under 20 minutes
    full: dict[str, Any]  # a suite with the study's own settings (users, repeats, windows, models)
    claims: list[Claim] = Field(default_factory=list)
    differences: list[str] = Field(default_factory=list)  # how even --full differs from the study, said up front

    def suite(self, full: bool = False) -> Suite:
        data = dict(self.full if full else self.quick)
        data["name"] = f"{SUITE_PREFIX}{self.name}" + ("-full" if full else "")
        return parse_suite(data, f"study {self.name}" + (" --full" if full else ""))


def _files() -> list[Any]:
    return sorted((f for f in resources.files("infermeter.studies").iterdir() if f.name.endswith(".yaml")), key=lambda f: f.name)


@functools.cache  # package data: read once per process (a report asks once per results directory)
def studies() -> dict[str, Study]:
    """Every study, by name, in the order of their files."""
    out = {}
    for f in _files():
        try:
            s = Study(**yaml.safe_load(f.read_text(encoding="utf-8")))
        except (yaml.YAMLError, ValidationError, TypeError) as exc:  # a broken file shipped with infermeter: a bug, said plainly
            raise RuntimeError(f"study file {f.name} is invalid: {exc}") from exc
        out[s.name] = s
    return out


def study(name: str) -> Study:
    found = studies()
    if name not in found:
        raise ConfigError(f"unknown study {name!r}", f"choose one of: {', '.join(found)} (infermeter study --list)")
    return found[name]


def study_of_suite(suite_name: str | None) -> Study | None:
    """The study a suite was made from (by its name), or None for any other suite."""
    if not suite_name or not suite_name.startswith(SUITE_PREFIX):
        return None
    return studies().get(suite_name.removeprefix(SUITE_PREFIX).removesuffix("-full"))


def studies_of_suites(suites: Iterable[str]) -> dict[str, Study]:
    """The studies whose suites (as the JSON text a results directory keeps) these are."""
    out = {}
    for text in suites:
        try:
            name = json.loads(text).get("name") if text.startswith("{") else None
        except ValueError:
            continue
        if (s := study_of_suite(name if isinstance(name, str) else None)) is not None:
            out[s.name] = s
    return out


def not_runnable_here(suite: Suite) -> dict[str, str]:
    """Engine or server -> why it cannot run on this machine: the reason the run skips its cells with."""
    from infermeter.config import engine_label
    from infermeter.engines.registry import engine_class
    from infermeter.servers.registry import adapter_for

    out: dict[str, str] = {}
    for entry in suite.engines:
        cls = engine_class(entry.name)
        if missing := cls.missing():
            out[f"engine {engine_label(entry.name, entry.settings)}"] = f"not installed here (needs {', '.join(missing)}); fix: {cls.install_hint}"
        elif why := cls(cls.Settings(**entry.settings)).unavailable():
            out[f"engine {engine_label(entry.name, entry.settings)}"] = why
    for entry in suite.servers:
        if why := adapter_for(entry.name, entry.settings).missing():
            out[f"server {engine_label(entry.name, entry.settings)}"] = why
    return out
