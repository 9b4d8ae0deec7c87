"""The recipes of docs/ARCHITECTURE.md, followed literally: each block marked `file=PATH` is written to PATH,
`append=PATH` is added to its end, `run` is run and `edit=PATH` replaces a function of that infermeter
module, exactly as the page has them. A recipe that drifts from the code fails here."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from test_plugins import SERVER_PLUGIN, cli, pip_install

DOC = Path(__file__).resolve().parents[2] / "docs" / "ARCHITECTURE.md"


@dataclass(frozen=True)
class Block:
    lang: str
    action: str  # "file", "append", "edit" or "run"
    path: str | None
    text: str


def recipes(doc: str = "") -> dict[str, list[Block]]:
    """The marked code blocks of each "### " section of the page, in order."""
    out: dict[str, list[Block]] = {}
    for section in re.split(r"^### ", doc or DOC.read_text(encoding="utf-8"), flags=re.M)[1:]:
        title = section.splitlines()[0].strip()
        blocks = []
        for lang, info, text in re.findall(r"^```(\w+)([^\n]*)\n(.*?)^```$", section, flags=re.M | re.S):
            m = re.fullmatch(r"\s*(file|append|edit)=(\S+)\s*|\s*(run)\s*", info)
            if m:
                blocks.append(Block(lang, m.group(1) or m.group(3), m.group(2), text))
        out[title] = blocks
    return out


def write(blocks: list[Block], root: Path) -> Path:
    """The recipe's files under `root`, as the page has them."""
    for b in blocks:
        if b.action in ("file", "append"):
            path = root / b.path
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("w" if b.action == "file" else "a", encoding="utf-8") as f:
                f.write(b.text)
    return root


def plugin_env(blocks: list[Block], tmp_path: Path) -> dict[str, str]:
    """The recipe's package built and pip-installed beside infermeter; a user's environment (no test doubles)."""
    env = pip_install(write(blocks, tmp_path / "pkg"), tmp_path / "site")
    env.pop("INFERMETER_PLUGIN_MODULES", None)
    return env


def test_the_page_has_four_recipes_with_their_blocks():
    found = recipes()
    assert list(found) == ["Add a workload", "Add an engine", "Add a serving framework", "Add a collector"]
    assert all(found.values()), found
    parsed = recipes("### R\n```python file=a/b.py\nx = 1\n```\n```toml append=c.toml\n[x]\n```\n```python\nnot marked\n```\n")
    assert parsed == {"R": [Block("python", "file", "a/b.py", "x = 1\n"), Block("toml", "append", "c.toml", "[x]\n")]}


def test_the_workload_recipe(tmp_path):
    env = plugin_env(recipes()["Add a workload"], tmp_path)
    listed = cli("workloads", env=env | {"COLUMNS": "250"})
    assert listed.returncode == 0, listed.stderr
    (row,) = [line for line in listed.stdout.splitlines() if "matrix-tiny" in line]
    assert "npy" in row and "yes" in row and "seeded matrix" in row
    probe = ("import tempfile, pathlib, numpy as np; from infermeter.workloads.registry import get_workload; "
             "w = get_workload('matrix-tiny'); d = pathlib.Path(tempfile.mkdtemp()); name, how = w.export('npy', d); "
             "print(w.batch(4)['x'].shape, np.load(d / name).shape, how)")
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120)
    assert r.stdout.split("\n")[0] == "(4, 8) (8, 3) numpy.save", r.stderr[-2000:]


def test_the_engine_recipe(tmp_path):
    found = recipes()
    blocks = found["Add a workload"] + found["Add an engine"]  # the engine runs the workload's format
    env = plugin_env(blocks, tmp_path)
    listed = cli("engines", env=env | {"COLUMNS": "250"})
    (row,) = [line for line in listed.stdout.splitlines() if "numpy-matmul" in line]
    assert "npy" in row and "yes" in row, listed.stdout
    out = tmp_path / "results" / "matrix"
    r = cli("run", "suite.yaml", "--out", str(out), "--cache", str(tmp_path / "cache"), env=env, cwd=tmp_path / "pkg")
    assert r.returncode == 0, r.stderr[-3000:]
    records = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    assert len(records) == 4 and {x["status"] for x in records} == {"ok"}  # 2 cells x 2 repeats
    assert {x["engine"]["name"] for x in records} == {"numpy-matmul"} and {x["parity"]["verdict"] for x in records} == {"match"}
    assert {x["cell"]["batch_size"] for x in records} == {1, 8}
    assert sum("matrix-tiny" in line and "numpy-matmul" in line for line in r.stdout.splitlines()) == 2  # its table


def test_the_serving_framework_recipe_is_the_plugin_that_is_installed_and_measured():
    """tests/unit/test_plugins.py builds, deploys and measures tests/data/plugins/infermeter-stdlib-server:
    the recipe must be that folder, file for file."""
    blocks = recipes()["Add a serving framework"]
    assert {b.action for b in blocks} == {"file"}
    shown = {b.path: b.text for b in blocks}
    on_disk = {str(p.relative_to(SERVER_PLUGIN)): p.read_text(encoding="utf-8") for p in SERVER_PLUGIN.rglob("*")
               if p.is_file() and "__pycache__" not in p.parts}
    assert shown == on_disk


def test_the_collector_recipe(tmp_path, monkeypatch):
    import infermeter.collectors
    from infermeter import worker
    from infermeter.collectors import window as window_module
    from infermeter.config import parse_suite
    from infermeter.runner import run_suite

    blocks = recipes()["Add a collector"]
    (new,) = [b for b in blocks if b.action == "file"]
    write([new], tmp_path / "src")  # infermeter/collectors/open_files.py, beside infermeter's own collectors
    monkeypatch.setattr(infermeter.collectors, "__path__", [*infermeter.collectors.__path__, str(tmp_path / "src/infermeter/collectors")])
    monkeypatch.delitem(sys.modules, "infermeter.collectors.open_files", raising=False)
    try:
        from infermeter.collectors.open_files import OpenFiles

        (run,) = [b for b in blocks if b.action == "run"]
        used: dict = {}
        exec(compile(run.text, "recipe", "exec"), used)
        assert used["window"].fields()["open_fds_delta"] == 1
        used["kept"].close()

        # The edit: engine_window as the page writes it, in collectors/window.py with OpenFiles imported at its top.
        (edit,) = [b for b in blocks if b.action == "edit"]
        assert edit.path == "infermeter/collectors/window.py"
        edited = dict(vars(window_module), OpenFiles=OpenFiles)
        exec(compile(edit.text, edit.path, "exec"), edited)
        monkeypatch.setattr(worker, "engine_window", edited["engine_window"])  # where the worker calls it
        suite = parse_suite({"name": "collector", "workloads": ["fake-tiny"], "engines": ["fake"], "scenarios": ["single-stream"],
                             "warmup": {"iterations": 1, "seconds": 0, "max_seconds": 1, "window": 8},
                             "measure": {"repeats": 2, "min_iterations": 5, "min_seconds": 0.05}})
        run_suite(suite, tmp_path / "out", cache_root=tmp_path / "cache", isolation="none")
    finally:
        sys.modules.pop("infermeter.collectors.open_files", None)
    records = [json.loads(x) for x in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    assert len(records) == 2 and all(r["status"] == "ok" for r in records)
    assert all(r["metrics"]["open_fds"] > 0 and "open_fds_delta" in r["metrics"] for r in records)
    assert all("cpu_percent" in r["metrics"] and "speed_probe_ms" in r["metrics"] for r in records)  # the others still there
