"""Atomic file writing: a file (or folder) is either fully written or not there at all.

The one way this repository writes files atomically (``exporters`` and ``mocap`` both use it).
The content goes to a temporary name in the destination's own folder (same file system, so
the final ``os.replace`` is atomic), which replaces the destination only when the block ends
without an exception. On an exception the temporary file is removed and an existing
destination is left untouched. Temporary names are ``.<name>.<12 hex digits>.tmp`` (what
``mocap.app.stages`` sweeps up after a killed run).

- ``atomic_write``: a context manager yielding an open file object;
- ``atomic_path``: a context manager yielding a temporary path, for libraries that write by
  file name (HDF5, pandas);
- ``atomic_write_bytes`` / ``atomic_write_text``: one call for content already in memory;
- ``replace_atomically``: move a finished file or folder onto its final name.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_write", "atomic_path", "atomic_write_bytes", "atomic_write_text", "replace_atomically"]


def _temporary_name(target: Path) -> Path:
    """A fresh ``.<name>.<hex>.tmp`` next to ``target``."""
    return target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "w", **open_kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary file next to ``path``; rename it onto ``path`` when the block succeeds.

    Args:
        path: destination file. Its folder must exist.
        mode: ``"w"`` (text) or ``"wb"`` (binary).
        **open_kwargs: passed to ``open`` (``encoding``, ``newline``, ...).

    Yields:
        The open file object of the temporary file.

    The temporary file is created with permissions ``0o666`` minus the process umask, like a
    file made by ``open(path, "w")``; its content is flushed and fsynced before the rename.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write: mode must be 'w' or 'wb', found {mode!r}")
    with atomic_path(path) as tmp:  # fsync, rename, and clean-up on failure
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # claim the name, umask applies
        with open(tmp, mode, **open_kwargs) as handle:
            yield handle


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary path next to ``path`` to write by name; renamed onto ``path`` when the block succeeds.

    For writers that take a file name rather than a file object (``DataFrame.to_hdf``,
    ``h5py.File``). Nothing is created at the temporary path: the block must create the file
    there (and close it). The file is fsynced before the rename. On an exception the
    temporary file, if any, is removed and an existing ``path`` is left untouched.

    Args:
        path: destination file. Its folder must exist.

    Yields:
        The temporary path (``.<name>.<hex>.tmp`` in the destination's folder).
    """
    target = Path(path)
    tmp = _temporary_name(target)
    try:
        yield tmp
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (``atomic_write`` in binary mode)."""
    with atomic_write(path, "wb") as handle:
        handle.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically (``atomic_write`` in text mode, ``encoding``)."""
    with atomic_write(path, "w", encoding=encoding) as handle:
        handle.write(text)


def replace_atomically(source: str | os.PathLike[str], destination: str | os.PathLike[str]) -> None:
    """Move a finished file or folder ``source`` onto ``destination`` by renaming it.

    ``source`` must be on the same file system (e.g. made in ``destination``'s folder or a
    folder beside it). The parent folder of ``destination`` is created if missing. A file
    destination is replaced in one ``os.replace``; an existing folder destination (which
    ``os.replace`` cannot overwrite unless empty) is first renamed aside, then the new folder
    renamed into place and the old one deleted, so ``destination`` is never half-written.
    """
    source, destination = Path(source), Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    if not (destination.is_dir() and not destination.is_symlink()):
        os.replace(source, destination)
        return
    aside = _temporary_name(destination)
    os.replace(destination, aside)
    try:
        os.replace(source, destination)
    except BaseException:
        os.replace(aside, destination)
        raise
    shutil.rmtree(aside, ignore_errors=True)
