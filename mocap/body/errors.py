"""Typed errors of the body models and the fitter (both are :class:`mocap.errors.MocapError`)."""
from __future__ import annotations

from ..errors import MocapError

__all__ = ["BodyModelError", "FitError", "SMPL_SOURCE"]

SMPL_SOURCE = ("SMPL, SMPL-H and SMPL-X files are licensed separately and are not shipped: "
               "register and download them from https://smpl.is.tue.mpg.de (SMPL), "
               "https://mano.is.tue.mpg.de (SMPL-H) or https://smpl-x.is.tue.mpg.de (SMPL-X), "
               "then pass the folder with --model-path (or use --body anny, which needs no "
               "files)")


class BodyModelError(MocapError):
    """A body model that cannot be loaded or does not fit the request (missing or malformed
    model files, an unknown model kind, a keypoint the model cannot provide)."""


class FitError(MocapError):
    """Inputs to the body fit that do not fit together (shapes, formats, too little data)."""
