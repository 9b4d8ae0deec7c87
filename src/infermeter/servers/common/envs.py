"""One virtual environment per serving framework, with its pinned versions (their pins conflict), as
the studies used one container per framework.

Each environment sees infermeter's own environment after its own packages (a .pth file), so torch,
numpy, transformers and infermeter are shared rather than installed again; the framework's pins come
first on sys.path and win.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

from infermeter.errors import InfermeterError
from infermeter.export.artifacts import default_cache_root, size_of
from infermeter.results.files import check_private, replace_atomically


def envs_root() -> Path:
    return Path(os.environ.get("INFERMETER_ENVS", default_cache_root() / "envs"))


def env_dir(name: str) -> Path:
    return envs_root() / name


def env_bin(name: str) -> Path:
    """The environment's bin directory, once checked: its python runs as the user, so the environments,
    this one and its bin must be the user's own and writable by nobody else."""
    for d in (envs_root(), env_dir(name), env_dir(name) / "bin"):
        check_private(d, "framework environment")
    return env_dir(name) / "bin"


def _marker(requirements: list[str]) -> str:
    return hashlib.sha256(json.dumps(sorted(requirements)).encode()).hexdigest()[:16]


def shared_site() -> str:
    """The site-packages of the infermeter running now: what every environment's .pth must point at."""
    return sysconfig.get_paths()["purelib"]


def why_not_ready(name: str, requirements: list[str]) -> str | None:
    """Why the environment cannot be used as it is (None: it can). An environment made by another
    infermeter installation (another checkout or virtual environment) would import that one's code."""
    info, damaged = _read_info(name)
    if damaged:
        return damaged
    if not info:
        return "not installed"
    if info.get("marker") != _marker(requirements):
        return "its pins changed"
    if info.get("shared_with") != shared_site():
        return f"it was made for the infermeter in {info.get('shared_with')}, not this one in {shared_site()}"
    return None


def is_installed(name: str, requirements: list[str]) -> bool:
    return why_not_ready(name, requirements) is None


def _read_info(name: str) -> tuple[dict, str | None]:
    """The environment's infermeter-env.json, and why it cannot be read (None: it can, or there is none)."""
    meta = env_dir(name) / "infermeter-env.json"
    if not meta.exists():
        return {}, None
    try:
        info = json.loads(meta.read_text())
        if not isinstance(info, dict):
            raise ValueError(f"a JSON {type(info).__name__}, not an object")
    except (OSError, ValueError) as exc:  # a torn write from before writes were atomic, or an edit
        return {}, f"record {meta} is damaged ({exc})"
    return info, None


def env_info(name: str) -> dict:
    """What the install recorded ({} when nothing readable was)."""
    return _read_info(name)[0]


def install(name: str, requirements: list[str], log: Path | None = None, pip_args: list[str] | None = None) -> dict:
    """Create (or refresh) the environment; returns what was measured: install time and size."""
    d = env_dir(name)
    d.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    check_private(d.parent, "framework environment")
    base = getattr(sys, "_base_executable", sys.executable)
    t0 = time.perf_counter()
    out = log.open("ab") if log else subprocess.DEVNULL
    try:
        if not (d / "bin" / "python").exists():
            subprocess.run([base, "-m", "venv", str(d)], check=True, stdout=out, stderr=out)
        py = d / "bin" / "python"
        site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              check=True, capture_output=True, text=True).stdout.strip()
        shared = shared_site()
        # addsitedir (not a bare path) so that the shared environment's own .pth files, such as an
        # editable install of infermeter, are processed too.
        replace_atomically(Path(site, "_infermeter_shared.pth"), f"import site; site.addsitedir({shared!r})\n")
        r = subprocess.run([str(py), "-m", "pip", "install", "-q", *(pip_args or []), *requirements], stdout=out, stderr=out)
        if r.returncode != 0:
            raise InfermeterError(
                f"installing the {name} environment failed (pip exit code {r.returncode})",
                f"read {log}" if log else "rerun with a log",
            )
    finally:
        if log:
            out.close()  # type: ignore[union-attr]
    info = {
        "name": name,
        "marker": _marker(requirements + (pip_args or [])),
        "requirements": requirements,
        "install_s": round(time.perf_counter() - t0, 1),
        "size_mb": round(size_of(d) / 1e6, 1),
        "shared_with": shared,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    replace_atomically(d / "infermeter-env.json", json.dumps(info, indent=1))  # a kill leaves the old file or the new
    return info
