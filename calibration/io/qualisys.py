"""Read Qualisys Track Manager calibrations exported as XML (``*.qca.txt``).

What the file holds, per ``<camera>`` (in file order, named by its ``serial``):

- ``<fov_video left right top bottom>``: the video sensor window, pixels (inclusive), so the
  image is ``(right - left + 1) x (bottom - top + 1)`` pixels (divided by a binning factor).
- ``<intrinsic>``: ``focalLengthU/V`` and ``centerPointU/V`` in sensor sub-pixel units of
  1/64 pixel (the principal point relative to the full sensor, so the fov window's
  ``left``/``top`` are subtracted); ``radialDistortion1..3`` and ``tangentalDistortion1..2``.
- ``<transform x y z r11 .. r33>``: the camera centre in the world, **millimetres**, and the
  rotation ``M`` (``r_ij`` row i, column j) taking world axes to the Qualisys camera axes
  (x right, y up, z backwards), so OpenCV's ``R_cam_from_world = diag(1, -1, -1) @ M``.

The distortion coefficients are OpenCV's k1 k2 p1 p2, dimensionless, read as they are.
Pose2Sim's converter divides them by 64 like the sub-pixel units; that makes the lens almost
distortion-free, and it is wrong: calibrating the checkerboard images shipped beside Pose2Sim's
demo ``Calib.qca.txt`` gives k1 = -0.047, k2 = 0.135 for values of -0.046 and 0.140 in the file
(see ``tests/mocap/calibration/test_calib_pose2sim_demo.py``). ``pose2sim_distortion=True``
reproduces Pose2Sim's conversion (the cameras its demo ships in ``Calib_qualisys.toml``).
Translations are converted to metres.
"""

from __future__ import annotations

import logging
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from calibration.camera import Camera
from calibration.errors import CalibrationFileError, CameraError
from calibration.io.formats import RigMetadata
from calibration.rig import Rig

log = logging.getLogger(__name__)

#: Qualisys stores intrinsics in 1/64 sub-pixel units.
SUBPIXELS = 64.0
#: Qualisys camera axes (x right, y up, z backwards) -> OpenCV's (x right, y down, z forward).
OPENCV_FROM_QUALISYS = np.diag([1.0, -1.0, -1.0])


def _float(path, table: str, el: ET.Element, key: str) -> float:
    v = el.get(key)
    if v is None:
        raise CalibrationFileError(path, f"expected attribute {key!r}, found attributes {sorted(el.attrib)}",
                                   table, key)
    try:
        out = float(v)
    except ValueError:
        raise CalibrationFileError(path, f"expected a number, found {v!r}", table, key) from None
    if not np.isfinite(out):
        raise CalibrationFileError(path, f"expected a finite number, found {v!r}", table, key)
    return out


def _child(path, table: str, cam: ET.Element, tag: str) -> ET.Element:
    el = cam.find(tag)
    if el is None:
        raise CalibrationFileError(path, f"expected a <{tag}> element, found {[c.tag for c in cam]}", table, tag)
    return el


def read_qualisys(path: str | os.PathLike, binning_factor: int = 1, pose2sim_distortion: bool = False) -> Rig:
    """Read a Qualisys ``.qca.txt`` calibration.

    Args:
        path: the XML file.
        binning_factor: pixel binning of the videos (1, or 2 when filming in 540p on a
            1080p sensor).
        pose2sim_distortion: divide the distortion coefficients by 64 as Pose2Sim's converter
            does (only to reproduce its files; the coefficients are dimensionless).

    Returns:
        The rig, cameras in file order; metadata ``error_px_per_camera`` is None (the file's
        ``avg-residual`` is in millimetres, not pixels).
    """
    p = Path(path)
    if not p.is_file():
        raise CalibrationFileError(p, "expected an existing .qca.txt file, found nothing there")
    try:
        root = ET.parse(p).getroot()
    except ET.ParseError as e:
        raise CalibrationFileError(p, f"expected Qualisys XML, found a parse error: {e}") from None
    except LookupError as e:  # the XML declaration names an encoding Python does not know
        raise CalibrationFileError(p, f"expected Qualisys XML in a known encoding, found: {e}") from None
    cams_el = root.findall("cameras/camera")
    if root.tag != "calibration" or not cams_el:
        raise CalibrationFileError(
            p, f"expected <calibration><cameras><camera ...>, found root <{root.tag}> with "
            f"{len(cams_el)} cameras"
        )
    b = float(binning_factor)
    dist_div = SUBPIXELS * b if pose2sim_distortion else 1.0
    cams = []
    for i, el in enumerate(cams_el):
        name = el.get("serial") or f"camera_{i}"
        table = f"camera {name}"
        fov = _child(p, table, el, "fov_video")
        intr = _child(p, table, el, "intrinsic")
        tr = _child(p, table, el, "transform")
        left, right = _float(p, table, fov, "left"), _float(p, table, fov, "right")
        top, bottom = _float(p, table, fov, "top"), _float(p, table, fov, "bottom")
        size = (int(round((right - left + 1) / b)), int(round((bottom - top + 1) / b)))
        fx = _float(p, table, intr, "focalLengthU") / SUBPIXELS / b
        fy = _float(p, table, intr, "focalLengthV") / SUBPIXELS / b
        cx = _float(p, table, intr, "centerPointU") / SUBPIXELS / b - left
        cy = _float(p, table, intr, "centerPointV") / SUBPIXELS / b - top
        dist = np.array([
            _float(p, table, intr, k) / dist_div
            for k in ("radialDistortion1", "radialDistortion2", "tangentalDistortion1",
                      "tangentalDistortion2")
        ])
        M = np.array([[_float(p, table, tr, f"r{r}{c}") for c in (1, 2, 3)] for r in (1, 2, 3)])
        centre_m = np.array([_float(p, table, tr, k) for k in ("x", "y", "z")]) / 1000.0
        R = OPENCV_FROM_QUALISYS @ M
        K = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
        try:
            cams.append(Camera(name, size, K, dist, R, -R @ centre_m))
        except CameraError as e:
            raise CalibrationFileError(p, e.problem, table, e.field) from None
    log.info("read %d Qualisys cameras from %s", len(cams), p)
    return Rig(tuple(cams), RigMetadata(adjusted=False))
