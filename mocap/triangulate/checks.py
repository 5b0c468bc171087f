"""Guards shared by the algebraic and the volumetric triangulation: the settings and the
camera order of the detections."""
from __future__ import annotations

from calibration import Rig

from ..errors import TriangulationError
from ..types import Detections2D

__all__ = ["check_cameras"]


def check_cameras(rig: Rig, det: Detections2D) -> None:
    """Raise :class:`TriangulationError` unless the detections are for the rig's cameras, in the
    rig's order."""
    if tuple(det.camera_names) != tuple(rig.names):
        raise TriangulationError(
            f"detections are for cameras {list(det.camera_names)}, the calibration has "
            f"{list(rig.names)}; expected the same cameras in the same order")
