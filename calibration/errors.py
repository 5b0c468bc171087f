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


class BoardSpecError(CalibrationError):
    """A calibration-board specification is invalid (kind, size, lengths, dictionary).

    The message reads ``<source> <key>: <expected ..., found ...>``; ``source`` names the file
    or table the spec came from (``"board"`` when built in code).
    """

    def __init__(self, source: str, key: str, problem: str):
        self.source = source
        self.key = key
        self.problem = problem
        super().__init__(f"{source} {key}: {problem}")

    def __reduce__(self):
        return (type(self), (self.source, self.key, self.problem))


class BoardNotFoundError(CalibrationError):
    """A camera never found the board, or found corners that do not fit the board spec.

    ``suggestion`` is what trying the common misconfigurations found (a spec that does detect
    the board), or None when nothing did.
    """

    def __init__(self, camera: str, source: str, problem: str, suggestion: str | None = None):
        self.camera = camera
        self.source = source
        self.problem = problem
        self.suggestion = suggestion
        tail = f"; {suggestion}" if suggestion else ""
        super().__init__(f"camera {camera!r} ({source}): {problem}{tail}")

    def __reduce__(self):
        return (type(self), (self.camera, self.source, self.problem, self.suggestion))


class DisconnectedCamerasError(CalibrationError):
    """Some cameras share no board view (directly or through other cameras) with the rest.

    ``cameras`` are the cameras cut off from the first group (the one holding the rig's first
    camera); ``connected`` the cameras of that group.
    """

    def __init__(self, cameras: tuple[str, ...], connected: tuple[str, ...], detail: str):
        self.cameras = tuple(cameras)
        self.connected = tuple(connected)
        self.detail = detail
        super().__init__(
            f"cameras {list(self.cameras)} share no board view with cameras "
            f"{list(self.connected)}: expected every camera linked to the others through frames "
            f"where two cameras see the board at the same time, found {detail}"
        )

    def __reduce__(self):
        return (type(self), (self.cameras, self.connected, self.detail))


class VideoError(CalibrationError):
    """A video or image file cannot be opened or decoded."""

    def __init__(self, path: str | os.PathLike, problem: str):
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")

    def __reduce__(self):
        return (type(self), (self.path, self.problem))


class InsufficientDataError(CalibrationError):
    """Too few board views (or keypoints) to estimate what was asked, for a named camera."""

    def __init__(self, camera: str, problem: str):
        self.camera = camera
        self.problem = problem
        super().__init__(f"camera {camera!r}: {problem}")

    def __reduce__(self):
        return (type(self), (self.camera, self.problem))
