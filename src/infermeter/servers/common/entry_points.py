"""Copying infermeter's in-server code (a handler, an app, a runtime) into a server's directory, where the
framework loads it by file or module name."""

from __future__ import annotations

from pathlib import Path


def entry_point(package: str, name: str, directory: Path, as_name: str | None = None) -> Path:
    """Copy `name` from `package` (a framework's folder under infermeter.servers) into `directory`, as
    `as_name` where the framework expects another file name; the copy's path."""
    from importlib import resources

    path = directory / (as_name or name)
    path.write_text(resources.files(package).joinpath(name).read_text())
    return path
