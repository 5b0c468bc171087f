"""The fit's frames-last forward pass (:mod:`mocap.body.planar`) against the usual layout:
the same rotations, joints, global rotations and keypoints (float64, to rounding), and
gradients through it."""
from __future__ import annotations

import pytest
import torch
from torch.autograd import gradcheck

from calibration.rotations import rotvec_to_rotmat
from mocap.body import keypoint_layer, load_body_model
from mocap.body.kinematics import forward_kinematics
from mocap.body.planar import (from_planar, forward_kinematics_planar, matmul_planar,
                               posed_keypoints_planar, rotvec_to_rotmat_planar, to_planar)
from mocap.body.regressors import posed_keypoints, shape_moments

D = dict(dtype=torch.float64)


def _t(*shape, seed=0, scale=1.0, grad=False):
    g = torch.Generator().manual_seed(seed)
    return (scale * torch.randn(*shape, generator=g, **D)).requires_grad_(grad)


def test_layout_round_trip():
    x = _t(5, 4, 3, 3)
    p = to_planar(x, 2)
    assert p.shape == (3, 3, 4, 5) and p.is_contiguous()
    assert torch.equal(p[1, 2, 3], x[:, 3, 1, 2])
    assert torch.equal(from_planar(p, 2), x)
    assert torch.equal(from_planar(to_planar(x[..., 0])), x[..., 0])


def test_rodrigues_matches_the_usual_layout_small_angles_included():
    r = torch.cat([_t(50, 3), _t(20, 3, seed=1, scale=1e-5), torch.zeros(3, 3, **D)])
    ref = rotvec_to_rotmat(r)
    got = from_planar(rotvec_to_rotmat_planar(to_planar(r)), 2)
    torch.testing.assert_close(got, ref, rtol=0, atol=1e-14)
    assert gradcheck(lambda v: rotvec_to_rotmat_planar(v), (_t(3, 4, grad=True),))
    assert gradcheck(lambda v: rotvec_to_rotmat_planar(v), (_t(3, 2, scale=1e-4, grad=True),))
    assert gradcheck(lambda v: rotvec_to_rotmat_planar(v),
                     (torch.zeros(3, 2, **D).requires_grad_(),))


def test_products_match_matmul():
    A, B = rotvec_to_rotmat(_t(6, 3)), rotvec_to_rotmat(_t(6, 3, seed=1))
    got = from_planar(matmul_planar(to_planar(A, 2), to_planar(B, 2)), 2)
    torch.testing.assert_close(got, A @ B, rtol=0, atol=1e-14)


def test_kinematics_matches_the_usual_layout_with_gradients():
    parents = (-1, 0, 1, 1, 3, 0, 5)
    J, R, t = _t(7, 3), rotvec_to_rotmat(_t(4, 7, 3, seed=1)), _t(4, 3, seed=2)
    pos, glob = forward_kinematics(parents, J, R, t)
    pp, gp = forward_kinematics_planar(parents, J, to_planar(R, 2), to_planar(t))
    torch.testing.assert_close(from_planar(pp), pos, rtol=0, atol=1e-13)
    torch.testing.assert_close(from_planar(gp, 2), glob, rtol=0, atol=1e-13)

    def fk(J, r, t):
        pos, glob = forward_kinematics_planar(parents, J, rotvec_to_rotmat_planar(r), t)
        return pos, glob
    assert gradcheck(fk, (_t(7, 3, grad=True), _t(3, 7, 2, seed=3, grad=True),
                          _t(3, 2, seed=4, grad=True)))


@pytest.mark.parametrize("fmt", ["body25", "blazepose33"])
def test_anny_keypoints_match_the_usual_layout(fmt):
    layer = keypoint_layer(load_body_model("anny"), fmt, dtype=torch.float64)
    Jb = layer.num_joints
    J, Q = shape_moments(layer, _t(len(layer.model.shape_names), scale=0.3))
    R, t = rotvec_to_rotmat(_t(5, Jb, 3, seed=1, scale=0.5)), _t(5, 3, seed=2)
    pos, kp, glob = posed_keypoints(layer, J, Q, R, t)
    pp, kpp, gp = posed_keypoints_planar(layer.mass, layer.parents, J, Q, to_planar(R, 2),
                                         to_planar(t))
    torch.testing.assert_close(from_planar(kpp), kp, rtol=0, atol=1e-12)
    torch.testing.assert_close(from_planar(pp), pos, rtol=0, atol=1e-12)
    torch.testing.assert_close(from_planar(gp, 2), glob, rtol=0, atol=1e-12)
