"""Typed errors of the :mod:`calibration` package.

Every error raised for a user's mistake derives from :class:`CalibrationError` (itself a
``ValueError``). Its message is one line naming the camera, file, table or key, what was
expected and what was found. The structured parts are kept as attributes, and every error
pickles (so it survives a process pool).
"""

from __future__ import annotations

import os


class CalibrationError(ValueError):
    """Base of every user-facing error in :mod:`calibration`."""


class ShapeError(CalibrationError):
    """An array argument of a pure function has the wrong shape, dtype or size."""


class UnknownCameraError(CalibrationError):
    """A camera name that is not in a rig; the message lists the names that are."""

    def __init__(self, name: str, known: tuple[str, ...]):
        self.name = name
        self.known = tuple(known)
        super().__init__(f"unknown camera {name!r}: expected one of {list(self.known)}")

    def __reduce__(self):
        return (type(self), (self.name, self.known))


class CameraError(CalibrationError):
    """A camera's parameters are invalid (shape, non-finite value, rotation, focal, model).

    ``field`` is the :class:`~calibration.camera.Camera` field at fault (``"K"``, ``"dist"``,
    ``"R_cam_from_world"``, ...); ``problem`` says what was expected and what was found.
    """

    def __init__(self, camera: str, field: str, problem: str):
        self.camera = camera
        self.field = field
        self.problem = problem
        super().__init__(f"camera {camera!r}: {field}: {problem}")

    def __reduce__(self):
        return (type(self), (self.camera, self.field, self.problem))


class CalibrationFileError(CalibrationError):
    """A calibration file cannot be read or written: missing, malformed, wrong layout.

    The message reads ``<path> [<table>] <key>: <expected ..., found ...>``; ``table`` and
    ``key`` are left out when the fault is not inside one table or key.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        problem: str,
        table: str | None = None,
        key: str | None = None,
    ):
        self.path = os.fspath(path)
        self.problem = problem
        self.table = table
        self.key = key
        where = self.path
        if table is not None:
            where += f" [{table}]"
        if key is not None:
            where += f" {key}"
        super().__init__(f"{where}: {problem}")

    def __reduce__(self):
        return (type(self), (self.path, self.problem, self.table, self.key))
