"""Mistakes a session can hold, made in the virtual studio (shared by the camera-health
tests of tests/mocap/triangulate and tests/mocap/app)."""
from __future__ import annotations

import numpy as np

from calibration import Rig


def turned_around(rig: Rig, name: str) -> Rig:
    """``rig`` with camera ``name`` turned 180 degrees about its vertical axis (same centre):
    a wrong rotation in calibration.toml."""
    cams = []
    for cam in rig:
        if cam.name == name:
            R = np.diag([-1.0, 1.0, -1.0]) @ cam.R_cam_from_world
            cam = cam.replace(R_cam_from_world=R, t_cam_from_world=-R @ cam.center)
        cams.append(cam)
    return Rig(tuple(cams))


def scaled(det, camera: int, factor: float):
    """``det`` with camera ``camera``'s keypoints (pixels) multiplied by ``factor``:
    detections made at another resolution than the calibration's."""
    xy = det.xy.copy()
    xy[camera] *= factor
    return det.replace(xy=xy)
