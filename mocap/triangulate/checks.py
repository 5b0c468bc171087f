"""Guards shared by the algebraic and the volumetric triangulation: the settings and the
camera order of the detections."""
from __future__ import annotations

from calibration import Rig

from ..errors import TriangulationError
from ..settings import TriangulateSettings
from ..types import Detections2D

__all__ = ["check_settings", "check_cameras"]


def check_settings(s: TriangulateSettings) -> None:
    """Raise :class:`TriangulationError` for a method, view selection or backend not known, fewer
    than 2 ``min_views`` or a non-positive ``reproj_threshold_px``."""
    checks = [("method", s.method, ("algebraic", "volumetric")),
              ("view_selection", s.view_selection, ("all", "robust")),
              ("backend", s.backend, ("numpy", "torch"))]
    for key, value, allowed in checks:
        if value not in allowed:
            raise TriangulationError(f"[triangulate] {key} = {value!r}; expected one of "
                                     f"{', '.join(repr(a) for a in allowed)}")
    if s.min_views < 2:
        raise TriangulationError(f"[triangulate] min_views = {s.min_views}; expected >= 2")
    if not s.reproj_threshold_px > 0:
        raise TriangulationError(f"[triangulate] reproj_threshold_px = "
                                 f"{s.reproj_threshold_px}; expected > 0")


def check_cameras(rig: Rig, det: Detections2D) -> None:
    """Raise :class:`TriangulationError` unless the detections are for the rig's cameras, in the
    rig's order."""
    if tuple(det.camera_names) != tuple(rig.names):
        raise TriangulationError(
            f"detections are for cameras {list(det.camera_names)}, the calibration has "
            f"{list(rig.names)}; expected the same cameras in the same order")
