"""Atomic file writing: a file is either fully written or not there at all.

The content goes to a temporary file in the destination's own folder (same file system, so
the final ``os.replace`` is atomic), which replaces the destination only when the block
ends without an exception. On an exception the temporary file is removed and an existing
destination is left untouched.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_write"]


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
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # claim the name, umask applies
    try:
        handle = open(tmp, mode, **open_kwargs)  # noqa: SIM115 (closed by the with below)
    except BaseException:
        os.unlink(tmp)
        raise
    try:
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
