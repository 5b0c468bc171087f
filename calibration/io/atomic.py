"""The one atomic write of the calibration package: a file is complete or absent.

The content goes to a temporary file in the destination's folder (same file system, so the
final ``os.replace`` is atomic), named ``.<name>.<pid>.<hex>.tmp`` (hidden, and ending in
``.tmp`` so that a killed run's leftovers are recognisable), flushed and fsynced, then renamed
onto the destination. On an exception the temporary file is removed and an existing
destination is left untouched.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import BinaryIO, Callable

from calibration.errors import CalibrationFileError


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> Path:
    """Write ``path`` atomically: ``write`` gets the temporary file, open in binary mode.

    Raises:
        CalibrationFileError: the destination's folder does not exist.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    p = Path(path)
    if not p.parent.is_dir():
        raise CalibrationFileError(p, f"expected an existing folder {str(p.parent)!r}, found none")
    # A plain open() (not mkstemp) so that the file gets the usual umask permissions.
    tmp = p.parent / f".{p.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp"
    try:
        with open(tmp, "xb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return p


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8, newlines as they are) to ``path`` atomically (see
    :func:`atomic_write`)."""
    data = text.encode("utf-8")
    return atomic_write(path, lambda f: f.write(data))
