"""Writes that never follow a symlink and never leave a half-written file.

Every result file (``sweep.json``, ``sweep.csv``, ``summary.csv``, a saved
profile, a figure) goes through :func:`atomic_write`: the bytes land in a new
temporary file in the same folder, created exclusively with ``O_NOFOLLOW``
(a planted symlink or leftover file is never opened, let alone truncated),
are fsynced, and the file is renamed over the target. A reader, or a sweep
killed at any instant, sees either the old file or the new one, whole.

:class:`FolderLock` is an advisory ``fcntl`` lock that keeps two writers off
one output folder.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
from pathlib import Path

from accelsim._errors import UserInputError

__all__ = ["atomic_write", "save_figure", "FolderLock", "FolderBusyError", "safe_file_name",
           "open_no_follow_append", "describe_os_error"]

LOCK_NAME = ".accelsim.lock"
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


class FolderBusyError(UserInputError):
    """Another process holds the output folder's lock."""


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on a directory; the rename itself still happened
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike, data: bytes | str, *, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` atomically, without following symlinks.

    Parameters
    ----------
    path : str or PathLike
        The file to (re)place. If ``path`` itself is a symlink, the link is
        replaced by a regular file; its target is left alone.
    data : bytes or str
        The whole content (str is written as UTF-8).
    mode : int
        Permissions of the new file (before the umask).

    Raises
    ------
    OSError
        The write failed (disk full, read-only, ...); ``path`` is unchanged.
    """
    path = Path(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    for _ in range(16):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, flags, mode)
            break
        except FileExistsError:
            continue  # astronomically unlikely, or planted: pick another name
    else:  # pragma: no cover - 16 collisions of 48 random bits
        raise FileExistsError(errno.EEXIST, "cannot create a temporary file", str(path.parent))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(path.parent)


def save_figure(figure, path: str | os.PathLike, **kwargs) -> None:
    """``figure.savefig`` through :func:`atomic_write` (format from the suffix, default png)."""
    import io

    buffer = io.BytesIO()
    figure.savefig(buffer, format=Path(path).suffix[1:].lower() or "png", **kwargs)
    atomic_write(path, buffer.getvalue())


def open_no_follow_append(path: str | os.PathLike) -> int:
    """A raw descriptor appending to ``path``, refusing a symlink (``OSError`` ELOOP)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    return os.open(path, flags, 0o644)


def safe_file_name(text: str, default: str = "file") -> str:
    """``text`` reduced to a plain file name: no path separators, no ``..``, no leading dot."""
    name = _UNSAFE.sub("_", str(text)).strip("._")
    name = name.replace("..", "_")
    return name[:100] or default


def describe_os_error(exc: OSError) -> str:
    """A short phrase for an OSError on output (``disk full``, ``file size limit``, ...)."""
    reason = {errno.ENOSPC: "disk full", errno.EDQUOT: "disk quota exceeded",
              errno.EFBIG: "file size limit exceeded", errno.EROFS: "read-only file system",
              errno.EACCES: "permission denied", errno.ELOOP: "refusing to follow a symlink"}
    return reason.get(exc.errno or 0, exc.strerror or str(exc))


class FolderLock:
    """Exclusive advisory lock (``fcntl.flock``) on ``directory/.accelsim.lock``.

    Raises :class:`FolderBusyError` at once if another process holds it; the
    lock is released when the lock is closed or the process ends (even by
    ``kill -9``), so a stale lock file never blocks a later run.
    """

    def __init__(self, directory: str | os.PathLike, what: str = "sweep"):
        import fcntl

        self.path = Path(directory) / LOCK_NAME
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        self._fd: int | None = os.open(self.path, flags, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            self._fd = None
            raise FolderBusyError(
                f"{Path(directory)}: another accelsim {what} is writing to this folder; wait for it "
                "to finish (or stop it) and rerun, or choose another --out") from None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> FolderLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
