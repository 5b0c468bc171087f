"""Calibration files: read and write anipose and Pose2Sim TOML (pure functions).

Both formats hold one table per camera plus an optional ``[metadata]`` table; each camera
table has ``name``, ``size = [w, h]`` (pixels), ``matrix`` (3x3 K), ``distortions`` (OpenCV
order), ``rotation`` (Rodrigues vector, world -> camera, radians), ``translation``
(world -> camera, metres) and ``fisheye`` (bool, optional, default false). They differ in
naming and number types:

- anipose / aniposelib (our canonical file): tables ``[cam_0]``, ``[cam_1]``, ... in rig order,
  integer sizes, ``[metadata]`` with ``adjusted``, ``error`` and ``units = "m"``. aniposelib
  loads tables in *sorted* key order, so from 11 cameras on the indices are zero-padded
  (``cam_00`` ... ``cam_10``) to keep its order equal to the rig's.
- Pose2Sim (``Calib*.toml``): tables named after the camera (``[cam_01]``, ``[int_cam1_img]``),
  float sizes, ``[metadata]`` with ``adjusted`` and ``error`` (a number, or one per camera).

Cameras are read in the file's order, never sorted. ``rotation`` may also be a 3x3 matrix on
reading (it must then be a rotation). Every malformed input raises
:class:`~calibration.errors.CalibrationFileError` naming the file, table and key, what was
expected and what was found. Writes are atomic (:mod:`calibration.io.atomic`).
"""

from __future__ import annotations

import logging
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import tomli_w
import tomllib

from calibration.camera import Camera
from calibration.errors import CalibrationError, CalibrationFileError, CameraError
from calibration.io.atomic import atomic_write_text
from calibration.lens import FISHEYE, PINHOLE
from calibration.rotations import ROTATION_TOL, rotation_defect

log = logging.getLogger(__name__)

ANIPOSE = "anipose"
POSE2SIM = "pose2sim"
FORMATS = (ANIPOSE, POSE2SIM)

METADATA = "metadata"
CAMERA_KEYS = ("name", "size", "matrix", "distortions", "rotation", "translation", "fisheye")
_REQUIRED = ("size", "matrix", "distortions", "rotation", "translation")
_ANIPOSE_TABLE = re.compile(r"cam_(\d+)")
#: Camera field -> file key, to re-address a CameraError raised while building a Camera.
_FIELD_TO_KEY = {
    "name": "name",
    "size_wh": "size",
    "K": "matrix",
    "dist": "distortions",
    "R_cam_from_world": "rotation",
    "t_cam_from_world": "translation",
    "model": "fisheye",
}
#: A translation longer than this (metres) is probably in millimetres: logged as a warning.
_SUSPICIOUS_TRANSLATION_M = 100.0


@dataclass(frozen=True)
class RigMetadata:
    """What a calibration file says about the whole rig.

    Attributes:
        adjusted: whether the extrinsics were refined by bundle adjustment.
        error_px: overall reprojection error, pixels (None when unknown).
        error_px_per_camera: reprojection error of each camera in rig order, pixels (None when
            unknown).
    """

    adjusted: bool = False
    error_px: float | None = None
    error_px_per_camera: tuple[float, ...] | None = None


# ----------------------------------------------------------------------------- reading


def read_toml(path: str | os.PathLike) -> dict[str, Any]:
    """Parse a TOML file; missing file or bad syntax -> CalibrationFileError."""
    p = Path(path)
    if not p.is_file():
        raise CalibrationFileError(p, "expected an existing calibration file, found nothing there")
    try:
        with p.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise CalibrationFileError(p, f"expected valid TOML, found a syntax error: {e}") from None
    except UnicodeDecodeError as e:
        raise CalibrationFileError(
            p, f"expected UTF-8 TOML text, found undecodable bytes: {e}"
        ) from None


def camera_tables(path: str | os.PathLike, doc: dict[str, Any]) -> list[str]:
    """Names of the camera tables in file order: every top-level table but ``[metadata]``."""
    for key, value in doc.items():
        if not isinstance(value, dict):
            raise CalibrationFileError(
                path,
                "expected only tables (one per camera, plus [metadata]), "
                f"found a top-level value {_show(value)}",
                key=key,
            )
    names = [k for k in doc if k != METADATA]
    if not names:
        raise CalibrationFileError(path, "expected at least one camera table, found none")
    return names


def detect_format(path: str | os.PathLike, doc: dict[str, Any]) -> str:
    """``"anipose"`` if the camera tables are ``cam_0 .. cam_{n-1}`` in order, else
    ``"pose2sim"``."""
    tables = camera_tables(path, doc)
    matches = [_ANIPOSE_TABLE.fullmatch(t) for t in tables]
    if all(matches) and [int(m.group(1)) for m in matches] == list(range(len(tables))):
        return ANIPOSE
    return POSE2SIM


def read_calibration(
    path: str | os.PathLike, fmt: str | None = None
) -> tuple[str, tuple[Camera, ...], RigMetadata]:
    """Read an anipose or Pose2Sim TOML calibration file.

    Args:
        path: the ``.toml`` file.
        fmt: ``"anipose"``, ``"pose2sim"`` or None to detect it from the table names.

    Returns:
        ``(fmt, cameras in file order, metadata)``.
    """
    doc = read_toml(path)
    found = detect_format(path, doc)
    if fmt is None:
        fmt = found
    elif fmt not in FORMATS:
        raise CalibrationFileError(path, f"expected a format in {list(FORMATS)}, found {fmt!r}")
    tables = camera_tables(path, doc)
    cameras = tuple(
        camera_from_table(path, t, doc[t], default_name=t if fmt == POSE2SIM else None)
        for t in tables
    )
    metadata = metadata_from_table(path, doc.get(METADATA, {}), len(cameras))
    log.debug("read %d cameras from %s (%s)", len(cameras), path, fmt)
    return fmt, cameras, metadata


def camera_from_table(
    path: str | os.PathLike, table: str, t: dict[str, Any], default_name: str | None = None
) -> Camera:
    """Build a :class:`Camera` from one camera table; ``default_name`` stands in for ``name``."""
    if not any(k in t for k in _REQUIRED):
        raise CalibrationFileError(
            path,
            f"expected a camera table with keys {list(CAMERA_KEYS)}, found keys {list(t)}",
            table,
        )
    for key in _REQUIRED + (() if default_name is not None else ("name",)):
        if key not in t:
            raise CalibrationFileError(
                path, f"expected key {key!r}, found keys {list(t)}", table, key
            )
    unknown = [k for k in t if k not in CAMERA_KEYS]
    if unknown:
        log.debug("%s [%s]: ignoring keys %s", path, table, unknown)
    name = t.get("name", default_name)
    if not isinstance(name, str) or not name:
        raise CalibrationFileError(
            path, f"expected a non-empty string, found {_show(name)}", table, "name"
        )
    fisheye = t.get("fisheye", False)
    if not isinstance(fisheye, bool):
        raise CalibrationFileError(
            path, f"expected true or false, found {_show(fisheye)}", table, "fisheye"
        )
    translation = _numbers(path, table, "translation", t["translation"], (3,))
    warn_if_millimetres(path, table, translation)
    size_wh = _size(path, table, t["size"])
    K = _numbers(path, table, "matrix", t["matrix"], (3, 3))
    dist = _numbers(path, table, "distortions", t["distortions"], None)
    model = FISHEYE if fisheye else PINHOLE
    rotation = _rotation(path, table, t["rotation"])
    try:
        if rotation.shape == (3,):  # keep the file's Rodrigues vector, digit for digit
            return Camera.from_rvec(name, size_wh, K, dist, rotation, translation, model)
        return Camera(name, size_wh, K, dist, rotation, translation, model)
    except CameraError as e:
        raise CalibrationFileError(
            path, e.problem, table, _FIELD_TO_KEY.get(e.field, e.field)
        ) from None


def metadata_from_table(path: str | os.PathLike, m: dict[str, Any], n_cameras: int) -> RigMetadata:
    """Parse ``[metadata]``: ``adjusted`` (bool), ``error`` (number or one per camera),
    ``error_per_camera`` (one per camera), ``units`` (must be ``"m"`` when present)."""
    units = m.get("units", "m")
    if units != "m":
        raise CalibrationFileError(
            path, f'expected "m" (metres), found {_show(units)}', METADATA, "units"
        )
    adjusted = m.get("adjusted", False)
    if not isinstance(adjusted, bool):
        raise CalibrationFileError(
            path, f"expected true or false, found {_show(adjusted)}", METADATA, "adjusted"
        )
    error_px, per_camera = None, None
    for key in ("error", "error_per_camera"):
        if key not in m:
            continue
        value = m[key]
        if key == "error" and _is_number(value):
            error_px = _finite_or_fail(path, key, float(value))
        else:
            arr = _numbers(
                path,
                METADATA,
                key,
                value,
                (n_cameras,),
                what=f"{n_cameras} numbers (one per camera)",
            )
            per_camera = tuple(float(v) for v in arr)
    return RigMetadata(adjusted=adjusted, error_px=error_px, error_px_per_camera=per_camera)


def _finite_or_fail(path, key: str, value: float) -> float:
    if not math.isfinite(value):
        raise CalibrationFileError(path, f"expected a finite number, found {value}", METADATA, key)
    return value


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_numeric_tree(v: Any) -> bool:
    """True for a number or a (nested) list of numbers; booleans and strings are not numbers."""
    if isinstance(v, list):
        return all(_is_numeric_tree(e) for e in v)
    return _is_number(v)


def _show(value: Any, limit: int = 80) -> str:
    """Short repr of a found value for an error message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _numbers(
    path, table: str, key: str, value: Any, shape: tuple[int, ...] | None, what: str | None = None
) -> np.ndarray:
    """``value`` as a finite float64 array of ``shape`` (None: any 1-D), else the error."""
    if what is None:
        what = "a list of numbers" if shape is None else f"numbers of shape {shape}"
    arr = None
    if _is_numeric_tree(value):
        try:
            arr = np.array(value, dtype=np.float64)
        except ValueError:  # ragged nested lists
            arr = None
    bad_shape = arr is None or (arr.ndim != 1 if shape is None else arr.shape != shape)
    if bad_shape:
        found = "" if arr is None else f" (shape {arr.shape})"
        raise CalibrationFileError(
            path, f"expected {what}, found {_show(value)}{found}", table, key
        )
    if not np.all(np.isfinite(arr)):
        raise CalibrationFileError(
            path, f"expected finite numbers, found {_show(value)}", table, key
        )
    return arr


def _size(path, table: str, value: Any) -> tuple[int, int]:
    """``[w, h]`` as two positive whole numbers (Pose2Sim writes them as floats)."""
    ok = (
        isinstance(value, list)
        and len(value) == 2
        and all(
            _is_number(v) and math.isfinite(v) and v > 0 and float(v).is_integer() for v in value
        )
    )
    if not ok:
        raise CalibrationFileError(
            path,
            f"expected 2 positive whole numbers [width, height], found {_show(value)}",
            table,
            "size",
        )
    return (int(value[0]), int(value[1]))


def _rotation(path, table: str, value: Any) -> np.ndarray:
    """A Rodrigues vector (3,), or a checked rotation matrix (3, 3)."""
    if (
        _is_numeric_tree(value)
        and isinstance(value, list)
        and len(value) == 3
        and isinstance(value[0], list)
    ):
        R = _numbers(path, table, "rotation", value, (3, 3))
        off, det = rotation_defect(R)
        if off > ROTATION_TOL or det <= 0:
            raise CalibrationFileError(
                path,
                f"expected a rotation matrix (orthonormal within {ROTATION_TOL}, det +1), "
                f"found max |R R^T - I| = {off:.3g}, det = {det:.6g}",
                table,
                "rotation",
            )
        return R
    return _numbers(
        path,
        table,
        "rotation",
        value,
        (3,),
        what="a Rodrigues vector of 3 numbers (or a 3x3 matrix)",
    )


def warn_if_millimetres(path, table: str, translation: np.ndarray) -> None:
    """Log a warning when a translation (metres) is so long it was probably millimetres."""
    norm = float(np.linalg.norm(translation))
    if norm > _SUSPICIOUS_TRANSLATION_M:
        log.warning(
            "%s [%s] translation: expected metres, found a %.1f m offset (millimetres?)",
            path,
            table,
            norm,
        )


# ----------------------------------------------------------------------------- writing


def _camera_entries(cam: Camera, float_size: bool) -> dict[str, Any]:
    """One camera table as plain Python values (tomli_w does not take numpy types)."""
    w, h = cam.size_wh
    return {
        "name": cam.name,
        "size": [float(w), float(h)] if float_size else [int(w), int(h)],
        "matrix": [[float(v) for v in row] for row in cam.K],
        "distortions": [float(v) for v in cam.dist],
        "rotation": [float(v) for v in cam.rvec],
        "translation": [float(v) for v in cam.t_cam_from_world],
        "fisheye": cam.model == FISHEYE,
    }


def _metadata_entries(metadata: RigMetadata, n_cameras: int, units: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"adjusted": bool(metadata.adjusted)}
    per_camera = metadata.error_px_per_camera
    if per_camera is not None and len(per_camera) != n_cameras:
        raise CalibrationError(
            f"metadata error_px_per_camera: expected {n_cameras} numbers (one per camera), "
            f"found {len(per_camera)}"
        )
    if metadata.error_px is not None:
        out["error"] = float(metadata.error_px)
        if per_camera is not None:
            out["error_per_camera"] = [float(v) for v in per_camera]
    elif per_camera is not None:
        out["error"] = [float(v) for v in per_camera]
    if units:
        out["units"] = "m"
    return out


def anipose_document(
    cameras: Sequence[Camera], metadata: RigMetadata = RigMetadata()
) -> dict[str, Any]:
    """The anipose TOML document (a dict) of ``cameras`` in order: ``cam_0``, ``cam_1``, ...

    Indices are zero-padded to equal width from 11 cameras on, so that aniposelib's sorted
    load order is the rig's order.
    """
    width = len(str(max(len(cameras) - 1, 0)))
    doc: dict[str, Any] = {
        f"cam_{i:0{width}d}": _camera_entries(c, False) for i, c in enumerate(cameras)
    }
    doc[METADATA] = _metadata_entries(metadata, len(cameras), units=True)
    return doc


def pose2sim_document(
    cameras: Sequence[Camera], metadata: RigMetadata = RigMetadata()
) -> dict[str, Any]:
    """The Pose2Sim TOML document (a dict): one table per camera, named after it, in order."""
    doc: dict[str, Any] = {}
    for cam in cameras:
        if cam.name == METADATA:
            raise CameraError(
                cam.name,
                "name",
                f"expected a name other than {METADATA!r} (reserved in Pose2Sim files)",
            )
        doc[cam.name] = _camera_entries(cam, True)
    doc[METADATA] = _metadata_entries(metadata, len(cameras), units=False)
    return doc


def write_calibration(
    path: str | os.PathLike,
    cameras: Sequence[Camera],
    metadata: RigMetadata = RigMetadata(),
    fmt: str = ANIPOSE,
) -> None:
    """Write ``cameras`` (rig order) to ``path`` as anipose (default) or Pose2Sim TOML,
    atomically."""
    if fmt == ANIPOSE:
        doc = anipose_document(cameras, metadata)
    elif fmt == POSE2SIM:
        doc = pose2sim_document(cameras, metadata)
    else:
        raise CalibrationFileError(path, f"expected a format in {list(FORMATS)}, found {fmt!r}")
    atomic_write_text(path, tomli_w.dumps(doc))
    log.debug("wrote %d cameras to %s (%s)", len(cameras), path, fmt)
