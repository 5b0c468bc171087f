"""Anny as a BodyModel: our layer against Anny's own skinning, keypoint regressors for every
format, axes and shape. The first test to load Anny builds its cache (about a minute on a
fresh machine), so these are marked slow."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from calibration.rotations import rotvec_to_rotmat
from mocap.body import (body_axes, keypoint_layer, keypoints_forward, load_body_model,
                        posed_vertices, rest_height)
from mocap.body.model import (all_joint_positions, forward_kinematics, rest_joints,
                              shape_coefficients)
from mocap.keypoints import FORMATS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def anny():
    return load_body_model("anny")


@pytest.fixture(scope="module")
def anny_torch(anny):
    from mocap.body.anny_model import _build_anny
    return _build_anny()


def _pose(model, F=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    betas = 0.2 + 0.6 * torch.rand(model.num_betas, generator=g, dtype=torch.float64)
    rv = 0.4 * torch.randn(F, len(model.fitted), 3, generator=g, dtype=torch.float64)
    transl = torch.randn(F, 3, generator=g, dtype=torch.float64)
    return betas, rotvec_to_rotmat(rv), transl


def test_layer_matches_annys_own_skinning(anny, anny_torch):
    betas, R, transl = _pose(anny)
    verts = posed_vertices(anny, betas, R, transl)
    c = shape_coefficients(anny, betas)
    J_all = rest_joints(anny, c)
    idx = torch.as_tensor(anny.fitted_index)
    pos, glob = forward_kinematics(anny.fitted_parents, J_all[idx], R, transl)
    near = torch.as_tensor(anny.nearest_fitted)
    rest = anny_torch(phenotype_kwargs=betas[None])["rest_bone_poses"]
    W = torch.zeros(len(R), len(anny.joint_names), 4, 4, dtype=torch.float64)
    W[..., :3, :3] = glob[:, near] @ rest[..., :3, :3]
    W[..., :3, 3] = all_joint_positions(anny, J_all, pos, glob)
    W[..., 3, 3] = 1.0
    ref = anny_torch(pose_parameters=W, phenotype_kwargs=betas[None],
                     pose_parameterization="world")
    assert torch.allclose(verts, ref["vertices"], atol=1e-9)


def test_coco_keypoints_are_annys_regressor(anny, anny_torch):
    from anny import KeypointsRegressor
    betas, R, transl = _pose(anny, seed=1)
    layer = keypoint_layer(anny, "coco17", dtype=torch.float64)
    _, kp, _ = keypoints_forward(layer, betas, R, transl)
    reg = KeypointsRegressor.coco(anny_torch)
    ref = reg({"vertices": posed_vertices(anny, betas, R, transl)})
    for k, name in enumerate(FORMATS["coco17"].joint_names):
        assert torch.allclose(kp[:, k], ref[:, reg.labels.index(name)], atol=1e-9), name


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_format_has_a_regressor(anny, fmt):
    layer = keypoint_layer(anny, fmt, dtype=torch.float64)
    assert torch.allclose(layer.mass.sum(1), torch.ones(len(layer.keypoint_names),
                                                        dtype=torch.float64))
    betas = torch.as_tensor(anny.shape_mean)
    eye = torch.eye(3, dtype=torch.float64).expand(1, len(anny.fitted), 3, 3)
    _, kp, _ = keypoints_forward(layer, betas, eye, torch.zeros(1, 3, dtype=torch.float64))
    up = body_axes(anny)[:, 2]
    names = FORMATS[fmt].joint_names
    z = dict(zip(names, kp[0].numpy() @ up))
    if "nose" in z and "left_ankle" in z:           # a standing body: head above feet
        assert z["nose"] - z["left_ankle"] > 1.2


def test_axes_and_height(anny):
    np.testing.assert_array_equal(body_axes(anny), [[0, 1, 0], [-1, 0, 0], [0, 0, 1]])
    short = anny.shape_mean.copy()
    tall = anny.shape_mean.copy()
    h = anny.shape_names.index("height")
    short[h], tall[h] = 0.1, 0.9
    assert 1.3 < rest_height(anny, short) < rest_height(anny, tall) < 2.35


def test_blazepose_hand_points_are_the_knuckles(anny):
    """BlazePose's pinky, index and thumb points are the knuckles (MCP joints: finger5-1,
    finger2-1, finger1-2), not the fingertips: on a posed body each lies within 1 mm of the
    joint it stands for (posed through every joint of the tree, a path independent of the
    keypoint layer), 55-120 mm from the wrist for the pinky and index, and well away (over
    40 mm) from the fingertip of the same finger (regression: the truth of the rendered
    studio took the fingertips, 75-105 mm from what the detector marks)."""
    betas, R, transl = _pose(anny, seed=2)
    layer = keypoint_layer(anny, "blazepose33", dtype=torch.float64)
    pos, kp, glob = keypoints_forward(layer, betas, R, transl)
    J_all = all_joint_positions(anny, rest_joints(anny, shape_coefficients(anny, betas)),
                                pos, glob)
    verts = posed_vertices(anny, betas, R, transl)
    W = anny.weights.numpy()
    names = list(FORMATS["blazepose33"].joint_names)
    for side, s in (("left", "L"), ("right", "R")):
        wrist = kp[:, names.index(f"{side}_wrist")]
        for canon, bone, tip_bone in (("pinky", "finger5-1", "finger5-3"),
                                      ("index", "finger2-1", "finger2-3"),
                                      ("thumb", "finger1-2", "finger1-3")):
            p = kp[:, names.index(f"{side}_{canon}")]
            joint = J_all[:, anny.joint_names.index(f"{bone}.{s}")]
            assert torch.linalg.norm(p - joint, dim=-1).max() < 1e-3, (side, canon)
            own = np.flatnonzero(W.argmax(1) == anny.joint_names.index(f"{tip_bone}.{s}"))
            tip_d = torch.linalg.norm(verts[:, own] - p[:, None], dim=-1).amax(1)
            assert (tip_d > 0.04).all(), (side, canon, tip_d)
            if canon != "thumb":
                d = torch.linalg.norm(p - wrist, dim=-1)
                assert ((d > 0.055) & (d < 0.12)).all(), (side, canon, d)
