"""Rotations (calibration.rotations): Rodrigues round trips, numpy and torch agree (float64,
the angles 0 and near pi included), torch gradients pass gradcheck, weighted Kabsch recovers
a known rotation, shapes are named."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from calibration import ShapeError
from calibration.rotations import kabsch, rotation_defect, rotmat_to_rotvec, rotvec_to_rotmat


def _rotvecs(n: int = 200, seed: int = 0) -> np.ndarray:
    """(n, 3) rotation vectors: random angles in [0, pi), plus zero, tiny and near-pi ones."""
    rng = np.random.default_rng(seed)
    axis = rng.normal(size=(n, 3))
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    angle = rng.uniform(0, np.pi - 1e-3, n)
    angle[:4] = [0.0, 1e-9, 1e-4, np.pi - 1e-6]
    return axis * angle[:, None]


def test_numpy_round_trip_and_opencv():
    rv = _rotvecs()
    R = rotvec_to_rotmat(rv)
    assert R.shape == (200, 3, 3)
    np.testing.assert_allclose(rotmat_to_rotvec(R), rv, rtol=0, atol=1e-9)
    for r, m in zip(rv[:20], R[:20]):
        np.testing.assert_allclose(m, cv2.Rodrigues(r)[0], rtol=0, atol=1e-12)
    off, det = rotation_defect(R[5])
    assert off < 1e-15 and abs(det - 1) < 1e-15


def test_batch_shapes_are_kept():
    rv = _rotvecs(24).reshape(2, 3, 4, 3)
    assert rotvec_to_rotmat(rv).shape == (2, 3, 4, 3, 3)
    assert rotmat_to_rotvec(rotvec_to_rotmat(rv)).shape == (2, 3, 4, 3)
    assert rotvec_to_rotmat(np.zeros(3)).shape == (3, 3)


def test_numpy_path_is_scipys_algorithm_without_scipy():
    """The numpy path is scipy's Rotation written out (so loading a calibration imports no
    scipy): matrices from vectors bit for bit, vectors from matrices to 1e-15 (numpy's and the
    C library's sin and atan2 may differ in the last bit), non-orthonormal matrices projected
    onto the nearest rotation as scipy does."""
    from scipy.spatial.transform import Rotation
    rng = np.random.default_rng(1)
    rv = np.concatenate([_rotvecs(), rng.normal(size=(300, 3)) * 1e-3, [[np.pi, 0, 0]]])
    R = Rotation.from_rotvec(rv).as_matrix()
    assert np.array_equal(rotvec_to_rotmat(rv), R)
    np.testing.assert_allclose(rotmat_to_rotvec(R), Rotation.from_matrix(R).as_rotvec(),
                               rtol=0, atol=1e-15)
    skew = R[:50] + rng.normal(size=(50, 3, 3)) * 1e-6
    np.testing.assert_allclose(rotmat_to_rotvec(skew), Rotation.from_matrix(skew).as_rotvec(),
                               rtol=0, atol=1e-14)


def test_importing_calibration_imports_no_scipy():
    import subprocess
    import sys
    code = "import sys, calibration; print(sorted(m for m in sys.modules if m.startswith('scipy')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_torch_agrees_with_numpy():
    torch = pytest.importorskip("torch")
    rv = _rotvecs()
    R = rotvec_to_rotmat(rv)
    Rt = rotvec_to_rotmat(torch.tensor(rv))
    assert isinstance(Rt, torch.Tensor) and Rt.dtype == torch.float64
    np.testing.assert_allclose(Rt.numpy(), R, rtol=0, atol=1e-15)
    back = rotmat_to_rotvec(torch.tensor(R))
    np.testing.assert_allclose(back.numpy(), rotmat_to_rotvec(R), rtol=0, atol=1e-12)
    assert rotvec_to_rotmat(torch.zeros(5, 3, dtype=torch.float32)).dtype == torch.float32


def test_torch_gradcheck():
    torch = pytest.importorskip("torch")
    gradcheck = torch.autograd.gradcheck
    rv = torch.tensor(_rotvecs(6, seed=1)[4:], requires_grad=True)
    assert gradcheck(rotvec_to_rotmat, (rv,))
    assert gradcheck(rotvec_to_rotmat, (torch.zeros(2, 3, dtype=torch.float64, requires_grad=True),))
    assert gradcheck(rotvec_to_rotmat, (torch.full((2, 3), 1e-4, dtype=torch.float64, requires_grad=True),))
    rng = np.random.default_rng(2)
    for scale in (1.0, 1e-4):  # a generic rotation, and one near the identity
        R = torch.tensor(rotvec_to_rotmat(scale * rng.normal(size=(3, 3))), requires_grad=True)
        assert gradcheck(rotmat_to_rotvec, (R,))
    eye = torch.eye(3, dtype=torch.float64).repeat(2, 1, 1).requires_grad_()
    rotmat_to_rotvec(eye).sum().backward()
    assert torch.isfinite(eye.grad).all()


def _kabsch_scene(seed: int = 3):
    rng = np.random.default_rng(seed)
    src = rng.normal(size=(15, 3))
    R_true = rotvec_to_rotmat(_rotvecs(8, seed)[4:])  # (4, 3, 3), generic angles
    t = rng.normal(size=(4, 1, 3))
    dst = np.einsum("fab,kb->fka", R_true, src) + t
    return rng, src, R_true, dst


def test_kabsch_recovers_a_rotation_numpy_and_torch():
    torch = pytest.importorskip("torch")
    rng, src, R_true, dst = _kabsch_scene()
    np.testing.assert_allclose(kabsch(src, dst), R_true, rtol=0, atol=1e-12)
    w = rng.uniform(0.1, 1.0, (4, 15))
    np.testing.assert_allclose(kabsch(src, dst, w), R_true, rtol=0, atol=1e-12)
    got = kabsch(torch.tensor(src), torch.tensor(dst), torch.tensor(w))
    np.testing.assert_allclose(got.numpy(), R_true, rtol=0, atol=1e-12)
    np.testing.assert_allclose(kabsch(torch.tensor(src), torch.tensor(dst)).numpy(), R_true, atol=1e-12)


def test_kabsch_weights_drop_outliers_and_never_reflect():
    rng, src, R_true, dst = _kabsch_scene(4)
    bad = dst.copy()
    bad[:, :3] += rng.normal(0, 5.0, (4, 3, 3))
    w = np.ones((4, 15))
    w[:, :3] = 0.0
    np.testing.assert_allclose(kabsch(src, bad, w), R_true, rtol=0, atol=1e-12)
    mirrored = dst * np.array([1.0, 1.0, -1.0])
    R = kabsch(src, mirrored)
    np.testing.assert_allclose(np.linalg.det(R), 1.0, atol=1e-12)


def test_kabsch_gradcheck():
    torch = pytest.importorskip("torch")
    _, src, _, dst = _kabsch_scene(5)
    d = torch.tensor(dst[:2] + 0.01, requires_grad=True)
    w = torch.tensor(np.linspace(0.5, 1.5, 15)[None].repeat(2, 0), requires_grad=True)
    assert torch.autograd.gradcheck(lambda d, w: kabsch(torch.tensor(src), d, w), (d, w))


def test_bad_shapes_are_named():
    with pytest.raises(ShapeError, match=r"rvec: expected shape \(\.\.\., 3\), found \(4, 2\)"):
        rotvec_to_rotmat(np.zeros((4, 2)))
    with pytest.raises(ShapeError, match=r"R: expected shape \(\.\.\., 3, 3\), found \(3, 4\)"):
        rotmat_to_rotvec(np.zeros((3, 4)))
    torch = pytest.importorskip("torch")
    with pytest.raises(ShapeError, match=r"rvec: expected shape \(\.\.\., 3\), found \(4, 2\)"):
        rotvec_to_rotmat(torch.zeros(4, 2))
