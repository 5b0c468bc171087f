"""Undistortion of detections: pixels -> undistorted normalised coordinates, with the
Jacobian d pixels / d normalised at each detection.

Per camera, a lens map samples the exact inverse on a pixel grid (:class:`_LensMap`, cached per
lens); a point is looked up bilinearly and takes one Newton step on the lens model. Maps whose
lookup is close enough everywhere are *certified* and take that short path with no per-point
tests; otherwise points the lookup left further off take more Newton steps, and points off the
grid or next to the fold of a strong lens go through the exact solver of :mod:`calibration`.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np

from calibration import Rig
from calibration.camera import pixels_to_normalized
from calibration.lens import FISHEYE, distort, undistort_normalized

from .backend import CHUNK

__all__ = ["undistort_chunk", "undistort_detections"]


@dataclass(frozen=True)
class _LensMap:
    """Undistorted normalised coordinates of one camera sampled on a pixel grid (state of the
    fast undistortion; built once per camera from the exact iterative inverse)."""

    origin_px: float
    step_px: float
    width: int       # grid columns
    height: int      # grid rows
    grid: np.ndarray  # (rows * cols,) complex x_n + i y_n at pixel (origin + step * col,
                      # origin + step * row): one gather brings both
    certified: bool = False  # one Newton step from the lookup is exact everywhere on the grid


_MAP_STEPS_PX = (16.0, 8.0)  # grid steps tried in turn until one is certified
_MAP_MARGIN_PX = 64.0

#: Newton step (normalised units) beyond which a point takes more steps: after a step s the
#: error is about s^2 times the lens curvature, below 4e-11 (2e-8 px) for s < 1e-5 on the
#: studio rigs and a strong wide-angle lens alike.
_NEWTON_FAR = 1e-5


@functools.lru_cache(maxsize=64)
def _lens_map(K_bytes: bytes, dist_bytes: bytes, model: str, size_wh: tuple) -> _LensMap:
    """The lookup map of a lens: the coarsest grid of ``_MAP_STEPS_PX`` that is certified
    (see :func:`_certify`), else the coarsest (then every point takes the general path)."""
    K = np.frombuffer(K_bytes).reshape(3, 3)
    dist = np.frombuffer(dist_bytes)
    first = None
    for step in _MAP_STEPS_PX:
        lm = _grid_map(K, dist, model, size_wh, step)
        if lm.certified:
            return lm
        first = first or lm
    return first


def _grid_map(K: np.ndarray, dist: np.ndarray, model: str, size_wh: tuple,
              step: float) -> _LensMap:
    w, h = size_wh
    o, s = -_MAP_MARGIN_PX, step
    us = o + s * np.arange(int(np.ceil((w + 2 * _MAP_MARGIN_PX) / s)) + 1)
    vs = o + s * np.arange(int(np.ceil((h + 2 * _MAP_MARGIN_PX) / s)) + 1)
    uu, vv = np.meshgrid(us, vs)
    xn = undistort_normalized(pixels_to_normalized(np.stack([uu, vv], -1), K), dist, model)
    lm = _LensMap(o, s, len(us), len(vs), (xn[..., 0] + 1j * xn[..., 1]).ravel())
    return replace(lm, certified=_certify(lm, K, dist, model))


def _certify(lm: _LensMap, K: np.ndarray, dist: np.ndarray, model: str) -> bool:
    """Whether one Newton step from the bilinear lookup is exact (to about 1e-10, the square
    of the lookup's error) wherever a point can fall on the grid: every node has an inverse,
    the lookup is within ``_NEWTON_FAR / 2`` of the exact inverse at every cell's centre and
    edge midpoints (where bilinear interpolation is worst) and the lens's Jacobian
    determinant stays well positive (no fold nearby)."""
    g = lm.grid.reshape(lm.height, lm.width)
    if not np.isfinite(g).all():
        return False
    o, s = lm.origin_px, lm.step_px
    fu, fv = np.meshgrid(np.arange(2 * lm.width - 2) / 2, np.arange(2 * lm.height - 2) / 2)
    half = (fu % 1 > 0) | (fv % 1 > 0)
    fu, fv = fu[half], fv[half]
    x, y, _, _ = _bilinear(lm, o + s * fu, o + s * fv)
    exact = undistort_normalized(pixels_to_normalized(np.stack([o + s * fu, o + s * fv], -1), K),
                                 dist, model)
    if not np.isfinite(exact).all():
        return False
    lookup_err = np.abs(x - exact[:, 0]) + np.abs(y - exact[:, 1])
    _, _, j00, j01, j10, j11 = _distort(exact[:, 0], exact[:, 1], dist, model)
    det = j00 * j11 - j01 * j10
    return bool(lookup_err.max() < _NEWTON_FAR / 2 and det.min() > 0.2)


def _distort(x, y, dist: np.ndarray, model: str):
    """The lens model of one camera on normalised coordinates x, y (N,) with its Jacobian:
    ``(xd, yd, dxd/dx, dxd/dy, dyd/dx, dyd/dy)`` (:func:`calibration.lens.distort`)."""
    return distort(x, y, dist, fisheye=model == FISHEYE, jacobian=True)


def _camera_map(cam) -> _LensMap:
    return _lens_map(np.ascontiguousarray(cam.K, float).tobytes(),
                     np.ascontiguousarray(cam.dist, float).tobytes(), cam.model,
                     tuple(int(v) for v in cam.size_wh))


def _grid_coords(lm: _LensMap, u: np.ndarray, v: np.ndarray):
    """Pixels (N,) -> fractional grid column and row (N,)."""
    return (u - lm.origin_px) * (1.0 / lm.step_px), (v - lm.origin_px) * (1.0 / lm.step_px)


def _interpolate(lm: _LensMap, fu, fv, i0, j0, mode: str = "raise"):
    """Bilinear blend of the map in the cells (i0, j0) (N,) at fractional grid coordinates
    fu, fv (N,): z (N,) complex and the 4 corners (N,) (``mode`` as ``ndarray.take``)."""
    a = fu - i0
    b = fv - j0
    k = j0 * lm.width + i0
    kd = k + lm.width
    g = lm.grid
    corners = (g.take(k, mode=mode), g.take(k + 1, mode=mode), g.take(kd, mode=mode),
               g.take(kd + 1, mode=mode))
    g00, g01, g10, g11 = corners
    top = g00 + a * (g01 - g00)
    return top + b * (g10 + a * (g11 - g10) - top), corners


def _bilinear(lm: _LensMap, u: np.ndarray, v: np.ndarray):
    """Bilinear lookup of the map at pixels (u, v) (N,): x, y (N,), NaN off the grid or where
    none of the cell's corners has an inverse (beyond the fold of a strong lens: no inverse
    there either); where only some have one, the first of those (a rough start, ``rough``
    (N,) bool). Returns x, y, out (N,) bool (off the grid), rough."""
    fu, fv = _grid_coords(lm, u, v)
    # fmax/fmin send NaN to the edge, so every index is valid; moved points are not inside.
    cu = np.fmin(np.fmax(fu, 0.0), lm.width - 1.000001)
    cv = np.fmin(np.fmax(fv, 0.0), lm.height - 1.000001)
    z, (g00, g01, g10, g11) = _interpolate(lm, cu, cv, cu.astype(np.intp), cv.astype(np.intp))
    x, y = z.real.copy(), z.imag.copy()
    out = (cu != fu) | (cv != fv)
    if out.any():
        x[out] = np.nan
        y[out] = np.nan
    rough = np.zeros(x.shape, bool)
    lost = np.flatnonzero(np.isnan(x) & ~out)
    if lost.size:
        seed = np.full(lost.size, np.nan + 0j)
        for g in (g11, g10, g01, g00):          # the last assignment wins: g00 first
            seed = np.where(np.isnan(g[lost]), seed, g[lost])
        x[lost], y[lost] = seed.real, seed.imag
        rough[lost] = ~np.isnan(seed)
    return x, y, out, rough


def _certified_lookup(lm: _LensMap, u: np.ndarray, v: np.ndarray):
    """Bilinear lookup for a certified map when every finite pixel (u, v) (N,) lies on the
    grid: x, y (N,) (NaN where u or v is), else None (the general path then runs). No
    per-point tests: NaN pixels carry NaN through the interpolation weights."""
    fu, fv = _grid_coords(lm, u, v)
    lo_u, hi_u, lo_v, hi_v = (np.fmin.reduce(fu), np.fmax.reduce(fu), np.fmin.reduce(fv),
                              np.fmax.reduce(fv))      # NaN-ignoring
    if not (lo_u >= 0 and lo_v >= 0 and hi_u < lm.width - 1 and hi_v < lm.height - 1):
        return None
    with np.errstate(invalid="ignore"):       # NaN -> some integer, clipped by take below
        i0 = fu.astype(np.intp)
        j0 = fv.astype(np.intp)
    z, _ = _interpolate(lm, fu, fv, i0, j0, mode="clip")
    return z.real, z.imag


def _undistort_camera(cam, u: np.ndarray, v: np.ndarray):
    """Exact undistortion of one camera's pixels: a lookup on a 16 px grid, then one Newton
    step on the lens model (error about 1e-12 normalised, the exact solver's own tolerance),
    more steps for the points the lookup left further off. Points off the grid, and points
    next to the fold of a strong lens where Newton fails, go through the exact solver of
    :mod:`calibration` (NaN where the lens has no inverse there).

    Args:
        u, v: (N,) pixels, NaN = missing.
    Returns:
        x, y (N,) undistorted normalised coordinates and the 4 entries (N,) of the Jacobian
        d pixels / d (x, y) at the point.
    """
    K = cam.K
    fx, fy = float(K[0, 0]), float(K[1, 1])
    yd = (v - float(K[1, 2])) * (1.0 / fy)
    xd = (u - float(K[0, 2])) * (1.0 / fx)     # a Camera's K has no skew
    if cam.model == "pinhole" and not np.any(cam.dist):
        one, zero = np.ones_like(u), np.zeros_like(u)
        return xd, yd, fx * one, zero, zero, fy * one
    lm = _camera_map(cam)
    if lm.certified:
        fast = _certified_lookup(lm, u, v)
        if fast is not None:                    # every point on the grid: one Newton step
            x, y = fast
            dx, dy, j00, j01, j10, j11 = _distort(x, y, cam.dist, cam.model)
            rx, ry = dx - xd, dy - yd
            inv = 1.0 / (j00 * j11 - j01 * j10)
            return (x - (j11 * rx - j01 * ry) * inv, y - (j00 * ry - j10 * rx) * inv,
                    fx * j00, fx * j01, fy * j10, fy * j11)
    x, y, out, rough = _bilinear(lm, u, v)
    slow = np.flatnonzero(out & np.isfinite(u) & np.isfinite(v))
    if slow.size:                               # off the grid: the exact solver
        exact = cam.undistort_points(np.stack([u[slow], v[slow]], -1))
        x[slow], y[slow] = exact[:, 0], exact[:, 1]
    dx, dy, j00, j01, j10, j11 = _distort(x, y, cam.dist, cam.model)
    rx, ry = dx - xd, dy - yd
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / (j00 * j11 - j01 * j10)
        sx = (j11 * rx - j01 * ry) * inv
        sy = (j00 * ry - j10 * rx) * inv
        x = x - sx
        y = y - sy
        bad = ~(inv > 0)
        far = np.flatnonzero((np.abs(sx) + np.abs(sy) > _NEWTON_FAR) & ~bad)
    if far.size:
        x[far], y[far], ok, jf = _newton_steps(
            lambda a, b: _distort(a, b, cam.dist, cam.model), x[far], y[far], xd[far], yd[far])
        bad[far] |= ~ok
        for j, f in zip((j00, j01, j10, j11), jf):
            j[far] = f
    retry = np.flatnonzero(bad & rough)             # next to the fold, Newton lost its way
    if retry.size:
        exact = cam.undistort_points(np.stack([u[retry], v[retry]], -1))
        x[retry], y[retry] = exact[:, 0], exact[:, 1]
        ok = np.isfinite(exact[:, 0])
        _, _, *jr = _distort(exact[ok, 0], exact[ok, 1], cam.dist, cam.model)
        for j, f in zip((j00, j01, j10, j11), jr):
            j[retry[ok]] = f
        bad[retry] = ~ok
    x[bad] = np.nan
    y[bad] = np.nan
    return x, y, fx * j00, fx * j01, fy * j10, fy * j11


def _newton_steps(distort, x, y, xd, yd, steps: int = 8):
    """Newton iterations inverting a lens: ``distort(x, y)`` -> (xd, yd, 4 Jacobian entries)
    as :func:`_distort`; x, y (S,) start, xd, yd (S,) distorted targets. Returns x, y,
    ok (S,) (converged to 1e-14, the lens invertible there) and the Jacobian (4 arrays)."""
    for _ in range(steps):
        dx, dy, j00, j01, j10, j11 = distort(x, y)
        rx, ry = dx - xd, dy - yd
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = 1.0 / (j00 * j11 - j01 * j10)
            x = x - (j11 * rx - j01 * ry) * inv
            y = y - (j00 * ry - j10 * rx) * inv
            ok = (inv > 0) & (np.abs(rx) + np.abs(ry) < 1e-14)
        if ok.all():
            break
    return x, y, ok, (j00, j01, j10, j11)


def undistort_chunk(rig: Rig, u: np.ndarray, v: np.ndarray):
    """(C, N) pixel coordinates -> x, y (C, N) and the 4 Jacobian entries (C, N)."""
    cols = [_undistort_camera(cam, u[c], v[c]) for c, cam in enumerate(rig)]
    return [np.stack([col[k] for col in cols]) for k in range(6)]


def undistort_detections(rig: Rig, xy_px: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Undistorted normalised coordinates of detections in every camera.

    Args:
        xy_px: (N, C, 2) pixels in the rig's camera order, NaN = missing.
    Returns:
        xy_n (N, C, 2) (NaN where missing or not invertible) and jac (N, C, 2, 2), the
        Jacobian d pixels / d xy_n at each detection (converts small normalised residuals to
        pixels). Both are views of one (6, C, N) array, points last: each camera's x, y and
        Jacobian entries are contiguous (what :func:`undistort_chunk` makes and the
        triangulation's blocks read), so nothing is interleaved and pulled apart again.
    """
    xy_px = np.asarray(xy_px, float)
    N, C = xy_px.shape[:2]
    u, v = (np.ascontiguousarray(xy_px[:, :, k].T) for k in (0, 1))       # (C, N)
    planes = np.empty((6, C, N))                         # x, y, j00, j01, j10, j11
    for a in range(0, N, CHUNK):
        b = min(N, a + CHUNK)
        for k, plane in enumerate(undistort_chunk(rig, u[:, a:b], v[:, a:b])):
            planes[k, :, a:b] = plane
    xy_n = planes[:2].transpose(2, 1, 0)                                   # (N, C, 2)
    jac = planes[2:].reshape(2, 2, C, N).transpose(3, 2, 0, 1)            # (N, C, 2, 2)
    return xy_n, jac
