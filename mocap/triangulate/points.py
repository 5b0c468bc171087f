"""Triangulation of a batch of points (numpy or torch), in chunks, with degenerate geometry
flagged. A large batch's chunks (numpy) run in parallel processes (:mod:`mocap.parallel`,
:data:`PARALLEL_MIN_POINTS`), with the same result.

Degenerate geometry is flagged (``FLAG_*`` bits in :attr:`Triangulation.flags`) and returned as
NaN: too few views, no consensus, (nearly) parallel rays (coincident or collinear cameras, a
point on a baseline) and points behind the cameras that saw them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from calibration import Rig

from ..errors import TriangulationError
from ..settings import TriangulateSettings
from ..device import pick_device
from ..parallel import fork_workers, map_spans
from .backend import CHUNK, copy_array, index_of, ns
from .dlt import dlt_rig, features
from .robust import narrow, robust_subset, solve_refined
from .undistort import undistort_chunk

__all__ = ["FLAG_FEW_VIEWS", "FLAG_NO_CONSENSUS", "FLAG_PARALLEL_RAYS", "FLAG_BEHIND_CAMERA",
           "PARALLEL_MIN_POINTS", "Triangulation", "triangulate_points", "triangulate_views"]

#: From this many points on (numpy backend), blocks run in parallel processes (one per CPU).
PARALLEL_MIN_POINTS = 1 << 16

FLAG_FEW_VIEWS = 1
"""Fewer than ``min_views`` cameras detected the joint."""
FLAG_NO_CONSENSUS = 2
"""Enough detections, but fewer than ``min_views`` of them agree on one point."""
FLAG_PARALLEL_RAYS = 4
"""The agreeing rays are (nearly) parallel: coincident or collinear cameras, depth unknown."""
FLAG_BEHIND_CAMERA = 8
"""The only solution lies behind a camera that saw the joint (cheirality violated)."""


@dataclass(frozen=True)
class Triangulation:
    """Result of triangulating N points seen by C cameras.

    Attributes:
        xyz: (N, 3) world points, metres; NaN where no trustworthy point exists.
        used: (N, C) bool, the views the point rests on (none where xyz is NaN).
        err_px: (N, C) reprojection error of every detection against xyz, pixels (first order
            about the detection; NaN where missing, inf behind the camera).
        mean_err_px: (N,) mean error over the used views, pixels (NaN where xyz is NaN).
        flags: (N,) uint8, ``FLAG_*`` bits saying why a point is missing or doubtful.
    """

    xyz: np.ndarray
    used: np.ndarray
    err_px: np.ndarray
    mean_err_px: np.ndarray
    flags: np.ndarray


def _triangulate_chunk(g, x, y, jac, conf, valid, s: TriangulateSettings, robust: bool,
                       prior=None, tau=None):
    """Triangulate one chunk, views first: x, y, jac entries, conf, valid, tau (each view's
    outlier threshold, pixels; None: ``s.reproj_threshold_px``) (C, N).

    Returns X (3 arrays (N,)), used (C, N), err (C, N) pixels, flags (N,).
    """
    xp = ns(conf)
    if not bool(valid.all()):                   # unused views: finite zeros, weight 0
        x = xp.where(valid, x, 0.0)
        y = xp.where(valid, y, 0.0)
        jac = [xp.where(valid, a, 0.0) for a in jac]
    scale = xp.sqrt(xp.abs(jac[0] * jac[3] - jac[1] * jac[2]))
    w = conf * valid
    X, det_rel, err, z = solve_refined(g, features(x, y), x, y, jac, w, scale,
                                       s.refine_iterations)
    nvalid = valid.sum(0)
    used = valid
    # Every detected ray (nearly) parallel: nothing to choose from. Narrow ray bundles have a
    # small relative determinant (about 0.84 sin^2 of the angle for two equal views), so only
    # those candidates get the exact ray-spread test.
    all_parallel = narrow(xp, g, x, y, valid, (nvalid >= 2) & ~(det_rel > 0.05),
                          s.min_ray_angle_deg)
    if robust:
        tau = xp.full_like(conf, s.reproj_threshold_px) if tau is None else tau
        good = valid & (z > 0) & (err <= tau)
        redo = ((good != valid).any(0) | ~(det_rel > 1e-12)) & (nvalid >= 2)
        if prior is not None:
            redo = redo | (xp.isfinite(prior[0]) & (nvalid >= 2))
        idx = index_of(xp, redo)
        if len(idx):
            used = used & ~redo[None]
            sub = lambda a: a[:, idx]  # noqa: E731
            Xr, ur, dr, er, zr = robust_subset(
                g, sub(x), sub(y),
                [sub(a) for a in jac], sub(conf), sub(valid), sub(scale),
                sub(tau), s.robust_pair_views, s.robust_iterations,
                None if prior is None else [a[idx] for a in prior], s.temporal_radius_m)
            X, err, z, det_rel = ([copy_array(a) for a in X], copy_array(err), copy_array(z),
                                  copy_array(det_rel))
            for a, b in zip(X, Xr):
                a[idx] = b
            used[:, idx], err[:, idx], z[:, idx], det_rel[idx] = ur, er, zr, dr
    nused = used.sum(0)
    few = nvalid < s.min_views
    finite = xp.isfinite(X[0]) & xp.isfinite(X[1]) & xp.isfinite(X[2])
    parallel = ~few & (((nused >= 2) & (~(det_rel > 1e-12) | ~finite)) | all_parallel)
    parallel = parallel | narrow(xp, g, x, y, used, ~parallel & (nused >= 2) & (det_rel < 0.05),
                                 s.min_ray_angle_deg)
    behind = ~few & ~parallel & (nused < s.min_views) & (valid & ~(z > 0)).any(0)
    flags = (few * FLAG_FEW_VIEWS + (~few & ~parallel & (nused < s.min_views)) * FLAG_NO_CONSENSUS
             + parallel * FLAG_PARALLEL_RAYS + behind * FLAG_BEHIND_CAMERA)
    ok = ~few & (nused >= s.min_views) & ~parallel & finite
    X = [xp.where(ok, a, float("nan")) for a in X]
    used = used & ok[None]
    return X, used, err, flags


def triangulate_points(rig: Rig, xy_px: np.ndarray, conf: np.ndarray,
                       settings: TriangulateSettings = TriangulateSettings(),
                       xy_n: "np.ndarray | None" = None, jac: "np.ndarray | None" = None,
                       robust: "bool | None" = None,
                       prior: "np.ndarray | None" = None,
                       threshold_px: "np.ndarray | None" = None) -> Triangulation:
    """Triangulate a batch of points (numpy or torch path, chosen by ``settings.backend``).

    Args:
        rig: the calibrated cameras (C of them).
        xy_px: (N, C, 2) detections in pixels, rig order, NaN = missing.
        conf: (N, C) confidences in [0, 1]; detections below ``settings.min_conf`` are ignored.
        xy_n, jac: optional precomputed :func:`undistort_detections` of ``xy_px``.
        robust: override ``settings.view_selection == "robust"``.
        prior: optional (N, 3) positions the points are known to be near (NaN = none), e.g.
            from neighbouring frames: view-pair hypotheses further than
            ``settings.temporal_radius_m`` are discarded (robust path).
        threshold_px: optional (N, C) each view's outlier threshold, pixels (robust path;
            None: ``settings.reproj_threshold_px`` everywhere).
    Returns:
        :class:`Triangulation` (numpy arrays whatever the backend).
    """
    xy_px = np.asarray(xy_px, float)
    conf = np.asarray(conf, float)
    N, C = conf.shape if conf.ndim == 2 else (None, None)
    if conf.ndim != 2 or xy_px.shape != (N, C, 2) or C != len(rig):
        raise TriangulationError(
            f"detections have shape {xy_px.shape} and confidences {conf.shape} for "
            f"{len(rig)} cameras; expected (N, {len(rig)}, 2) and (N, {len(rig)})")
    robust = settings.view_selection == "robust" if robust is None else robust
    xp, dev, chunk = np, None, CHUNK
    if settings.backend == "torch":
        import torch
        xp, dev = torch, pick_device(settings.device, TriangulationError,
                                     "[triangulate] device")
        chunk = 1 << 20 if dev.type == "cuda" else CHUNK
    g = dlt_rig(rig.arrays() if xp is np else rig.arrays().to(dev))
    out = _empty_result(N, C)
    spans = [(a, min(N, a + chunk)) for a in range(0, N, chunk)]
    shared = (g, dev, rig, settings, robust, xy_px, xy_n, jac, conf, prior, threshold_px)
    workers = fork_workers(len(spans)) if xp is np and N >= PARALLEL_MIN_POINTS else 1
    _fill(out, spans, map_spans(_span_job, shared, spans, workers))
    return out


def _span_job(shared: tuple, span: tuple) -> tuple:
    """:func:`_block_job` on the rows ``span`` = (start, stop) of the batch ``shared`` =
    (g, dev, rig, settings, robust, xy_px, xy_n, jac, conf, prior, threshold_px)."""
    g, dev, rig, settings, robust, xy_px, xy_n, jac, conf, prior, tau = shared
    a, b = span
    return _block_job((g, dev, rig, settings, robust, xy_px[a:b], _rows(xy_n, a, b),
                       _rows(jac, a, b), conf[a:b], _rows(prior, a, b), _rows(tau, a, b)))


def _rows(a: "np.ndarray | None", start: int, stop: int) -> "np.ndarray | None":
    return None if a is None else a[start:stop]


def _fill(out: Triangulation, spans: list, blocks) -> None:
    """Write each block's (xyz, used, err, flags, mean_err) rows into ``out``."""
    for (a, b), (xyz, used, err, flags, mean_err) in zip(spans, blocks):
        out.xyz[a:b], out.used[a:b], out.err_px[a:b] = xyz, used, err
        out.flags[a:b], out.mean_err_px[a:b] = flags, mean_err


def _block_job(job: tuple) -> tuple:
    """One block of :func:`triangulate_points` (its rows of every input): (xyz (n, 3),
    used (n, C), err_px (n, C), flags (n,), mean_err_px (n,)), numpy arrays."""
    g, dev, rig, settings, robust, xy_px, xy_n, jac, conf, prior, tau = job
    xp = np if dev is None else ns(g.normal)
    T = (lambda a: a) if xp is np else (lambda a: xp.as_tensor(a, device=dev))  # noqa: E731
    N_ = (lambda a: a) if xp is np else (lambda a: a.cpu().numpy())  # noqa: E731
    if xy_n is None or jac is None:
        x, y, *jc = undistort_chunk(rig, xy_px[:, :, 0].T.copy(), xy_px[:, :, 1].T.copy())
    else:
        x, y = (xy_n[:, :, k].T.copy() for k in (0, 1))
        jc = [jac[:, :, i, j].T.copy() for i in (0, 1) for j in (0, 1)]
    cf = conf.T.copy()
    valid = cf >= settings.min_conf
    if not settings.min_conf > 0:
        valid &= cf > 0
    valid &= np.isfinite(x) & np.isfinite(y)
    pr = None if prior is None else [T(np.ascontiguousarray(prior[:, k])) for k in range(3)]
    tau = None if tau is None else T(np.asarray(tau, float).T.copy())
    # numpy: one BLAS thread (the products are small, (9, 4 C) by (4 C, chunk): threads only
    # wait on each other); torch: no gradients
    ctx = threadpool_limits(limits=1, user_api="blas") if xp is np else xp.no_grad()
    with ctx:
        X, used, err, flags = _triangulate_chunk(g, T(x), T(y), [T(j) for j in jc], T(cf),
                                                 T(valid), settings, robust, pr, tau)
    used, err = N_(used), np.where(valid, N_(err), np.nan)
    n = used.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_err = np.where(used, err, 0.0).sum(0) / np.where(n > 0, n, np.nan)
    return np.stack([N_(a) for a in X], -1), used.T, err.T, N_(flags), mean_err


def _empty_result(N, C) -> Triangulation:
    """A result every row of which the caller fills."""
    return Triangulation(xyz=np.empty((N, 3)), used=np.empty((N, C), bool),
                         err_px=np.empty((N, C)), mean_err_px=np.empty(N),
                         flags=np.empty(N, np.uint8))


def triangulate_views(rig: Rig, xy_px: np.ndarray, conf: np.ndarray, min_conf: float = 0.2,
                      min_views: int = 2, reproj_threshold_px: float = 15.0,
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Robust triangulation of a batch of points (the short form of :func:`triangulate_points`).

    Args:
        xy_px: (N, C, 2) pixels in the rig's camera order, NaN = missing. conf: (N, C).
    Returns:
        X (N, 3) metres (NaN where not enough consistent views), used (N, C) bool,
        err (N,) mean reprojection error over the used views, pixels.
    """
    s = TriangulateSettings(min_conf=min_conf, min_views=min_views,
                            reproj_threshold_px=reproj_threshold_px)
    r = triangulate_points(rig, xy_px, conf, s)
    return r.xyz, r.used, r.mean_err_px
