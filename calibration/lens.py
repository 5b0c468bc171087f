"""The OpenCV lens model of the whole project, written once.

:func:`distort` is written on separate coordinate arrays ``x, y`` so that the same code runs
on numpy arrays and on torch tensors (the namespace is picked from the type of ``x``; torch is
imported only when a tensor comes in), batched over any shape, with per-camera or per-point
coefficients that broadcast against the coordinates, optionally with its 2 x 2 Jacobian.
:func:`distort_normalized` and :func:`undistort_normalized` are the checked numpy API on
``(..., 2)`` arrays; :func:`undistort` is the fast inverse from a starting guess.

Coordinates (camera frame, OpenCV axes: x right, y down, z forward):

- ``x, y`` / ``xy_n``: normalised undistorted image coordinates ``(X / Z, Y / Z)``, unitless.
- ``xd, yd`` / ``xy_d``: normalised distorted coordinates, the undistorted ones after the
  lens model, unitless. Pixels are ``K @ [xd, yd, 1]`` (see :mod:`calibration.camera`).

Models, named as OpenCV names them:

- ``"pinhole"``: OpenCV's standard/rational model, coefficients ``(k1, k2, p1, p2[, k3[, k4,
  k5, k6]])`` (0, 4, 5 or 8 of them): ``r2 = x^2 + y^2``,
  ``radial = (1 + k1 r2 + k2 r2^2 + k3 r2^3) / (1 + k4 r2 + k5 r2^2 + k6 r2^3)``,
  ``xd = x radial + 2 p1 x y + p2 (r2 + 2 x^2)``, ``yd = y radial + p1 (r2 + 2 y^2) + 2 p2 x y``.
- ``"fisheye"``: OpenCV's ``cv2.fisheye`` (equidistant) model, coefficients
  ``(k1, k2, k3, k4)``: ``r = |(x, y)|``, ``theta = atan(r)``,
  ``theta_d = theta (1 + k1 theta^2 + k2 theta^4 + k3 theta^6 + k4 theta^8)``,
  ``(xd, yd) = theta_d / r (x, y)`` (the limit 1 below ``r = 1e-12``).

The coefficients of :func:`distort` are 8 entries ``(k1, k2, p1, p2, k3, k4, k5, k6)`` (fewer
are padded with zeros), each a number or an array/tensor that broadcasts against ``x`` and
``y``: a ``(k,)`` vector of one camera, or a ``(k, ...)`` array whose rows are the
coefficients, e.g. ``dist.T[:, :, None]`` for a zero-padded ``(C, 8)`` table of cameras and
``x`` of shape ``(C, N)``. The fisheye model reads the first four entries as its
``k1 .. k4``, so one zero-padded ``(C, 8)`` table (:func:`pad_coefficients`) holds pinhole
and fisheye cameras alike.

Points behind a camera are the caller's business: NaN passes through every function here.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from calibration.errors import CalibrationError, ShapeError
from calibration.shapes import last_axis

PINHOLE = "pinhole"
FISHEYE = "fisheye"
CAMERA_MODELS = (PINHOLE, FISHEYE)
#: Number of distortion coefficients each model accepts.
DIST_SIZES = {PINHOLE: (0, 4, 5, 8), FISHEYE: (4,)}
#: Entries of a full coefficient vector (:func:`pad_coefficients`).
N_COEFFS = 8

#: Convergence threshold of the undistortion solvers, in normalised units (about 1e-9 px
#: for a 1000 px focal length).
UNDISTORT_TOL = 1e-12
UNDISTORT_MAX_ITER = 50
_POLISH_TOL = 1e-15  # iterate down to rounding error, accept at UNDISTORT_TOL
_MAX_HALVINGS = 30
#: Below this radius (normalised units) the fisheye scale ``theta_d / r`` is its limit 1 (as
#: OpenCV does below 1e-8).
_FISHEYE_SMALL_R = 1e-12


# ----------------------------------------------------------------------------- array namespace


def _ns(x):
    """numpy, or torch when ``x`` is a tensor (imported only then)."""
    if type(x).__module__.startswith("torch"):
        import torch

        return torch
    return np


def _is_zero(c) -> bool:
    """Whether a coefficient (number, array or tensor) is zero everywhere (NaN is not) and
    may be left out: a tensor that requires a gradient never is (its gradient is wanted)."""
    if isinstance(c, float):
        return c == 0.0
    if isinstance(c, np.ndarray):
        return not np.any(c != 0)
    return not c.requires_grad and not bool((c != 0).any())


def _entries(coeffs) -> list:
    """The 8 coefficient entries of ``coeffs`` (see the module docstring): numpy scalars as
    Python floats (a numpy scalar times a tensor would be an array), arrays and tensors as
    they are, missing trailing entries 0.0."""
    out = []
    for c in coeffs:
        if isinstance(c, (numbers.Real, np.generic)) or (isinstance(c, np.ndarray) and c.ndim == 0):
            c = float(c)
        out.append(c)
    if len(out) > N_COEFFS:
        raise ShapeError(f"coeffs: expected at most {N_COEFFS} entries, found {len(out)}")
    return out + [0.0] * (N_COEFFS - len(out))


def pad_coefficients(dist: Any, n: int = N_COEFFS) -> np.ndarray:
    """``(..., n)`` float64: coefficients ``(..., k)`` with trailing zeros (``k <= n``)."""
    d = np.asarray(dist, dtype=np.float64)
    if d.ndim == 0 or d.shape[-1] > n:
        raise ShapeError(f"dist: expected shape (..., k) with k <= {n}, found {d.shape}")
    out = np.zeros(d.shape[:-1] + (n,))
    out[..., : d.shape[-1]] = d
    return out


# ----------------------------------------------------------------------------- the models


def _pinhole(x, y, c, jacobian: bool):
    """OpenCV pinhole distortion of ``(x, y)``; ``c`` the 8 entries of :func:`_entries`.

    The rational denominator is evaluated only where some of k4..k6 is non-zero, the
    tangential terms only where p1 or p2 is (the same numbers: they would add exact zeros).

    Returns ``(xd, yd, radial, jac)`` with ``jac = (dxd/dx, dxd/dy, dyd/dx, dyd/dy)`` or None.
    """
    k1, k2, p1, p2, k3, k4, k5, k6 = c
    rational = not (_is_zero(k4) and _is_zero(k5) and _is_zero(k6))
    tangential = not (_is_zero(p1) and _is_zero(p2))
    r2 = x * x + y * y
    num = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))
    den = 1.0 + r2 * (k4 + r2 * (k5 + r2 * k6)) if rational else None
    radial = num / den if rational else num
    xd, yd = x * radial, y * radial
    if tangential or jacobian:
        xx2, yy2 = 2.0 * x * x, 2.0 * y * y
    if tangential:
        xd = xd + 2.0 * p1 * x * y + p2 * (r2 + xx2)
        yd = yd + p1 * (r2 + yy2) + 2.0 * p2 * x * y
    if not jacobian:
        return xd, yd, radial, None
    dnum = k1 + r2 * (2.0 * k2 + 3.0 * k3 * r2)
    if rational:
        dden = k4 + r2 * (2.0 * k5 + 3.0 * k6 * r2)
        dradial = (dnum * den - num * dden) / (den * den)  # d radial / d r2
    else:
        dradial = dnum
    j00 = radial + xx2 * dradial
    cross = 2.0 * x * y * dradial
    j11 = radial + yy2 * dradial
    if tangential:
        j00 = j00 + 2.0 * p1 * y + 6.0 * p2 * x
        cross = cross + 2.0 * p1 * x + 2.0 * p2 * y
        j11 = j11 + 6.0 * p1 * y + 2.0 * p2 * x
    return xd, yd, radial, (j00, cross, cross, j11)


def _theta_d(theta, k1, k2, k3, k4, slope: bool = True):
    """``theta_d = theta (1 + k1 t^2 + k2 t^4 + k3 t^6 + k4 t^8)`` and its derivative (None
    unless ``slope``)."""
    t2 = theta * theta
    theta_d = theta * (1.0 + t2 * (k1 + t2 * (k2 + t2 * (k3 + t2 * k4))))
    if not slope:
        return theta_d, None
    return theta_d, 1.0 + t2 * (3.0 * k1 + t2 * (5.0 * k2 + t2 * (7.0 * k3 + t2 * 9.0 * k4)))


def _fisheye(x, y, c, jacobian: bool):
    """OpenCV fisheye distortion of ``(x, y)`` (``c[:4]`` = k1..k4): ``(xd, yd, jac)``.

    The radius is taken from ``r^2`` masked to 1 where the radius is below
    :data:`_FISHEYE_SMALL_R`, so that no NaN gradient comes from ``|(0, 0)|``; NaN in either
    coordinate gives NaN in both (as the pinhole model does).
    """
    xp = _ns(x)
    r2 = x * x + y * y
    small = r2 <= _FISHEYE_SMALL_R * _FISHEYE_SMALL_R  # NaN is not small: it passes through
    rr = xp.where(small, 1.0, r2)  # r^2, 1 where small
    r = xp.sqrt(rr)
    theta_d, slope = _theta_d(xp.arctan(r), *c[:4], slope=jacobian)
    scale = xp.where(small, 1.0, theta_d / r)
    if not jacobian:
        return x * scale, y * scale, None
    # d scale / d r, divided by r: finite as r -> 0, where it multiplies x^2 or x y and so
    # vanishes.
    ds_r = xp.where(small, 0.0, (slope / (1.0 + r2) - scale) / rr)
    cross = ds_r * x * y
    return x * scale, y * scale, (scale + ds_r * x * x, cross, cross, scale + ds_r * y * y)


def _select(mask, a, b):
    """Entries of ``a`` where ``mask``, else of ``b`` (numpy or torch)."""
    return _ns(a).where(mask, a, b)


def distort(x, y, coeffs, fisheye=False, jacobian: bool = False):
    """The lens model on normalised undistorted coordinates (numpy or torch).

    Args:
        x, y: (...) normalised undistorted coordinates, unitless (numpy arrays or torch
            tensors of one shape; any dtype, kept).
        coeffs: up to 8 entries ``(k1, k2, p1, p2, k3, k4, k5, k6)``, each a number or an
            array/tensor broadcasting against ``x`` (see the module docstring); fisheye
            cameras read the first four as ``k1 .. k4``.
        fisheye: whether the model is fisheye: a bool, or a bool array/tensor broadcasting
            against ``x`` (per camera, e.g. (C, 1) for (C, N) points).
        jacobian: also return the 2 x 2 Jacobian ``d(xd, yd) / d(x, y)``.

    Returns:
        ``(xd, yd)`` (...) distorted normalised coordinates; with ``jacobian``
        ``(xd, yd, dxd/dx, dxd/dy, dyd/dx, dyd/dy)``.

    Rational and tangential terms are evaluated only where some coefficient of theirs is
    non-zero (or is a tensor that requires a gradient); differentiable in torch with respect
    to the coordinates and the coefficients (also at the origin of a fisheye lens).
    """
    c = _entries(coeffs)
    if isinstance(fisheye, (bool, np.bool_)):
        some, every = bool(fisheye), bool(fisheye)
    else:
        some, every = bool(fisheye.any()), bool(fisheye.all())
    if not some:
        xd, yd, _, jac = _pinhole(x, y, c, jacobian)
    elif every:
        xd, yd, jac = _fisheye(x, y, c, jacobian)
    else:
        pin = _pinhole(x, y, c, jacobian)
        fish = _fisheye(x, y, c, jacobian)
        xd, yd = _select(fisheye, fish[0], pin[0]), _select(fisheye, fish[1], pin[1])
        jac = None if not jacobian else tuple(_select(fisheye, f, p) for f, p in zip(fish[2], pin[3]))
    return (xd, yd) if not jacobian else (xd, yd, *jac)


# ----------------------------------------------------------------------------- checked numpy API


def model_coefficients(dist: Any, model: str) -> np.ndarray:
    """Distortion coefficients ``(k,)`` float64, checked against ``model`` (their number)."""
    if model not in CAMERA_MODELS:
        raise CalibrationError(f"model: expected one of {list(CAMERA_MODELS)}, found {model!r}")
    d = np.asarray(dist, dtype=np.float64)
    if d.ndim != 1 or d.size not in DIST_SIZES[model]:
        raise ShapeError(
            f"dist: expected {' or '.join(map(str, DIST_SIZES[model]))} coefficients "
            f"for model {model!r}, found shape {d.shape}"
        )
    return d


def distort_normalized(xy_n: Any, dist: Any, model: str = PINHOLE) -> np.ndarray:
    """Apply the lens model to normalised undistorted coordinates.

    Args:
        xy_n: (..., 2) float, ``(x/z, y/z)`` in the camera frame, unitless. NaN passes through.
        dist: (k,) distortion coefficients in OpenCV's order for ``model``.
        model: ``"pinhole"`` or ``"fisheye"``.

    Returns:
        (..., 2) float64 normalised distorted coordinates ``xy_d`` (unitless).
    """
    xy = last_axis("xy_n", xy_n, 2)
    d = model_coefficients(dist, model)
    with np.errstate(all="ignore"):
        xd, yd = distort(xy[..., 0], xy[..., 1], d, fisheye=model == FISHEYE)
    return np.stack([xd, yd], axis=-1)


def _undistort_pinhole(xd: np.ndarray, yd: np.ndarray, c: list) -> np.ndarray:
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
    fx, fy, _, jac = _pinhole(x, y, c, jacobian=True)
    jac = list(jac)  # updated in place below (the two cross terms may be one array)
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
        fx[moved], fy[moved], _, jm = _pinhole(x[moved], y[moved], c, jacobian=True)
        for j, jn in zip(jac, jm):
            j[moved] = jn
    _, _, radial, jac = _pinhole(x, y, c, jacobian=True)
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
        fxn, fyn, _, _ = _pinhole(xn, yn, c, jacobian=False)
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
    k = [float(v) for v in k]
    rd = np.hypot(xd, yd)
    top = np.pi / 2 - 1e-9
    theta = np.clip(rd, 0.0, top)
    tol = UNDISTORT_TOL * np.maximum(1.0, rd)
    for _ in range(UNDISTORT_MAX_ITER):
        theta_d, slope = _theta_d(theta, *k)
        res = theta_d - rd
        active = np.abs(res) > _POLISH_TOL * np.maximum(1.0, rd)
        if not active.any():
            break
        theta = np.where(active, np.clip(theta - res / slope, 0.0, top), theta)
    theta_d, slope = _theta_d(theta, *k)
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
    xy = last_axis("xy_d", xy_d, 2)
    d = model_coefficients(dist, model)
    flat = xy.reshape(-1, 2)
    xd, yd = flat[:, 0].copy(), flat[:, 1].copy()
    with np.errstate(all="ignore"):
        if model == PINHOLE and not np.any(d):
            out = flat.copy()
        elif model == PINHOLE:
            out = _undistort_pinhole(xd, yd, _entries(d))
        else:
            out = _undistort_fisheye(xd, yd, d)
    return out.reshape(xy.shape)


def undistort(xy_d: Any, dist: Any, model: str = PINHOLE, guess: Any = None,
              max_iter: int = 12) -> np.ndarray:
    """Fast inverse of the lens model for the well-behaved inside of an image.

    Pinhole: plain Newton (no line search) from ``guess`` (or from ``xy_d``) until every
    residual is below 1e-13; points that do not converge, or land past the fold of the lens
    model, fall back to :func:`undistort_normalized`, as does the fisheye model.

    Args:
        xy_d: (..., 2) normalised distorted coordinates, unitless.
        dist: (k,) distortion coefficients in OpenCV's order for ``model``.
        model: ``"pinhole"`` or ``"fisheye"``.
        guess: (..., 2) starting points (e.g. OpenCV's ``cv2.undistortPoints``), NaN where
            none; None: start at ``xy_d``.
        max_iter: most Newton steps.

    Returns:
        (..., 2) float64 normalised undistorted coordinates, NaN where there is no inverse.
    """
    xy_d = last_axis("xy_d", xy_d, 2)
    d = model_coefficients(dist, model)
    if model != PINHOLE:
        return undistort_normalized(xy_d, d, model)
    c = _entries(d)
    xd, yd = xy_d[..., 0], xy_d[..., 1]
    start = xy_d if guess is None else np.where(np.isfinite(guess), guess, xy_d)
    x, y = start[..., 0].copy(), start[..., 1].copy()
    with np.errstate(all="ignore"):
        for _ in range(max_iter):
            fx, fy, radial, (j00, j01, j10, j11) = _pinhole(x, y, c, jacobian=True)
            rx, ry = fx - xd, fy - yd
            res = np.hypot(rx, ry)
            finite = res[np.isfinite(res)]
            if finite.size and finite.max() < 1e-13:  # NaN residuals never converge
                break
            det = j00 * j11 - j01 * j10
            x = x - (j11 * rx - j01 * ry) / det
            y = y - (-j10 * rx + j00 * ry) / det
        else:
            fx, fy, radial, (j00, j01, j10, j11) = _pinhole(x, y, c, jacobian=True)
            res = np.hypot(fx - xd, fy - yd)
        bad = ~((res < 1e-12) & (radial > 0) & (j00 * j11 - j01 * j10 > 0))
    out = np.stack([x, y], axis=-1)
    if bad.any():
        out[bad] = undistort_normalized(xy_d[bad], d, PINHOLE)
    return out
