"""The one lens model (calibration.lens): numpy and torch agree (float64), the Jacobian
matches finite differences, torch gradients pass gradcheck (the fisheye origin included),
per-camera coefficients broadcast, the fast inverse agrees with the careful one, and the
package imports without torch."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest

from calibration.lens import (
    distort,
    distort_normalized,
    pad_coefficients,
    undistort,
    undistort_normalized,
)

PINHOLE_4 = [-0.30, 0.09, 0.0012, -0.0008]
PINHOLE_5 = [-0.30, 0.09, 0.0012, -0.0008, -0.012]
PINHOLE_8 = [-0.30, 0.09, 0.0012, -0.0008, -0.012, 0.02, 0.004, 0.001]
RADIAL_ONLY = [-0.30, 0.09, 0.0, 0.0, -0.012]
FISHEYE = [0.08, -0.02, 0.004, -0.0006]
LENSES = [(PINHOLE_4, False), (PINHOLE_5, False), (PINHOLE_8, False), (RADIAL_ONLY, False),
          (FISHEYE, True)]


def _points(n: int = 400, radius: float = 0.8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(-radius, radius, (2, n))
    x[0] = y[0] = 0.0  # the optical axis
    return x, y


@pytest.mark.parametrize("coeffs, fisheye", LENSES)
def test_numpy_and_torch_agree(coeffs, fisheye):
    torch = pytest.importorskip("torch")
    x, y = _points()
    ref = distort(x, y, coeffs, fisheye=fisheye, jacobian=True)
    got = distort(torch.tensor(x), torch.tensor(y), coeffs, fisheye=fisheye, jacobian=True)
    assert len(ref) == len(got) == 6
    for r, g in zip(ref, got):
        assert isinstance(g, torch.Tensor) and g.dtype == torch.float64
        np.testing.assert_allclose(g.numpy(), r, rtol=0, atol=1e-15)


@pytest.mark.parametrize("coeffs, fisheye", LENSES)
def test_matches_the_checked_numpy_api(coeffs, fisheye):
    x, y = _points()
    xd, yd = distort(x, y, coeffs, fisheye=fisheye)
    ref = distort_normalized(np.stack([x, y], -1), coeffs, "fisheye" if fisheye else "pinhole")
    np.testing.assert_array_equal(np.stack([xd, yd], -1), ref)


@pytest.mark.parametrize("coeffs, fisheye", LENSES)
def test_jacobian_matches_finite_differences(coeffs, fisheye):
    x, y = _points(radius=0.7)
    x[0] = y[0] = 1e-3  # central differences across the fisheye's small-radius limit are not
    _, _, *jac = distort(x, y, coeffs, fisheye=fisheye, jacobian=True)
    h = 1e-6
    for k, (dx, dy) in enumerate([(h, 0.0), (0.0, h)]):
        xp, yp = distort(x + dx, y + dy, coeffs, fisheye=fisheye)
        xm, ym = distort(x - dx, y - dy, coeffs, fisheye=fisheye)
        np.testing.assert_allclose(jac[k], (xp - xm) / (2 * h), rtol=0, atol=1e-8)      # dxd/d.
        np.testing.assert_allclose(jac[2 + k], (yp - ym) / (2 * h), rtol=0, atol=1e-8)  # dyd/d.


@pytest.mark.parametrize("coeffs, fisheye", LENSES)
def test_torch_gradcheck(coeffs, fisheye):
    torch = pytest.importorskip("torch")
    x, y = _points(20, seed=3)
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.tensor(y, requires_grad=True)
    ct = torch.tensor(pad_coefficients(coeffs), requires_grad=True)

    def f(xt, yt, ct):
        return distort(xt, yt, list(ct.unbind()), fisheye=fisheye, jacobian=True)

    assert torch.autograd.gradcheck(f, (xt, yt, ct))


def test_fisheye_gradient_is_finite_on_the_axis():
    torch = pytest.importorskip("torch")
    x = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    y = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    xd, yd = distort(x, y, FISHEYE, fisheye=True)
    (xd.sum() + 2 * yd.sum()).backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(y.grad).all()
    np.testing.assert_allclose(x.grad.numpy(), 1.0)  # the lens is the identity at the centre
    np.testing.assert_allclose(y.grad.numpy(), 2.0)


def test_per_camera_columns_and_fisheye_mask():
    """(C, 8) coefficients as (8, C, 1) rows and a (C, 1) fisheye mask against (C, N) points:
    each camera as if alone, in numpy and torch."""
    torch = pytest.importorskip("torch")
    lenses = [(PINHOLE_5, False), (FISHEYE, True), (PINHOLE_8, False)]
    dist = pad_coefficients(np.stack([pad_coefficients(d) for d, _ in lenses]))
    mask = np.array([f for _, f in lenses])[:, None]
    rng = np.random.default_rng(2)
    x, y = rng.uniform(-0.7, 0.7, (2, 3, 50))
    got = distort(x, y, dist.T[:, :, None], fisheye=mask, jacobian=True)
    got_t = distort(torch.tensor(x), torch.tensor(y), torch.tensor(dist.T[:, :, None]),
                    fisheye=torch.tensor(mask), jacobian=True)
    for c, (d, f) in enumerate(lenses):
        alone = distort(x[c], y[c], d, fisheye=f, jacobian=True)
        for a, g, gt in zip(alone, got, got_t):
            np.testing.assert_allclose(g[c], a, rtol=0, atol=1e-15)
            np.testing.assert_allclose(gt[c].numpy(), a, rtol=0, atol=1e-15)


def test_float_coefficients_keep_a_tensor_a_tensor():
    torch = pytest.importorskip("torch")
    x = torch.linspace(-0.5, 0.5, 11, dtype=torch.float32)
    xd, yd = distort(x, x, np.asarray(PINHOLE_8))  # numpy scalars inside
    assert isinstance(xd, torch.Tensor) and xd.dtype == torch.float32


@pytest.mark.parametrize("coeffs", [PINHOLE_5, PINHOLE_8, RADIAL_ONLY])
def test_fast_undistort_agrees_with_the_careful_solver(coeffs):
    rng = np.random.default_rng(4)
    xy = rng.uniform(-0.6, 0.6, (500, 2))
    xy_d = distort_normalized(xy, coeffs)
    careful = undistort_normalized(xy_d, coeffs)
    np.testing.assert_allclose(undistort(xy_d, coeffs), careful, rtol=0, atol=1e-12)
    guess = xy_d + rng.normal(0, 1e-3, xy_d.shape)
    guess[::7] = np.nan  # no guess there: start at the distorted point
    np.testing.assert_allclose(undistort(xy_d, coeffs, guess=guess), careful, rtol=0, atol=1e-12)
    np.testing.assert_allclose(careful, xy, rtol=0, atol=1e-11)


def test_fast_undistort_is_nan_beyond_the_fold_and_passes_fisheye_on():
    """k1 = -0.3 alone: the distorted radius peaks at about 0.7027 (see test_calib_undistort)."""
    fold = [-0.3, 0.0, 0.0, 0.0]
    xy_d = np.array([[0.75, 0.0], [0.0, -2.0], [np.nan, 0.1], [0.3, 0.1]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = undistort(xy_d, fold)
    np.testing.assert_array_equal(np.isnan(out[:, 0]), [True, True, True, False])
    np.testing.assert_allclose(out, undistort_normalized(xy_d, fold), rtol=0, atol=1e-12)
    xy_d = distort_normalized(np.array([[0.4, -0.3]]), FISHEYE, "fisheye")
    np.testing.assert_array_equal(undistort(xy_d, FISHEYE, "fisheye"),
                                  undistort_normalized(xy_d, FISHEYE, "fisheye"))


def test_pad_coefficients():
    np.testing.assert_array_equal(pad_coefficients([1.0, 2.0, 3.0, 4.0]), [1, 2, 3, 4, 0, 0, 0, 0])
    assert pad_coefficients(np.zeros((3, 5))).shape == (3, 8)
    assert pad_coefficients(np.zeros(0)).shape == (8,)


def test_calibration_imports_without_torch():
    code = ("import sys, calibration, calibration.lens, calibration.rotations, calibration.rig, "
            "calibration.bundle, calibration.calibrate, calibration.people, calibration.render; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
