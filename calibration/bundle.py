"""Sparse bundle adjustment (``scipy.optimize.least_squares``, sparse Jacobian, robust loss).

Refines, per camera, fx, fy, cx, cy, the distortion coefficients, and the extrinsics (R, t),
together with the *structure*: either the board pose of every frame (board calibration) or
free 3D points (calibration from people's keypoints). :class:`BundleOptions` says what may be
refined.

Parameter layout of a camera (:data:`CAMERA_LAYOUT`), 15 numbers:
``fx, fy, cx, cy`` (pixels), ``d0 .. d4`` (pinhole: k1 k2 p1 p2 k3; fisheye: k1 k2 k3 k4 and
an unused slot), ``rx, ry, rz`` (Rodrigues vector of ``R_cam_from_world``, radians),
``tx, ty, tz`` (``t_cam_from_world``, metres), packed from a rig's
:class:`~calibration.rig.RigArrays` (:func:`pack_cameras`). A board pose is
``rx, ry, rz, tx, ty, tz`` of ``T_world_from_board``; a point is ``x, y, z`` in the world,
metres.

Gauge: the world frame of a bundle adjustment is not observable from images alone. With board
poses (whose corners fix the scale), the first camera's extrinsics stay fixed. With free points
the whole similarity (7 degrees of freedom) is free: the first camera's extrinsics and the
largest component of the second camera's translation stay fixed, and the caller restores the
metric scale (see :mod:`calibration.people`).

The reprojection error of a camera is the RMS over its inlier observations of the distance in
pixels between the observed and the projected point.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import scipy.sparse
from scipy.optimize import least_squares
from threadpoolctl import threadpool_limits

from calibration.camera import Camera
from calibration.errors import CalibrationError
from calibration.covariance import camera_parameter_sd
from calibration.lens import FISHEYE, PINHOLE, distort
from calibration.rig import RigArrays
from calibration.rotations import rotmat_to_rotvec, rotvec_to_rotmat

log = logging.getLogger(__name__)

CAMERA_LAYOUT = ("fx", "fy", "cx", "cy", "d0", "d1", "d2", "d3", "d4", "rx", "ry", "rz", "tx", "ty", "tz")
N_CAM = len(CAMERA_LAYOUT)
_F, _C, _D, _R, _T = slice(0, 2), slice(2, 4), slice(4, 9), slice(9, 12), slice(12, 15)
LOSSES = ("linear", "huber", "soft_l1", "cauchy", "arctan")


@dataclass(frozen=True)
class BundleOptions:
    """What the bundle adjustment may change, and how it weighs errors."""

    refine_focal: bool = True
    """Refine fx and fy (separately)."""
    refine_principal_point: bool = True
    """Refine cx and cy."""
    refine_distortion: bool = True
    """Refine the lens coefficients (pinhole k1 k2 p1 p2 k3, fisheye k1..k4)."""
    fix_k3: bool = False
    """Keep the pinhole k3 as it is (lenses with little distortion, few views)."""
    fixed_k3_cameras: tuple[str, ...] = ()
    """Cameras whose pinhole k3 stays as it is (the others follow ``fix_k3``)."""
    refine_extrinsics: bool = True
    """Refine R and t of every camera but the first (which fixes the world frame)."""
    refine_structure: bool = True
    """Refine the board poses (or the 3D points)."""
    fixed_cameras: tuple[str, ...] = ()
    """Cameras none of whose parameters change."""
    loss: str = "soft_l1"
    """Robust loss, as ``scipy.optimize.least_squares`` names it (linear, huber, soft_l1,
    cauchy, arctan)."""
    loss_scale_px: float = 1.0
    """Error in pixels at which the robust loss starts to flatten."""
    outlier_px: float = 5.0
    """After a first solve, observations whose error exceeds this and 5 times the median
    error are dropped, and the problem is solved again."""
    max_evaluations: int = 200
    """Most residual evaluations per solve (finite-difference Jacobians not counted)."""
    tolerance: float = 1e-10
    """Relative change of cost and parameters at which a solve stops."""
    same_focal_xy: bool = False
    """With ``refine_focal``: one focal length per camera (fy follows fx, their ratio kept),
    for cameras whose focal is unknown (square pixels)."""
    distortion_terms: int = 5
    """With ``refine_distortion``: refine only the first this many lens coefficients (1: k1
    alone, the rest kept as they are)."""
    uncertainty: bool = False
    """Also estimate the standard deviation of each free camera parameter
    (:attr:`BundleResult.camera_sd`, :func:`calibration.covariance.camera_parameter_sd`)."""

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise CalibrationError(f"bundle options loss: expected one of {list(LOSSES)}, found {self.loss!r}")
        for key in ("loss_scale_px", "outlier_px", "tolerance"):
            v = getattr(self, key)
            if not (isinstance(v, (int, float)) and v > 0):
                raise CalibrationError(f"bundle options {key}: expected a positive number, found {v!r}")


# ----------------------------------------------------------------------------- cameras <-> vectors


def _check_packable(cam: Camera) -> None:
    if cam.model == PINHOLE and cam.dist.size > 5:
        raise CalibrationError(
            f"camera {cam.name!r}: bundle adjustment supports up to 5 pinhole coefficients "
            f"(k1 k2 p1 p2 k3), found {cam.dist.size}"
        )


def pack_cameras(arrays: RigArrays) -> np.ndarray:
    """(C, 15) parameters of the cameras of ``arrays`` (see :data:`CAMERA_LAYOUT`); the
    coefficients past the fifth must be zero (see :func:`pack_camera`)."""
    p = np.zeros((len(arrays), N_CAM))
    K = arrays.K
    p[:, 0], p[:, 1], p[:, 2], p[:, 3] = K[:, 0, 0], K[:, 1, 1], K[:, 0, 2], K[:, 1, 2]
    p[:, _D] = arrays.dist[:, :5]
    p[:, _R] = arrays.rvec
    p[:, _T] = arrays.t_cam_from_world
    return p


def pack_camera(cam: Camera) -> np.ndarray:
    """(15,) parameters of a camera (see :data:`CAMERA_LAYOUT`)."""
    _check_packable(cam)
    return pack_cameras(RigArrays.from_cameras([cam]))[0]


def unpack_camera(template: Camera, p: np.ndarray) -> Camera:
    """A camera like ``template`` (name, size, model, number of coefficients) with the
    parameters ``p`` (15,)."""
    K = np.array([[p[0], 0.0, p[2]], [0.0, p[1], p[3]], [0.0, 0.0, 1.0]])
    n = 4 if template.model == FISHEYE else max(template.dist.size, 5)
    return Camera.from_rvec(template.name, template.size_wh, K, p[4 : 4 + n], p[_R], p[_T], template.model)


# ----------------------------------------------------------------------------- batched projection


def project_batch(cam: np.ndarray, fisheye: np.ndarray, X_world: np.ndarray, R: np.ndarray | None = None) -> np.ndarray:
    """Project points, each through its own camera.

    Args:
        cam: (M, 15) camera parameters per point (see :data:`CAMERA_LAYOUT`).
        fisheye: (M,) bool, the camera's model is fisheye.
        X_world: (M, 3) world points, metres.
        R: (M, 3, 3) ``R_cam_from_world`` when already computed from ``cam``.

    Returns:
        (M, 2) pixels; NaN behind the camera.
    """
    if R is None:
        R = rotvec_to_rotmat(cam[:, _R])
    Xc = np.einsum("mij,mj->mi", R, X_world) + cam[:, _T]
    z = Xc[:, 2]
    with np.errstate(all="ignore"):
        z = np.where(z > 0, z, np.nan)
        x, y = Xc[:, 0] / z, Xc[:, 1] / z
        xd, yd = distort(x, y, cam[:, _D].T, fisheye=np.asarray(fisheye, dtype=bool))
    return np.stack([cam[:, 0] * xd + cam[:, 2], cam[:, 1] * yd + cam[:, 3]], axis=-1)


# ----------------------------------------------------------------------------- the problem


@dataclass(frozen=True)
class Observations:
    """2D observations of the structure.

    Attributes:
        cam: (M,) int camera index (rig order).
        struct: (M,) int index of the board pose (or of the 3D point) observed.
        point: (M,) int corner id on the board (unused for free points: zeros).
        xy: (M, 2) observed pixels.
        weight: (M,) non-negative weights (1 for board corners, a confidence for keypoints).
    """

    cam: np.ndarray
    struct: np.ndarray
    point: np.ndarray
    xy: np.ndarray
    weight: np.ndarray

    def subset(self, keep: np.ndarray) -> "Observations":
        return Observations(*(getattr(self, f.name)[keep] for f in dataclasses.fields(self)))


def _camera_mask(cameras: Sequence[Camera], options: BundleOptions, fix_first_extrinsics: bool,
                 fix_scale: bool = False) -> np.ndarray:
    """(C, 15) bool: which camera parameters are free.

    With ``fix_scale`` (free 3D points: nothing else fixes the scale), the largest component
    of the second camera's translation stays fixed too.
    """
    C = len(cameras)
    m = np.zeros((C, N_CAM), dtype=bool)
    for c, cam in enumerate(cameras):
        if cam.name in options.fixed_cameras:
            continue
        m[c, _F] = options.refine_focal
        m[c, _C] = options.refine_principal_point
        m[c, 1] &= not options.same_focal_xy
        if options.refine_distortion:
            n = min(4 if cam.model == FISHEYE else 5, options.distortion_terms)
            m[c, 4 : 4 + n] = True
            if cam.model == PINHOLE and (options.fix_k3 or cam.name in options.fixed_k3_cameras):
                m[c, 8] = False
        m[c, _R] = m[c, _T] = options.refine_extrinsics and not (c == 0 and fix_first_extrinsics)
    if fix_scale and C > 1:
        t = cameras[1].t_cam_from_world
        m[1, 12 + int(np.argmax(np.abs(t)))] = False
    return m


class _Problem:
    """Residuals and Jacobian sparsity of one bundle adjustment (internal)."""

    def __init__(self, cams0, fisheye, struct0, obs: Observations, object_points, cam_free, struct_free,
                 tie_fy: "np.ndarray | None" = None):
        self.cams0, self.struct0 = cams0, struct0
        self.tie_fy = tie_fy  # (C,) bool: fy follows fx (their ratio in cams0 kept)
        self.aspect = cams0[:, 1] / cams0[:, 0]
        self.fisheye_c = fisheye
        self.obs = obs
        self.obj = object_points  # (N, 3) or None for free points
        self.cam_free = cam_free  # (C, 15) bool
        self.struct_free = struct_free  # bool
        self.sqrt_w = np.sqrt(obs.weight)[:, None]
        self.n_cam_free = int(cam_free.sum())

    def x0(self) -> np.ndarray:
        parts = [self.cams0[self.cam_free]]
        if self.struct_free:
            parts.append(self.struct0.ravel())
        return np.concatenate(parts)

    def unpack(self, x):
        cams = self.cams0.copy()
        cams[self.cam_free] = x[: self.n_cam_free]
        if self.tie_fy is not None:
            cams[self.tie_fy, 1] = cams[self.tie_fy, 0] * self.aspect[self.tie_fy]
        struct = x[self.n_cam_free :].reshape(self.struct0.shape) if self.struct_free else self.struct0
        return cams, struct

    def world_points(self, struct) -> np.ndarray:
        o = self.obs
        if self.obj is None:
            return struct[o.struct]
        Rb = rotvec_to_rotmat(struct[:, :3])
        return np.einsum("mij,mj->mi", Rb[o.struct], self.obj[o.point]) + struct[o.struct, 3:]

    def project(self, x) -> np.ndarray:
        cams, struct = self.unpack(x)
        o = self.obs
        Rc = rotvec_to_rotmat(cams[:, _R])
        return project_batch(cams[o.cam], self.fisheye_c[o.cam], self.world_points(struct), Rc[o.cam])

    def residuals(self, x) -> np.ndarray:
        r = (self.project(x) - self.obs.xy) * self.sqrt_w
        # A point behind a camera has no projection: a large finite residual pushes it back.
        return np.nan_to_num(r, nan=1e3).ravel()

    def _groups(self):
        """Column groups for finite differences: parameter j of every camera at once (each
        observation sees one camera), then parameter k of every structure item at once.

        Yields ``(columns (G,), observation -> column (M,) with -1 where unaffected)``.
        """
        o = self.obs
        col_of = -np.ones(self.cams0.shape, dtype=np.int64)
        col_of[self.cam_free] = np.arange(self.n_cam_free)
        for j in range(N_CAM):
            cols = col_of[:, j][col_of[:, j] >= 0]
            if cols.size:
                yield cols, col_of[o.cam, j]
        if self.struct_free:
            k = self.struct0.shape[1]
            S = self.struct0.shape[0]
            for j in range(k):
                cols = self.n_cam_free + np.arange(S) * k + j
                yield cols, self.n_cam_free + o.struct * k + j

    def jacobian(self, x) -> scipy.sparse.csr_matrix:
        """(2M, n) sparse forward-difference Jacobian of :meth:`residuals`, one residual
        evaluation per column group (about 15 + 6)."""
        f0 = self.residuals(x)
        M = self.obs.cam.size
        h = _FD_STEP * np.maximum(1.0, np.abs(x))
        rows, cols, vals = [], [], []
        obs_rows = np.arange(M)
        for group, col_of_obs in self._groups():
            x1 = x.copy()
            x1[group] += h[group]
            df = (self.residuals(x1) - f0).reshape(M, 2)
            hit = col_of_obs >= 0
            c = col_of_obs[hit]
            for a in (0, 1):
                rows.append(2 * obs_rows[hit] + a)
                cols.append(c)
                vals.append(df[hit, a] / h[c])
        return scipy.sparse.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(2 * M, x.size),
        )


#: Relative forward-difference step (about the square root of float64's resolution).
_FD_STEP = 1.5e-8
#: Largest dense Jacobian (entries) solved exactly; larger problems use LSMR steps.
_DENSE_LIMIT = 12_000_000
#: ... and at most this many parameters (an SVD per step grows with their cube).
_DENSE_MAX_PARAMS = 800


def _solve(problem: _Problem, options: BundleOptions) -> tuple[np.ndarray, object]:
    """``scipy.optimize.least_squares`` (trust region, robust loss) on the problem.

    The Jacobian is built sparse (one evaluation per column group); problems whose dense
    Jacobian stays under :data:`_DENSE_LIMIT` entries take exact trust-region steps (few
    iterations), larger ones take LSMR steps on the sparse matrix.
    """
    x0 = problem.x0()
    if x0.size == 0:
        return x0, None
    dense = x0.size <= _DENSE_MAX_PARAMS and 2 * problem.obs.cam.size * x0.size <= _DENSE_LIMIT
    common = dict(
        method="trf",
        loss=options.loss,
        f_scale=options.loss_scale_px,
        x_scale="jac",
        ftol=options.tolerance,
        xtol=options.tolerance,
        gtol=options.tolerance,
        max_nfev=options.max_evaluations,
    )
    with threadpool_limits(limits=1, user_api="blas"):  # small dense steps: threads only cost
        res = _least_squares(problem, x0, dense, common)
    log.debug("bundle adjustment: %d evaluations, cost %.6g -> %.6g (%s)",
              res.nfev, 0.5 * np.sum(problem.residuals(x0) ** 2), res.cost, res.message)
    return res.x, res


def _least_squares(problem: _Problem, x0: np.ndarray, dense: bool, common: dict):
    if dense:
        return least_squares(problem.residuals, x0, jac=lambda x: problem.jacobian(x).toarray(),
                             tr_solver="exact", **common)
    return least_squares(problem.residuals, x0, jac=problem.jacobian, tr_solver="lsmr",
                         tr_options={"atol": 1e-14, "btol": 1e-14, "regularize": False,
                                     "maxiter": 2000}, **common)


@dataclass(frozen=True)
class BundleResult:
    """What a bundle adjustment found.

    Attributes:
        cameras: refined cameras, rig order.
        structure: (S, 6) board poses (rvec, t of ``T_world_from_board``) or (P, 3) points.
        inliers: (M,) bool, observations kept after outlier rejection.
        residual_px: (M, 2) final residuals (projected - observed), pixels.
        error_px_per_camera: (C,) RMS reprojection error of each camera's inliers, pixels.
        error_px: RMS over all inliers, pixels.
        initial_error_px: RMS over all observations before refinement, pixels.
        camera_sd: (C, 15) standard deviation of each camera parameter (:data:`CAMERA_LAYOUT`,
            NaN where fixed) with :attr:`BundleOptions.uncertainty`, else None.
    """

    cameras: tuple[Camera, ...]
    structure: np.ndarray
    inliers: np.ndarray
    residual_px: np.ndarray
    error_px_per_camera: np.ndarray
    error_px: float
    initial_error_px: float
    camera_sd: "np.ndarray | None" = None


def bundle_adjust(
    cameras: Sequence[Camera],
    structure: np.ndarray,
    obs: Observations,
    object_points: np.ndarray | None,
    options: BundleOptions = BundleOptions(),
) -> BundleResult:
    """Refine cameras and structure to minimise the robust reprojection error.

    Args:
        cameras: initial cameras, rig order.
        structure: (S, 6) initial board poses (rvec, t of ``T_world_from_board``, with
            ``object_points``) or (P, 3) initial world points (``object_points`` None).
        obs: the observations.
        object_points: (N, 3) board corners in the board frame, metres, or None.
        options: what may be refined.

    The first camera's extrinsics are fixed (the gauge). Outliers (see
    :attr:`BundleOptions.outlier_px`) are dropped after a first solve.
    """
    for cam in cameras:
        _check_packable(cam)
    arrays = RigArrays.from_cameras(cameras)
    cams0, fisheye = pack_cameras(arrays), np.array(arrays.fisheye)
    struct0 = np.asarray(structure, dtype=np.float64)
    cam_free = _camera_mask(cameras, options, fix_first_extrinsics=True,
                            fix_scale=object_points is None)
    tie = np.full(len(cameras), options.refine_focal and options.same_focal_xy)
    full = _Problem(cams0, fisheye, struct0, obs, object_points, cam_free, options.refine_structure, tie)
    r0 = full.project(full.x0()) - obs.xy
    initial = float(np.sqrt(np.nanmean(np.sum(r0**2, axis=1))))
    x, _ = _solve(full, options)
    cams, struct = full.unpack(x)
    err = np.linalg.norm(full.project(x) - obs.xy, axis=1)
    limit = max(options.outlier_px, 5.0 * float(np.nanmedian(err)))
    inliers = np.isfinite(err) & (err <= limit)
    kept = full
    if not inliers.all():
        log.info("bundle adjustment: dropping %d of %d observations above %.2f px",
                 int((~inliers).sum()), inliers.size, limit)
        kept = _Problem(cams, fisheye, struct, obs.subset(inliers), object_points, cam_free,
                        options.refine_structure, tie)
        x2, _ = _solve(kept, options)
        cams, struct = kept.unpack(x2)
    sd = None
    if options.uncertainty:
        kept = _Problem(cams, fisheye, struct, kept.obs, object_points, cam_free, options.refine_structure, tie)
        sd = np.full(cams.shape, np.nan)
        sd[cam_free] = camera_parameter_sd(kept.jacobian(kept.x0()), kept.residuals(kept.x0()),
                                           kept.n_cam_free, struct.shape[1])
        sd[tie, 1] = sd[tie, 0] * kept.aspect[tie]
    full = _Problem(cams, fisheye, struct, obs, object_points, cam_free, options.refine_structure)
    resid = full.project(full.x0()) - obs.xy
    sq = np.sum(resid**2, axis=1)
    C = len(cameras)
    per_cam = np.array([
        float(np.sqrt(np.mean(sq[inliers & (obs.cam == c)]))) if np.any(inliers & (obs.cam == c)) else np.nan
        for c in range(C)
    ])
    out_cams = tuple(unpack_camera(t, p) for t, p in zip(cameras, cams))
    return BundleResult(
        cameras=out_cams,
        structure=struct,
        inliers=inliers,
        residual_px=resid,
        error_px_per_camera=per_cam,
        error_px=float(np.sqrt(np.mean(sq[inliers]))),
        initial_error_px=initial,
        camera_sd=sd,
    )


# ----------------------------------------------------------------------------- pose helpers


def pose_to_vec(T: np.ndarray) -> np.ndarray:
    """(..., 4, 4) rigid transforms -> (..., 6) (Rodrigues vector, translation)."""
    T = np.asarray(T, dtype=np.float64)
    return np.concatenate([rotmat_to_rotvec(T[..., :3, :3]), T[..., :3, 3]], axis=-1)


def vec_to_pose(v: np.ndarray) -> np.ndarray:
    """(..., 6) (Rodrigues vector, translation) -> (..., 4, 4) rigid transforms."""
    v = np.asarray(v, dtype=np.float64)
    out = np.zeros(v.shape[:-1] + (4, 4))
    out[..., :3, :3] = rotvec_to_rotmat(v[..., :3])
    out[..., :3, 3] = v[..., 3:]
    out[..., 3, 3] = 1.0
    return out
