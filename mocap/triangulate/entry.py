"""The pipeline's entry point: triangulate a take by the method the settings name."""
from __future__ import annotations

from calibration import Rig

from ..settings import TriangulateSettings
from ..types import Detections2D, Points3D
from .take import triangulate_take

__all__ = ["triangulate"]


def triangulate(det: Detections2D, rig: Rig,
                settings: TriangulateSettings = TriangulateSettings()) -> Points3D:
    """Triangulate every frame, person and joint of a take (the pipeline's entry point).

    ``settings.method``: ``"algebraic"`` (robust weighted DLT, :mod:`mocap.triangulate`) or
    ``"volumetric"`` (heatmaps unprojected into voxels, :mod:`mocap.triangulate.volumetric`).

    Returns:
        Points3D with ``xyz`` (F, P, J, 3), ``conf`` = mean confidence of the views used,
        ``views_used`` (F, P, J, C) and ``reproj_err_px`` (F, P, J).
    """
    if settings.method == "volumetric":
        from .volumetric import triangulate_volumetric
        return triangulate_volumetric(det, rig, settings)
    return triangulate_take(det, rig, settings).points
