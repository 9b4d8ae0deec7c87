"""Files infermeter writes and the directories it trusts, handled the careful way.

- Directories it creates are private to the user (0700); one owned by someone else is refused, since
  its owner could plant links or replace files between our checks and our writes.
- Output files are opened with O_NOFOLLOW: a link planted where results.csv will be never gets a row of
  ours appended to the file it points at.
- Every write that is not an append is atomic: a temporary file beside the target, fsynced, renamed over
  it, then the directory fsynced. A kill leaves the old file or the new one, never a torn one.
- A results directory is locked (flock) for the whole run, so two runs cannot interleave their records.
- What is loaded as code (pickles, torch.load) comes only from directories that are the user's own and
  that nobody else can write to (`check_private`).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

from infermeter.errors import ConfigError, ResultsWriteError

PRIVATE_DIR = 0o700
TMP_SUFFIX = ".tmp"


def write_error(path: Path | str, exc: OSError) -> ResultsWriteError:
    """The error for a write the system refused (disk full, quota, permissions, read-only, no such place),
    with the fix for that cause."""
    in_place = {errno.ENOSPC: "free space there", errno.EDQUOT: "free space there (your disk quota is used up)",
                errno.EFBIG: "free space there, or use a file system that takes larger files",
                errno.EACCES: "fix the permissions there", errno.EPERM: "fix the permissions there"}
    if exc.errno in in_place:
        fix = f"{in_place[exc.errno]}, then run the same command with --resume to finish"
    elif exc.errno == errno.EROFS:
        fix = "that file system is read-only: give an --out on a writable one (copy in what is already measured, and add --resume)"
    else:
        fix = "give an --out where a directory can be made, e.g. under your home or the working directory"
    return ResultsWriteError(f"cannot write results to {path}: {exc.strerror or exc}; every result written before is intact", fix)


def _not_ours(path: Path, st: os.stat_result) -> ConfigError:
    try:
        import pwd

        owner = pwd.getpwuid(st.st_uid).pw_name
    except (KeyError, ImportError):
        owner = f"uid {st.st_uid}"
    return ConfigError(f"{path} belongs to {owner}, not to you", "choose a directory of your own (e.g. a new --out)")


def private_dir(path: Path, what: str = "directory") -> Path:
    """`path` as a directory of the user's own: created 0700 (parents too) when missing; refused when it
    is not a directory or belongs to someone else (also when it is a link to someone else's directory)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        try:
            path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        except OSError as exc:
            raise write_error(path, exc) from None
        st = os.stat(path)
    except OSError as exc:
        raise write_error(path, exc) from None
    if not stat.S_ISDIR(st.st_mode):
        raise ConfigError(f"{path} is a file, not a {what}", "give a directory (new or holding results)")
    if st.st_uid != os.geteuid():
        raise _not_ours(path, st)
    return path


def check_private(path: Path, what: str) -> None:
    """Refuse to load from `path` unless it is the user's own and nobody else can write to it: its content
    is run as code (pickles, torch.load, a Python environment)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    if st.st_uid != os.geteuid():
        raise ConfigError(f"the {what} {path} belongs to uid {st.st_uid}, not to you; what it holds would run as your code",
                          f"use a {what} of your own (remove it, or point infermeter elsewhere)")
    # A directory nobody else may write to; a file inside such directories must at least not be writable
    # by everyone (umask 002 gives files group write, which the private directories above make moot).
    if st.st_mode & (0o022 if stat.S_ISDIR(st.st_mode) else 0o002):
        raise ConfigError(f"the {what} {path} can be written by other users (mode {stat.S_IMODE(st.st_mode):o}); "
                          "what it holds would run as your code", f"chmod go-w {path}  (or chmod 700 {path})")


def confined(root: Path, name: str) -> Path:
    """root/name, where `name` came from a file (a cache entry's metadata): a plain relative path that stays
    inside root, never an absolute path or one that climbs out with '..' or through a link."""
    candidate = Path(name)
    if not name or candidate.is_absolute() or ".." in candidate.parts:
        raise ConfigError(f"{root}: entry name {name!r} points outside it", f"remove {root} and run again")
    full = root / candidate
    real_root = os.path.realpath(root)
    real = os.path.realpath(full)
    if os.path.commonpath([real_root, real]) != real_root:
        raise ConfigError(f"{root}: entry {name!r} leads outside it (to {real})", f"remove {root} and run again")
    return full


def open_nofollow(path: Path, flags: int, mode: int = 0o644) -> int:
    """os.open that refuses a symbolic link at `path` (ELOOP) with a clear message."""
    try:
        return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ConfigError(f"{path} is a symbolic link; infermeter does not write through links",
                              f"remove the link ({path}); `infermeter doctor {path.parent}` rebuilds what it can") from None
        raise


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident() % 100000}{TMP_SUFFIX}")


def replace_atomically(path: Path, data: bytes | str, mode: int = 0o644) -> None:
    """Write `data` as the new content of `path`: a reader (or a kill) sees the old file or the new one.
    A link at `path` is replaced by the file, never written through."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    tmp = tmp_name(path)
    try:
        fd = open_nofollow(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise write_error(path, exc) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


# Locks this process holds, by directory: run_suite and the command around it both take it; flock locks
# belong to an open file, so a second open in one process would block on itself.
_held: dict[str, tuple[int, int]] = {}
_held_guard = threading.Lock()
LOCK_NAME = ".infermeter.lock"


@contextlib.contextmanager
def locked(out: Path) -> Iterator[None]:
    """Hold OUT's exclusive lock (OUT/.infermeter.lock, flock) for the block; a second run on the same
    OUT is refused at once rather than left to interleave its records with this one's."""
    key = os.path.realpath(out)
    with _held_guard:
        if key in _held:
            fd, n = _held[key]
            _held[key] = (fd, n + 1)
            reentered = True
        else:
            reentered = False
    if not reentered:
        fd = open_nofollow(out / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            try:
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
            except OSError:
                holder = ""
            os.close(fd)
            raise ConfigError(f"another infermeter process{' (pid ' + holder + ')' if holder else ''} is writing to {out}",
                              "wait for it to finish, or give this run another --out") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        with _held_guard:
            _held[key] = (fd, 1)
    try:
        yield
    finally:
        with _held_guard:
            fd, n = _held[key]
            if n > 1:
                _held[key] = (fd, n - 1)
            else:
                del _held[key]
                os.close(fd)  # closing the last descriptor releases the lock
