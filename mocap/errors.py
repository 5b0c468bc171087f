"""Typed errors of the mocap package.

Every error raised for a user's mistake derives from :class:`MocapError`; its message is one
line naming the file, camera or key, what was expected and what was found. The CLI prints that
line and exits non-zero, without a traceback.
"""
from __future__ import annotations

import os

from calibration.errors import VideoError as CalibrationVideoError

__all__ = ["MocapError", "SessionError", "SettingsError", "KeypointFormatError", "DetectionsError",
           "VideoError", "DetectorError", "SyncError", "AssociationError", "TriangulationError",
           "BodyModelError", "FitError", "SimulationError", "DataFetchError", "ModelError",
           "SMPL_SOURCE", "expect_shape"]

#: Where SMPL-family model files come from (ends :class:`BodyModelError` messages about them).
SMPL_SOURCE = ("SMPL, SMPL-H and SMPL-X files are licensed separately and are not shipped: "
               "register and download them from https://smpl.is.tue.mpg.de (SMPL), "
               "https://mano.is.tue.mpg.de (SMPL-H) or https://smpl-x.is.tue.mpg.de (SMPL-X), "
               "then pass the folder with --model-path (or use --body anny, which needs no "
               "files)")


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


class VideoError(DetectionsError, CalibrationVideoError):
    """A camera's video or image folder cannot be read, or disagrees with the others.

    One class for both packages' video failures: it is a :class:`DetectionsError` (so the
    mocap CLI and ``except MocapError`` treat it as a user's mistake, as before) and a
    :class:`calibration.errors.VideoError` (so ``except calibration.VideoError`` catches an
    unreadable video whichever package opened it). It is not calibration's class itself,
    because a :class:`calibration.errors.CalibrationError` is not a :class:`MocapError` and
    would slip past mocap's handlers. Its message is free text (it may name the camera first);
    ``path`` is the file or folder when known, ``problem`` the message.
    """

    def __init__(self, message: str, path: "str | os.PathLike | None" = None):
        self.path = os.fspath(path) if path is not None else None
        self.problem = message
        ValueError.__init__(self, message)

    def __reduce__(self):
        return (type(self), (self.problem, self.path))


class DetectorError(MocapError):
    """A detector that cannot be built: unknown backend, missing or unsuitable model."""


class SyncError(MocapError):
    """Offsets that cannot be estimated or applied (too few frames, wrong length)."""


class AssociationError(MocapError):
    """Inputs to association that do not fit together (cameras, shapes, settings)."""


class TriangulationError(MocapError):
    """Inputs to triangulation that do not fit together (cameras, shapes)."""


class BodyModelError(MocapError):
    """A body model that cannot be loaded or does not fit the request (missing or malformed
    model files, an unknown model kind, a keypoint the model cannot provide)."""


class FitError(MocapError):
    """Inputs to the body fit that do not fit together (shapes, formats, too little data)."""


class SimulationError(MocapError):
    """A virtual-studio request that cannot be honoured (unknown motion, rig, bad value)."""


class DataFetchError(MocapError):
    """External data could not be fetched or did not match its pinned hash."""


class ModelError(MocapError):
    """A model file is missing from the cache and cannot be fetched, or is corrupt."""


class OpenSimError(MocapError):
    """OpenSim scaling or inverse kinematics of a person could not be done: no marker set for
    the keypoint format, too few frames with the person, or an OpenSim tool failed."""


class BlenderMissingError(SimulationError):
    """Rendering was asked for on a machine without Blender's environment (.venv-blender)."""


class RenderError(SimulationError):
    """Blender failed to render a scene (its last output lines are in the message)."""


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
