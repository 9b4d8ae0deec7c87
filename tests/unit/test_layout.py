"""The package layout the code relies on (issue 13): protocol clients sit below both the serving
adapters and the load generator, so protocols/ must never import either."""

from __future__ import annotations

import ast
from pathlib import Path

import infermeter

SRC = Path(infermeter.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_statements(source: str, module: str, is_package: bool = False):
    """(line, base module, names imported from it) of every `import` / `from ... import` in `source` (module
    `module`), at any depth (imports inside functions too), relative ones resolved. A plain `import a.b`
    gives (line, "a.b", [])."""
    here = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield node.lineno, a.name, []
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = ".".join(here[: len(here) - node.level + 1])
                base = f"{package}.{node.module}" if node.module else package
            else:
                base = node.module or ""
            yield node.lineno, base, [a.name for a in node.names]


def imported_modules(source: str, module: str, is_package: bool = False) -> set[str]:
    """Every module an import in `source` names (and each `from` import's names as submodules)."""
    out: set[str] = set()
    for _, base, names in import_statements(source, module, is_package):
        out.add(base)
        out |= {f"{base}.{n}" for n in names}
    return out


def test_protocols_import_neither_load_nor_servers():
    files = sorted((SRC / "protocols").glob("*.py"))
    assert len(files) >= 4  # __init__, http, v2, grpc_client, rest: the walk sees them
    bad = {f.name: sorted(m for m in imported_modules(f.read_text(), module_name(f), f.name == "__init__.py")
                          if m.split(".")[:2] in (["infermeter", "loadgen"], ["infermeter", "servers"]))
           for f in files}
    assert {k: v for k, v in bad.items() if v} == {}


def test_the_import_walk_sees_lazy_and_relative_imports():
    """The check above could not fail if the walk missed imports inside functions or relative ones."""
    source = "def f():\n    from infermeter.loadgen import generator\n    from ..servers import base\n    from . import http\n"
    found = imported_modules(source, "infermeter.protocols.probe")
    assert {"infermeter.loadgen.generator", "infermeter.servers.base", "infermeter.protocols.http"} <= found


def test_a_guard_started_before_the_move_is_still_recognised_as_infermeters():
    """Leftovers are verified by the guard's command line: one started as `-m infermeter.servers.guard`
    (before servers/common/) must still count, or `cleanup` would leave it running; others must not."""
    import os
    import subprocess
    from types import SimpleNamespace

    from infermeter.servers.common import leftovers

    sleeper = subprocess.Popen(["sleep", "30"], start_new_session=True)  # a real session of the user's
    try:
        info = {"pid": sleeper.pid, "created": 0.0, "argv": ["tritonserver", "--x"], "token": "t"}

        def process(module: str) -> SimpleNamespace:
            return SimpleNamespace(pid=sleeper.pid, uids=lambda: SimpleNamespace(real=os.geteuid()), create_time=lambda: 1.0,
                                   cmdline=lambda: ["python", "-m", module, "tritonserver", "--x"],
                                   environ=lambda: {leftovers.TOKEN_ENV: "t"})

        assert leftovers._is_registered(process("infermeter.servers.common.guard"), info)
        assert leftovers._is_registered(process("infermeter.servers.guard"), info)
        assert not leftovers._is_registered(process("somebody.elses.module"), info)
    finally:
        sleeper.kill()
        sleeper.wait()


SERVERS = SRC / "servers"
FRAMEWORKS = sorted(d.name for d in SERVERS.iterdir() if (d / "adapter.py").is_file())


def test_every_framework_folder_has_its_adapter_registered():
    import importlib

    from infermeter.servers.base import ServerAdapter
    from infermeter.servers.registry import SERVERS as REGISTRY

    assert len(FRAMEWORKS) >= 9 and "common" not in FRAMEWORKS
    for name in FRAMEWORKS:
        module = importlib.import_module(f"infermeter.servers.{name}.adapter")
        adapters = [v for v in vars(module).values() if isinstance(v, type) and issubclass(v, ServerAdapter)
                    and v is not ServerAdapter and v.__module__ == module.__name__]
        assert len(adapters) == 1, name
        assert REGISTRY.get(adapters[0].name) is adapters[0], name
    registered = {cls.__module__ for cls in REGISTRY.values()}
    assert registered == {f"infermeter.servers.{n}.adapter" for n in FRAMEWORKS}  # no adapter outside a folder


def test_every_framework_folder_states_its_facts():
    import importlib

    for name in FRAMEWORKS:
        doc = importlib.import_module(f"infermeter.servers.{name}").__doc__ or ""
        assert "Ready:" in doc and "Binds:" in doc, name


def test_every_file_an_adapter_copies_into_its_framework_exists():
    """In-server code is copied by file name (entry_point); a renamed file would only fail inside a server."""
    copied = []
    for name in FRAMEWORKS:
        tree = ast.parse((SERVERS / name / "adapter.py").read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "entry_point":
                package, file = node.args[0], node.args[1]
                assert isinstance(package, ast.Name) and package.id == "__package__", name
                assert isinstance(file, ast.Constant), name
                copied.append((name, file.value))
                assert (SERVERS / name / file.value).is_file(), (name, file.value)
    assert len(copied) >= 8  # every framework but TF Serving runs code of ours
