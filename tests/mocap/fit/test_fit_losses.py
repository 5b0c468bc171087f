"""The fitter's differentiable pieces: gradchecks of every loss term, of the rotations and of
the body layer; the torch projection against calibration's; priors and the monitor."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.autograd import gradcheck

from body_scenes import chumpy_pickle, synthetic_smpl
from calibration import Camera, Rig
from calibration.rotations import rotvec_to_rotmat
from mocap.body import keypoint_layer, keypoints_forward, load_body_model
from mocap.body.model import forward_kinematics, neutral_pose
from mocap.fit import (Monitor, Views, bone_length_loss, floor_loss, gmof, joint_limit_loss,
                       keypoint_loss, pose_prior_loss, pose_priors, project_points,
                       reprojection_loss, shape_prior_loss, smoothness_loss)

D = dict(dtype=torch.float64)


def _t(*shape, seed=0, scale=1.0, grad=True):
    g = torch.Generator().manual_seed(seed)
    return (scale * torch.randn(*shape, generator=g, **D)).requires_grad_(grad)


@pytest.fixture(scope="module")
def smpl(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    (root / "SMPL_NEUTRAL.pkl").write_bytes(chumpy_pickle(synthetic_smpl()[0]))
    return load_body_model("smpl", root, vertex_ids=synthetic_smpl()[1])


def _cameras(fisheye=False):
    K_a = np.array([[500.0, 0, 320], [0, 500, 240], [0, 0, 1]])
    cams = [Camera.look_at("a", (640, 480), K_a, [0.1, -0.05, 0.001, 0.002, 0.01],
                           [3.0, 0.5, 1.5], [0, 0, 1]),
            Camera.look_at("b", (640, 480), np.array([[450.0, 0, 310], [0, 450, 250], [0, 0, 1]]),
                           [-0.02, 0.01, 0.0005, -0.001] if fisheye else [0.0] * 5,
                           [-2.0, 2.5, 1.2], [0, 0, 1], model="fisheye" if fisheye else "pinhole")]
    return cams, Rig(tuple(cams)).arrays().to("cpu", D["dtype"])


def test_gradcheck_rotations_and_kinematics():
    assert gradcheck(rotvec_to_rotmat, (_t(4, 3),))
    assert gradcheck(rotvec_to_rotmat, (torch.zeros(2, 3, **D).requires_grad_(),))
    assert gradcheck(rotvec_to_rotmat, (_t(3, 3, scale=1e-4),))
    parents = (-1, 0, 1, 1, 3)
    fk = lambda J, r, t: forward_kinematics(parents, J, rotvec_to_rotmat(r), t)  # noqa: E731
    assert gradcheck(fk, (_t(5, 3), _t(2, 5, 3, seed=1), _t(2, 3, seed=2)))


def test_gradcheck_body_layer(smpl):
    layer = keypoint_layer(smpl, "coco17", dtype=torch.float64)
    betas = _t(10, scale=0.5)
    rv = _t(2, 22, 3, seed=3, scale=0.3)
    tr = _t(2, 3, seed=4)

    def f(b, r, t):
        return keypoints_forward(layer, b, rotvec_to_rotmat(r), t)[1]
    assert gradcheck(f, (betas, rv, tr), fast_mode=True)


def test_gradcheck_data_terms():
    pred, target = _t(3, 4, 3), _t(3, 4, 3, seed=1, grad=False)
    w = torch.rand(3, 4, **D)
    assert gradcheck(lambda p: keypoint_loss(p, target, w, 0.01, 0.1), (pred,))
    assert gradcheck(lambda s: gmof(s, 0.3), (_t(5, seed=2).abs().detach().requires_grad_(),))
    for fisheye in (False, True):
        _, arrays = _cameras(fisheye)
        X = (_t(2, 3, 3, seed=3, scale=0.3).detach() + torch.tensor([0, 0, 1.0], **D))
        views = Views(arrays, xy=_t(2, 2, 3, 2, seed=4, scale=50, grad=False) + 300,
                      conf=torch.rand(2, 2, 3, **D))
        assert gradcheck(lambda p: reprojection_loss(p, views, 4.0, 40.0),
                         (X.requires_grad_(),))


def test_gradcheck_prior_terms(smpl):
    frames, lo, hi, sig = (torch.as_tensor(a, **D) for a in pose_priors(smpl))
    mean = torch.as_tensor(neutral_pose(smpl)[1:], **D)
    pose = _t(2, 21, 3, scale=1.5)   # large: several limits are violated
    assert gradcheck(lambda p: joint_limit_loss(p, frames, lo, hi, 0.05), (pose,))
    assert gradcheck(lambda p: pose_prior_loss(p, frames, sig), (pose,))
    assert gradcheck(lambda p: joint_limit_loss(p + mean, frames, lo, hi, 0.05), (pose,))
    b = _t(6, scale=2.0)
    z, o = torch.zeros(6, **D), torch.ones(6, **D)
    assert gradcheck(lambda x: shape_prior_loss(x, 0.5 * o, 0.3 * o, z, o), (b,))
    lo_inf = torch.full((6,), -math.inf, **D)
    assert gradcheck(lambda x: shape_prior_loss(x, z, o, lo_inf, -lo_inf), (b,))


def test_gradcheck_temporal_and_floor_terms():
    joints = _t(5, 3, 3)
    glob = rotvec_to_rotmat(_t(5, 3, 3, seed=1, grad=False))
    assert gradcheck(lambda j, g: smoothness_loss(j, g, 30.0, 15.0, 150.0),
                     (joints, glob.requires_grad_()))
    kp = _t(4, 5, 3, seed=2, scale=0.05)
    sole = torch.tensor([1, 3])
    contact = torch.rand(3, 2, **D)
    assert gradcheck(lambda k: floor_loss(k, sole, torch.tensor([0.01, 0.02], **D), 0.0,
                                          0.01, contact), (kp,))
    bones = torch.tensor([[0, 1], [1, 2], [2, 4]])
    assert gradcheck(lambda k: bone_length_loss(k, bones, torch.tensor([0.3, 0.4, 0.2], **D),
                                                torch.tensor([1.0, 1.0, 0.0], **D), 0.01),
                     (_t(5, 3, seed=3),))


@pytest.mark.parametrize("fisheye", [False, True])
def test_projection_matches_calibration(fisheye):
    cams, arrays = _cameras(fisheye)
    X = np.random.default_rng(0).normal(0, 0.4, (6, 5, 3)) + [0, 0, 1.0]
    uv, z = project_points(torch.as_tensor(X, **D), arrays)
    for c, cam in enumerate(cams):
        ref, depth = cam.project(X, return_depth=True)
        np.testing.assert_allclose(uv[c].numpy(), ref, atol=1e-6)
        np.testing.assert_allclose(z[c].numpy(), depth, atol=1e-9)


def test_pose_priors_allow_the_neutral_and_rest_poses(smpl):
    frames, lo, hi, sigma = pose_priors(smpl)
    assert (sigma > 0).all() and (lo < hi).all()
    for pose in (np.zeros((21, 3)), neutral_pose(smpl)[1:]):
        theta = np.einsum("jab,ja->jb", frames, pose)
        assert ((theta >= lo - 1e-9) & (theta <= hi + 1e-9)).all()
    # a knee bent the wrong way (extended 30 degrees beyond straight) is outside its limits
    k = smpl.fitted.index("left_knee") - 1
    bad = np.zeros((21, 3))
    bad[k] = frames[k][:, 0] * math.radians(40)
    theta = np.einsum("jab,ja->jb", frames, bad)
    assert theta[k, 0] > hi[k, 0]


def test_monitor_stops_on_nan_and_convergence():
    m = Monitor(tolerance=1e-3, patience=2)
    assert m.update(10.0) is None and m.update(5.0) is None
    assert m.update(4.999) is None and m.update(4.998) == "converged"
    assert Monitor(1e-3).update(float("nan")) == "nan"
    assert Monitor(1e-3).update(float("inf")) == "nan"
