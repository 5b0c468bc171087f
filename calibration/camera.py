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

Distortion models, named as OpenCV names them:

- ``"pinhole"``: OpenCV's standard/rational model, coefficients
  ``(k1, k2, p1, p2[, k3[, k4, k5, k6]])`` (0, 4, 5 or 8 of them).
- ``"fisheye"``: OpenCV's ``cv2.fisheye`` (equidistant) model, coefficients ``(k1, k2, k3, k4)``.
"""

from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from calibration.errors import CalibrationError, CameraError, ShapeError

PINHOLE = "pinhole"
FISHEYE = "fisheye"
CAMERA_MODELS = (PINHOLE, FISHEYE)
#: Number of distortion coefficients each model accepts.
DIST_SIZES = {PINHOLE: (0, 4, 5, 8), FISHEYE: (4,)}

#: Convergence threshold of the undistortion solvers, in normalised units (about 1e-9 px
#: for a 1000 px focal length).
UNDISTORT_TOL = 1e-12
UNDISTORT_MAX_ITER = 50
_POLISH_TOL = 1e-15  # iterate down to rounding error, accept at UNDISTORT_TOL
_MAX_HALVINGS = 30
#: Largest tolerated ``max |R R^T - I|`` for a rotation matrix.
ROTATION_TOL = 1e-6


# ----------------------------------------------------------------------------- shape guards


def _last_axis(name: str, a: Any, n: int) -> np.ndarray:
    """``a`` as float64 with shape ``(..., n)``, or :class:`ShapeError`."""
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim < 1 or arr.shape[-1] != n:
        raise ShapeError(f"{name}: expected shape (..., {n}), found {arr.shape}")
    return arr


def _exact_shape(name: str, a: Any, shape: tuple[int, ...]) -> np.ndarray:
    """``a`` as float64 with exactly ``shape``, or :class:`ShapeError`."""
    arr = np.asarray(a, dtype=np.float64)
    if arr.shape != shape:
        raise ShapeError(f"{name}: expected shape {shape}, found {arr.shape}")
    return arr


def _model_dist(dist: Any, model: str) -> np.ndarray:
    """Distortion coefficients ``(k,)`` float64, checked against ``model``."""
    if model not in CAMERA_MODELS:
        raise CalibrationError(f"model: expected one of {list(CAMERA_MODELS)}, found {model!r}")
    d = np.asarray(dist, dtype=np.float64)
    if d.ndim != 1 or d.size not in DIST_SIZES[model]:
        raise ShapeError(
            f"dist: expected {' or '.join(map(str, DIST_SIZES[model]))} coefficients "
            f"for model {model!r}, found shape {d.shape}"
        )
    return d


def _pinhole_coeffs(dist: np.ndarray) -> tuple[float, ...]:
    """``(k1, k2, p1, p2, k3, k4, k5, k6)``, missing trailing coefficients set to 0."""
    full = np.zeros(8)
    full[: dist.size] = dist
    return tuple(float(v) for v in full)


# ----------------------------------------------------------------------------- lens models


def _pinhole_eval(x: np.ndarray, y: np.ndarray, c: tuple[float, ...], jacobian: bool):
    """OpenCV pinhole distortion of ``(x, y)`` (same shapes); optionally its 2x2 Jacobian.

    Returns ``(xd, yd, radial, jac)`` where ``jac = (dxd/dx, dxd/dy, dyd/dx, dyd/dy)`` or None.
    """
    k1, k2, p1, p2, k3, k4, k5, k6 = c
    r2 = x * x + y * y
    num = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))
    den = 1.0 + r2 * (k4 + r2 * (k5 + r2 * k6))
    radial = num / den
    xd = x * radial + 2.0 * p1 * x * y + p2 * (r2 + 2.0 * x * x)
    yd = y * radial + p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * x * y
    if not jacobian:
        return xd, yd, radial, None
    dnum = k1 + r2 * (2.0 * k2 + 3.0 * k3 * r2)
    dden = k4 + r2 * (2.0 * k5 + 3.0 * k6 * r2)
    dradial = (dnum * den - num * dden) / (den * den)  # d radial / d r2
    cross = 2.0 * x * y * dradial + 2.0 * p1 * x + 2.0 * p2 * y
    jac = (
        radial + 2.0 * x * x * dradial + 2.0 * p1 * y + 6.0 * p2 * x,
        cross,
        cross,
        radial + 2.0 * y * y * dradial + 6.0 * p1 * y + 2.0 * p2 * x,
    )
    return xd, yd, radial, jac


def _fisheye_theta_d(theta: np.ndarray, k: np.ndarray):
    """``theta_d = theta (1 + k1 t^2 + k2 t^4 + k3 t^6 + k4 t^8)`` and its derivative."""
    k1, k2, k3, k4 = (float(v) for v in k)
    t2 = theta * theta
    theta_d = theta * (1.0 + t2 * (k1 + t2 * (k2 + t2 * (k3 + t2 * k4))))
    slope = 1.0 + t2 * (3.0 * k1 + t2 * (5.0 * k2 + t2 * (7.0 * k3 + t2 * 9.0 * k4)))
    return theta_d, slope


def distort_normalized(xy_n: Any, dist: Any, model: str = PINHOLE) -> np.ndarray:
    """Apply the lens model to normalised undistorted coordinates.

    Args:
        xy_n: (..., 2) float, ``(x/z, y/z)`` in the camera frame, unitless. NaN passes through.
        dist: (k,) distortion coefficients in OpenCV's order for ``model``.
        model: ``"pinhole"`` or ``"fisheye"``.

    Returns:
        (..., 2) float64 normalised distorted coordinates ``xy_d`` (unitless).
    """
    xy = _last_axis("xy_n", xy_n, 2)
    d = _model_dist(dist, model)
    x, y = xy[..., 0], xy[..., 1]
    with np.errstate(all="ignore"):
        if model == PINHOLE:
            xd, yd, _, _ = _pinhole_eval(x, y, _pinhole_coeffs(d), jacobian=False)
            return np.stack([xd, yd], axis=-1)
        r = np.hypot(x, y)
        theta_d, _ = _fisheye_theta_d(np.arctan(r), d)
        # theta_d / r -> 1 as r -> 0: use the limit below 1e-12 (as OpenCV does below 1e-8).
        scale = np.where(r > 1e-12, theta_d / np.where(r > 1e-12, r, 1.0), 1.0)
    return xy * scale[..., None]


def _undistort_pinhole(xd: np.ndarray, yd: np.ndarray, c: tuple[float, ...]) -> np.ndarray:
    """Invert the pinhole model for flat arrays by damped Newton; NaN where it fails.

    Newton starts at the distorted point and halves a step until the residual shrinks; it
    iterates down to rounding error (:data:`_POLISH_TOL`) and stops a point when no step
    shrinks its residual any more. A solution is accepted only if the residual is below
    :data:`UNDISTORT_TOL` (relative to the point's radius when above 1), the Jacobian there has
    a positive determinant and the radial factor is positive: past the fold of a strongly
    barrel-distorted lens the model is not invertible, and a root found there is the mirror
    branch, not the point the lens imaged.
    """
    x, y = xd.copy(), yd.copy()
    scale = np.maximum(1.0, np.hypot(xd, yd))
    fx, fy, _, jac = _pinhole_eval(x, y, c, jacobian=True)
    err = np.hypot(fx - xd, fy - yd)
    stalled = np.zeros(xd.shape, dtype=bool)
    for _ in range(UNDISTORT_MAX_ITER):
        idx = np.flatnonzero((err > _POLISH_TOL * scale) & ~stalled)  # NaN compares False.
        if idx.size == 0:
            break
        j00, j01, j10, j11 = (j[idx] for j in jac)
        rx, ry = fx[idx] - xd[idx], fy[idx] - yd[idx]
        det = j00 * j11 - j01 * j10
        dx = -(j11 * rx - j01 * ry) / det
        dy = -(-j10 * rx + j00 * ry) / det
        moved = _line_search(idx, x, y, dx, dy, xd, yd, err, c)
        stalled[np.setdiff1d(idx, moved, assume_unique=True)] = True
        fx[moved], fy[moved], _, jm = _pinhole_eval(x[moved], y[moved], c, jacobian=True)
        for j, jn in zip(jac, jm):
            j[moved] = jn
    _, _, radial, jac = _pinhole_eval(x, y, c, jacobian=True)
    det = jac[0] * jac[3] - jac[1] * jac[2]
    ok = (err <= UNDISTORT_TOL * scale) & (det > 0) & (radial > 0)
    return np.stack([np.where(ok, x, np.nan), np.where(ok, y, np.nan)], axis=-1)


def _line_search(idx, x, y, dx, dy, xd, yd, err, c) -> np.ndarray:
    """Halve Newton steps ``(dx, dy)`` at points ``idx`` until the residual decreases.

    Updates ``x``, ``y`` and ``err`` in place where a step was accepted and returns those
    indices.
    """
    step = np.ones(idx.size)
    pending = np.ones(idx.size, dtype=bool)
    for _ in range(_MAX_HALVINGS):
        p = np.flatnonzero(pending)
        if p.size == 0:
            break
        g = idx[p]
        xn, yn = x[g] + step[p] * dx[p], y[g] + step[p] * dy[p]
        fxn, fyn, _, _ = _pinhole_eval(xn, yn, c, jacobian=False)
        errn = np.hypot(fxn - xd[g], fyn - yd[g])
        better = errn < err[g]
        x[g[better]], y[g[better]], err[g[better]] = xn[better], yn[better], errn[better]
        pending[p[better]] = False
        step[p[~better]] *= 0.5
    return idx[~pending]


def _undistort_fisheye(xd: np.ndarray, yd: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Invert the fisheye model for flat arrays by Newton on theta; NaN where it fails.

    Solves ``theta_d(theta) = |xy_d|`` for ``theta`` in ``[0, pi/2)``; a solution counts only
    if it converged and ``theta_d`` is increasing there (the model is invertible).
    """
    rd = np.hypot(xd, yd)
    top = np.pi / 2 - 1e-9
    theta = np.clip(rd, 0.0, top)
    tol = UNDISTORT_TOL * np.maximum(1.0, rd)
    for _ in range(UNDISTORT_MAX_ITER):
        theta_d, slope = _fisheye_theta_d(theta, k)
        res = theta_d - rd
        active = np.abs(res) > _POLISH_TOL * np.maximum(1.0, rd)
        if not active.any():
            break
        theta = np.where(active, np.clip(theta - res / slope, 0.0, top), theta)
    theta_d, slope = _fisheye_theta_d(theta, k)
    ok = (np.abs(theta_d - rd) <= tol) & (slope > 0) & (theta < top)
    scale = np.where(rd > 1e-300, np.tan(theta) / np.where(rd > 1e-300, rd, 1.0), 1.0)
    scale = np.where(ok, scale, np.nan)
    return np.stack([xd * scale, yd * scale], axis=-1)


def undistort_normalized(xy_d: Any, dist: Any, model: str = PINHOLE) -> np.ndarray:
    """Invert :func:`distort_normalized`: normalised distorted -> normalised undistorted.

    Iterative and vectorised (damped Newton), converged to a residual below
    :data:`UNDISTORT_TOL`. Where the lens model has no valid inverse (points beyond the fold
    of strong barrel distortion, or beyond 90 degrees for fisheye) or the solver does not
    converge, the result is NaN, never a silently wrong point.

    Args:
        xy_d: (..., 2) float, normalised distorted coordinates, unitless. NaN passes through.
        dist: (k,) distortion coefficients in OpenCV's order for ``model``.
        model: ``"pinhole"`` or ``"fisheye"``.

    Returns:
        (..., 2) float64 normalised undistorted coordinates ``(x/z, y/z)``, camera frame.
    """
    xy = _last_axis("xy_d", xy_d, 2)
    d = _model_dist(dist, model)
    flat = xy.reshape(-1, 2)
    xd, yd = flat[:, 0].copy(), flat[:, 1].copy()
    with np.errstate(all="ignore"):
        if model == PINHOLE and not np.any(d):
            out = flat.copy()
        elif model == PINHOLE:
            out = _undistort_pinhole(xd, yd, _pinhole_coeffs(d))
        else:
            out = _undistort_fisheye(xd, yd, d)
    return out.reshape(xy.shape)


# ----------------------------------------------------------------------------- pixels, projection


def normalized_to_pixels(xy_d: Any, K: Any) -> np.ndarray:
    """Pixels ``K @ [x, y, 1]`` of normalised (distorted) coordinates.

    Args:
        xy_d: (..., 2) normalised coordinates, unitless.
        K: (3, 3) intrinsic matrix, pixels.

    Returns:
        (..., 2) pixels, (0, 0) the centre of the top-left pixel.
    """
    xy = _last_axis("xy_d", xy_d, 2)
    k = _exact_shape("K", K, (3, 3))
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
    xy = _last_axis("xy_px", xy_px, 2)
    k = _exact_shape("K", K, (3, 3))
    y = (xy[..., 1] - k[1, 2]) / k[1, 1]
    x = (xy[..., 0] - k[0, 2] - k[0, 1] * y) / k[0, 0]
    return np.stack([x, y], axis=-1)


def world_to_cam(X_world: Any, R_cam_from_world: Any, t_cam_from_world: Any) -> np.ndarray:
    """``X_cam = R_cam_from_world @ X_world + t_cam_from_world`` on (..., 3) points, metres."""
    X = _last_axis("X_world", X_world, 3)
    R = _exact_shape("R_cam_from_world", R_cam_from_world, (3, 3))
    t = _exact_shape("t_cam_from_world", t_cam_from_world, (3,))
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


def rotvec_to_rotmat(rvec: Any) -> np.ndarray:
    """Rodrigues vectors (..., 3) (axis * angle, radians) -> rotation matrices (..., 3, 3)."""
    r = _last_axis("rvec", rvec, 3)
    return Rotation.from_rotvec(r.reshape(-1, 3)).as_matrix().reshape(r.shape[:-1] + (3, 3))


def rotmat_to_rotvec(R: Any) -> np.ndarray:
    """Rotation matrices (..., 3, 3) -> Rodrigues vectors (..., 3), angle in [0, pi] radians."""
    m = np.asarray(R, dtype=np.float64)
    if m.ndim < 2 or m.shape[-2:] != (3, 3):
        raise ShapeError(f"R: expected shape (..., 3, 3), found {m.shape}")
    return Rotation.from_matrix(m.reshape(-1, 3, 3)).as_rotvec().reshape(m.shape[:-2] + (3,))


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
    off = float(np.max(np.abs(R @ R.T - np.eye(3))))
    det = float(np.linalg.det(R))
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
