"""One camera: batched pure projection functions and the immutable :class:`Camera`.

Conventions are those of the package (see :mod:`calibration`): world frame right-handed, Z up,
metres; camera frame OpenCV (x right, y down, z forward);
``X_cam = R_cam_from_world @ X_world + t_cam_from_world``; pixel (0, 0) is the centre of the
top-left pixel.

Coordinates named here:

- ``xy_n``: normalised undistorted image coordinates, ``(x / z, y / z)`` in the camera frame,
  unitless.
- ``xy_d``: normalised distorted coordinates, ``xy_n`` after the lens model, unitless.
- ``xy_px``: pixels, ``K @ [xy_d, 1]``.

The lens model (``"pinhole"``, ``"fisheye"``, their coefficients) is :mod:`calibration.lens`;
rotations are :mod:`calibration.rotations`.
"""

from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from calibration.errors import CameraError
from calibration.lens import CAMERA_MODELS, DIST_SIZES, PINHOLE, distort_normalized, undistort_normalized
from calibration.rotations import ROTATION_TOL, rotation_defect, rotmat_to_rotvec, rotvec_to_rotmat
from calibration.shapes import exact_shape, last_axis


# ----------------------------------------------------------------------------- pixels, projection


def normalized_to_pixels(xy_d: Any, K: Any) -> np.ndarray:
    """Pixels ``K @ [x, y, 1]`` of normalised (distorted) coordinates.

    Args:
        xy_d: (..., 2) normalised coordinates, unitless.
        K: (3, 3) intrinsic matrix, pixels.

    Returns:
        (..., 2) pixels, (0, 0) the centre of the top-left pixel.
    """
    xy = last_axis("xy_d", xy_d, 2)
    k = exact_shape("K", K, (3, 3))
    u = k[0, 0] * xy[..., 0] + k[0, 1] * xy[..., 1] + k[0, 2]
    v = k[1, 1] * xy[..., 1] + k[1, 2]
    return np.stack([u, v], axis=-1)


def pixels_to_normalized(xy_px: Any, K: Any) -> np.ndarray:
    """Inverse of :func:`normalized_to_pixels`: ``K^-1 @ [u, v, 1]``, first two entries.

    Args:
        xy_px: (..., 2) pixels.
        K: (3, 3) intrinsic matrix, pixels.

    Returns:
        (..., 2) normalised (still distorted) coordinates, unitless.
    """
    xy = last_axis("xy_px", xy_px, 2)
    k = exact_shape("K", K, (3, 3))
    y = (xy[..., 1] - k[1, 2]) / k[1, 1]
    x = (xy[..., 0] - k[0, 2] - k[0, 1] * y) / k[0, 0]
    return np.stack([x, y], axis=-1)


def world_to_cam(X_world: Any, R_cam_from_world: Any, t_cam_from_world: Any) -> np.ndarray:
    """``X_cam = R_cam_from_world @ X_world + t_cam_from_world`` on (..., 3) points, metres."""
    X = last_axis("X_world", X_world, 3)
    R = exact_shape("R_cam_from_world", R_cam_from_world, (3, 3))
    t = exact_shape("t_cam_from_world", t_cam_from_world, (3,))
    return X @ R.T + t


def project_points(
    X_world: Any,
    K: Any,
    dist: Any,
    R_cam_from_world: Any,
    t_cam_from_world: Any,
    model: str = PINHOLE,
) -> tuple[np.ndarray, np.ndarray]:
    """Project world points to pixels through the full camera model.

    Args:
        X_world: (..., 3) points, world frame, metres. NaN passes through.
        K: (3, 3) intrinsic matrix, pixels.
        dist: (k,) distortion coefficients, OpenCV order for ``model``.
        R_cam_from_world: (3, 3) rotation, world -> camera.
        t_cam_from_world: (3,) translation, world -> camera, metres.
        model: ``"pinhole"`` or ``"fisheye"``.

    Returns:
        ``(xy_px, depth)``: (..., 2) pixels, NaN where ``depth <= 0`` (behind the camera);
        (...) depth ``z`` in the camera frame, metres.

    As in ``cv2.projectPoints``, a pinhole lens model is evaluated even far outside the field
    of view, where strong barrel distortion folds back; compare with ``size_wh`` (or check
    that :func:`undistort_normalized` recovers the point) where that matters.
    """
    X_cam = world_to_cam(X_world, R_cam_from_world, t_cam_from_world)
    depth = X_cam[..., 2]
    with np.errstate(all="ignore"):
        in_front = (depth > 0)[..., None]
        xy_n = np.where(
            in_front, X_cam[..., :2] / np.where(in_front, depth[..., None], 1.0), np.nan
        )
    xy_d = distort_normalized(xy_n, dist, model)
    return normalized_to_pixels(xy_d, K), depth


# ----------------------------------------------------------------------------- Camera


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=np.float64, copy=True)
    a.setflags(write=False)
    return a


def _as_array(name: str, field: str, value: Any, shape: tuple[int, ...] | None) -> np.ndarray:
    """``value`` as a finite float64 array of ``shape`` (None: any 1-D), or CameraError."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise CameraError(name, field, f"expected numbers, found {value!r}") from None
    if shape is None and arr.ndim != 1:
        raise CameraError(name, field, f"expected a 1-D array, found shape {arr.shape}")
    if shape is not None and arr.shape != shape:
        raise CameraError(name, field, f"expected shape {shape}, found {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise CameraError(name, field, f"expected finite values, found {arr.tolist()}")
    return arr


def _as_size(name: str, value: Any) -> tuple[int, int]:
    """``(width, height)`` as two positive integers (integral floats accepted)."""
    try:
        w, h = value
        ok = all(
            isinstance(v, numbers.Real)
            and not isinstance(v, (bool, np.bool_))
            and float(v) == int(v)
            and int(v) > 0
            for v in (w, h)
        )
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        raise CameraError(name, "size_wh", f"expected 2 positive integers (w, h), found {value!r}")
    return (int(w), int(h))


def _check_K(name: str, K: np.ndarray) -> None:
    """Upper-triangular OpenCV intrinsics: positive focals, zero skew, last row (0, 0, 1)."""
    if K[0, 0] <= 0 or K[1, 1] <= 0:
        raise CameraError(
            name, "K", f"expected positive focal lengths, found fx={K[0, 0]}, fy={K[1, 1]}"
        )
    if K[0, 1] != 0:
        raise CameraError(
            name, "K", f"expected zero skew K[0,1] (OpenCV ignores it), found {K[0, 1]}"
        )
    if K[1, 0] != 0 or not np.array_equal(K[2], [0.0, 0.0, 1.0]):
        raise CameraError(
            name,
            "K",
            f"expected K[1,0] = 0 and last row (0, 0, 1), found {K[1, 0]} and {K[2].tolist()}",
        )


def _check_rotation(name: str, R: np.ndarray) -> None:
    """Orthonormal with determinant +1, within :data:`ROTATION_TOL`."""
    off, det = rotation_defect(R)
    if off > ROTATION_TOL or det <= 0:
        raise CameraError(
            name,
            "R_cam_from_world",
            f"expected a rotation (R R^T = I within {ROTATION_TOL}, det +1), "
            f"found max |R R^T - I| = {off:.3g}, det = {det:.6g}",
        )


@dataclass(frozen=True, eq=False)
class Camera:
    """An immutable calibrated camera. Arrays are read-only float64 copies.

    Attributes:
        name: unique name within a rig.
        size_wh: image (width, height), pixels.
        K: (3, 3) intrinsics, pixels; zero skew, last row (0, 0, 1).
        dist: (k,) distortion, OpenCV order; 0/4/5/8 for ``"pinhole"``, 4 for ``"fisheye"``.
        R_cam_from_world: (3, 3) rotation world -> camera (OpenCV camera axes).
        t_cam_from_world: (3,) translation world -> camera, metres.
        model: ``"pinhole"`` or ``"fisheye"``.
    """

    name: str
    size_wh: tuple[int, int]
    K: np.ndarray
    dist: np.ndarray
    R_cam_from_world: np.ndarray
    t_cam_from_world: np.ndarray
    model: str = PINHOLE
    # The Rodrigues vector this camera was built from (from_rvec), kept so that a file read
    # and written again keeps its rotation digits; None when built from a matrix.
    _rvec: np.ndarray | None = dataclasses.field(
        default=None, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        name = self.name
        if not isinstance(name, str) or not name:
            raise CameraError(repr(name), "name", f"expected a non-empty string, found {name!r}")
        if self.model not in CAMERA_MODELS:
            raise CameraError(
                name, "model", f"expected one of {list(CAMERA_MODELS)}, found {self.model!r}"
            )
        K = _as_array(name, "K", self.K, (3, 3))
        _check_K(name, K)
        dist = _as_array(name, "dist", self.dist, None)
        if dist.size not in DIST_SIZES[self.model]:
            raise CameraError(
                name,
                "dist",
                f"expected {' or '.join(map(str, DIST_SIZES[self.model]))} coefficients "
                f"for model {self.model!r}, found {dist.size}",
            )
        R = _as_array(name, "R_cam_from_world", self.R_cam_from_world, (3, 3))
        _check_rotation(name, R)
        t = _as_array(name, "t_cam_from_world", self.t_cam_from_world, (3,))
        object.__setattr__(self, "size_wh", _as_size(name, self.size_wh))
        for field, value in (
            ("K", K),
            ("dist", dist),
            ("R_cam_from_world", R),
            ("t_cam_from_world", t),
        ):
            object.__setattr__(self, field, _frozen(value))

    # -- construction

    @classmethod
    def from_rvec(
        cls,
        name: str,
        size_wh: tuple[int, int],
        K: Any,
        dist: Any,
        rvec: Any,
        tvec: Any,
        model: str = PINHOLE,
    ) -> "Camera":
        """Camera from a Rodrigues vector ``rvec`` (3,) (world -> camera, radians) and
        ``tvec`` (3,) (world -> camera, metres), as OpenCV's ``solvePnP`` returns them."""
        r = _as_array(name, "rvec", rvec, (3,))
        cam = cls(name, size_wh, K, dist, rotvec_to_rotmat(r), tvec, model)
        object.__setattr__(cam, "_rvec", _frozen(r))
        return cam

    @classmethod
    def look_at(
        cls,
        name: str,
        size_wh: tuple[int, int],
        K: Any,
        dist: Any,
        eye: Any,
        target: Any,
        up: Any = (0.0, 0.0, 1.0),
        model: str = PINHOLE,
    ) -> "Camera":
        """Camera centred at ``eye`` (3,) whose optical axis passes through ``target`` (3,).

        World frame, metres. The image's y axis (down) points along ``-up`` projected on the
        image plane, so ``up`` (3,) appears upward in the image.
        """
        eye_w = _as_array(name, "eye", eye, (3,))
        forward = _as_array(name, "target", target, (3,)) - eye_w
        up_w = _as_array(name, "up", up, (3,))
        norm_f = np.linalg.norm(forward)
        if norm_f == 0:
            raise CameraError(
                name, "target", f"expected a point other than eye, found {eye_w.tolist()}"
            )
        z = forward / norm_f
        right = np.cross(z, up_w)
        norm_r = np.linalg.norm(right)
        if norm_r < 1e-9 * max(np.linalg.norm(up_w), 1e-300):
            raise CameraError(
                name,
                "up",
                f"expected a direction not parallel to the view {z.tolist()}, "
                f"found {up_w.tolist()}",
            )
        x = right / norm_r
        y = np.cross(z, x)
        R = np.stack([x, y, z])  # rows: camera axes written in the world frame
        return cls(name, size_wh, K, dist, R, -R @ eye_w, model)

    def replace(self, **changes: Any) -> "Camera":
        """A new camera with some fields changed (validated again)."""
        cam = dataclasses.replace(self, **changes)
        if "R_cam_from_world" not in changes:
            object.__setattr__(cam, "_rvec", self._rvec)
        return cam

    def __reduce__(self):
        # Rebuild through __init__ so that unpickled arrays are read-only and validated again.
        fields = (
            self.name,
            self.size_wh,
            self.K,
            self.dist,
            self.R_cam_from_world,
            self.t_cam_from_world,
            self.model,
        )
        return (_rebuild_camera, (fields, self._rvec))

    # -- derived quantities

    @property
    def P(self) -> np.ndarray:
        """(3, 4) projection matrix ``K [R | t]`` (ignores distortion), read-only."""
        return _frozen(self.K @ np.hstack([self.R_cam_from_world, self.t_cam_from_world[:, None]]))

    @property
    def center(self) -> np.ndarray:
        """(3,) camera centre in the world frame, metres: ``-R^T t``."""
        return _frozen(-self.R_cam_from_world.T @ self.t_cam_from_world)

    @property
    def rvec(self) -> np.ndarray:
        """(3,) Rodrigues vector of ``R_cam_from_world`` (radians); the one given to
        :meth:`from_rvec` when the camera was built that way."""
        if self._rvec is not None:
            return self._rvec
        return _frozen(rotmat_to_rotvec(self.R_cam_from_world))

    # -- geometry

    def world_to_cam(self, X_world: Any) -> np.ndarray:
        """(..., 3) world points (metres) -> (..., 3) camera-frame points (metres)."""
        return world_to_cam(X_world, self.R_cam_from_world, self.t_cam_from_world)

    def project(self, X_world: Any, return_depth: bool = False):
        """(..., 3) world points, metres -> (..., 2) pixels (NaN behind the camera).

        With ``return_depth``, also the (...) camera-frame depth in metres.
        """
        xy, depth = project_points(
            X_world, self.K, self.dist, self.R_cam_from_world, self.t_cam_from_world, self.model
        )
        return (xy, depth) if return_depth else xy

    def undistort_points(self, xy_px: Any) -> np.ndarray:
        """(..., 2) observed pixels -> (..., 2) normalised undistorted ``(x/z, y/z)``.

        NaN where the lens model cannot be inverted (see :func:`undistort_normalized`).
        """
        return undistort_normalized(pixels_to_normalized(xy_px, self.K), self.dist, self.model)

    def undistort_pixels(self, xy_px: Any) -> np.ndarray:
        """(..., 2) observed pixels -> (..., 2) pixels of the ideal distortion-free camera K."""
        return normalized_to_pixels(self.undistort_points(xy_px), self.K)

    # -- comparison and display

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Camera):
            return NotImplemented
        return (
            self.name == other.name
            and self.size_wh == other.size_wh
            and self.model == other.model
            and all(
                np.array_equal(getattr(self, f), getattr(other, f))
                for f in ("K", "dist", "R_cam_from_world", "t_cam_from_world")
            )
        )

    __hash__ = None  # type: ignore[assignment]  # arrays: equal cameras need not hash alike

    def __repr__(self) -> str:
        K = self.K
        return (
            f"Camera(name={self.name!r}, size_wh={self.size_wh}, model={self.model!r}, "
            f"f=({K[0, 0]:.6g}, {K[1, 1]:.6g}), c=({K[0, 2]:.6g}, {K[1, 2]:.6g}), "
            f"dist={np.round(self.dist, 6).tolist()}, center={np.round(self.center, 4).tolist()})"
        )


def _rebuild_camera(fields: tuple, rvec: np.ndarray | None) -> Camera:
    """Unpickle a :class:`Camera` (see ``Camera.__reduce__``)."""
    cam = Camera(*fields)
    if rvec is not None:
        object.__setattr__(cam, "_rvec", _frozen(rvec))
    return cam
