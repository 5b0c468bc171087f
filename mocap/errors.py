"""Typed errors of the mocap package.

Every error raised for a user's mistake derives from :class:`MocapError`; its message is one
line naming the file, camera or key, what was expected and what was found. The CLI prints that
line and exits non-zero, without a traceback.
"""
from __future__ import annotations


class MocapError(ValueError):
    """Base of every user-facing error in :mod:`mocap`."""


class SessionError(MocapError):
    """A session folder is missing a file, or its files disagree with each other."""


class SettingsError(MocapError):
    """A settings file has an unknown key, a wrong type or an out-of-range value."""


class KeypointFormatError(MocapError):
    """An unknown keypoint format, or data whose joint count does not match its format."""


class DetectionsError(MocapError):
    """2D detections that cannot be read or have inconsistent shapes."""


class TriangulationError(MocapError):
    """Inputs to triangulation that do not fit together (cameras, shapes)."""


class SimulationError(MocapError):
    """A virtual-studio request that cannot be honoured (unknown motion, rig, bad value)."""


def expect_shape(name: str, array, shape: tuple, where: str = "") -> None:
    """Raise :class:`MocapError` unless ``array.shape`` matches ``shape``.

    ``shape`` may hold ``None`` for a free axis. ``where`` names the file or object, if any.
    """
    found = tuple(getattr(array, "shape", ()))
    ok = len(found) == len(shape) and all(s is None or s == f for s, f in zip(shape, found))
    if not ok:
        want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
        loc = f"{where}: " if where else ""
        raise MocapError(f"{loc}{name} must have shape {want}, found {found}")
