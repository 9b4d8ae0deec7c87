"""What is installed here, as the `engines`, `workloads` and `servers` commands print it: one row per
registered plugin (infermeter's own and other packages', plugins.py) with whether it can run here."""

from __future__ import annotations

from rich.table import Table

from infermeter.reports.console import styled


def engines_table(test_doubles: bool = False) -> Table:
    from infermeter.engines.registry import ENGINES, is_test_double

    t = Table(title="engines")
    for c in ("engine", "artifact", "installed", "description"):
        t.add_column(c)
    for name, cls in ENGINES.items():
        if is_test_double(cls) and not test_doubles:
            continue
        missing = cls.missing()
        status = styled(("yes", "green")) if not missing else styled(("no", "red"), f" ({cls.install_hint})")
        t.add_row(name, cls.artifact_format, status, cls.description)
    return t


def workloads_table(test_doubles: bool = False) -> Table:
    from infermeter.workloads.registry import WORKLOADS, is_test_double, missing_requirements

    t = Table(title="workloads")
    for c in ("workload", "task", "formats", "installed", "description"):
        t.add_column(c)
    for name, cls in WORKLOADS.items():
        if is_test_double(cls) and not test_doubles:
            continue
        missing = missing_requirements(cls)
        status = styled(("yes", "green")) if not missing else styled(("no", "red"), f" (needs {', '.join(missing)})")
        t.add_row(name, cls.task, ", ".join(sorted(cls.formats)), status, cls.description)
    return t


def servers_table() -> Table:
    """Each serving framework: its protocol, whether it can run here (or why not) and its environment."""
    from infermeter.servers.common import envs
    from infermeter.servers.registry import SERVERS

    t = Table(title="servers")
    for c in ("server", "protocol", "status", "environment", "description"):
        t.add_column(c)
    for name, cls in SERVERS.items():
        why = cls().missing()
        info = envs.env_info(name)
        env = f"{info['size_mb']:.0f} MB, installed in {info['install_s']:.0f} s" if info else "-"
        t.add_row(name, cls.protocol, styled(("ready", "green")) if not why else styled(("no", "red"), f": {why}"), env, cls.description)
    return t
