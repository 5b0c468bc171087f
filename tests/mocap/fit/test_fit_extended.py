"""The shape from the frames closest to standing straight: which frames count as extended,
bone lengths measured there, and the fit of a deep squat (where the analytic start of the
pose is poor in the deep frames, so the shape used to shrink to make up for it)."""
from __future__ import annotations


import numpy as np
import pytest
import torch

from body_scenes import write_smpl_folder
from mocap.body import keypoint_layer, load_body_model, rest_height
from mocap.fit import (DEFAULT_STAGES, extended_frames, extension_scores, fit_sequence,
                       median_bone_lengths, prepare_data, torch_threads)
from mocap.simulate.bodymodel import BodyActor, animate_body, body_keypoints


@pytest.fixture(scope="module")
def smpl(tmp_path_factory):
    return load_body_model("smpl", write_smpl_folder(tmp_path_factory.mktemp("models")))


def _stick(knee_bend_rad: float, arm_raise_rad: float, lean_rad: float) -> dict:
    """Canonical keypoints of a stick figure (Z up, facing +X), metres."""
    s, c = np.sin, np.cos
    p = {}
    for side, y in (("left", 0.1), ("right", -0.1)):
        hip = np.array([0.0, y, 1.0])
        knee = hip + 0.45 * np.array([0.0, 0.0, -1.0])
        ankle = knee + 0.45 * np.array([-s(knee_bend_rad), 0.0, -c(knee_bend_rad)])
        sh = np.array([0.6 * s(lean_rad), 1.8 * y, 1.0 + 0.6 * c(lean_rad)])
        el = sh + 0.3 * np.array([s(arm_raise_rad), 0.0, -c(arm_raise_rad)])
        p.update({f"{side}_hip": hip, f"{side}_knee": knee, f"{side}_ankle": ankle,
                  f"{side}_shoulder": sh, f"{side}_elbow": el})
    return p


def test_extension_scores_sum_the_bends():
    names = list(_stick(0, 0, 0))
    poses = [_stick(0, 0, 0), _stick(np.pi / 2, 0, 0), _stick(0, np.pi / 2, 0),
             _stick(0, 0, np.pi / 6)]
    xyz = np.stack([[p[n] for n in names] for p in poses])
    np.testing.assert_allclose(extension_scores(xyz, names),
                               [0.0, np.pi, np.pi, np.pi / 6], atol=1e-9)
    xyz[1, names.index("left_knee")] = np.nan
    assert np.isnan(extension_scores(xyz, names)[1])
    assert np.isnan(extension_scores(xyz[:, 1:], names[1:])).all()   # a format without hips


def test_extended_frames_are_the_straightest():
    names = list(_stick(0, 0, 0))
    bends = np.linspace(0.0, 1.5, 20)[np.random.default_rng(0).permutation(20)]
    xyz = np.stack([[_stick(b, 0, 0)[n] for n in names] for b in bends])
    keep = extended_frames(xyz, names)
    assert keep.sum() == 5 and set(np.flatnonzero(keep)) == set(np.argsort(bends)[:5])
    xyz[:18] = np.nan                                       # too few frames to score
    assert extended_frames(xyz, names).all()


def test_bone_lengths_come_from_the_extended_frames():
    # a "bone" that shortens when the body bends (a chord across a joint): the extended
    # frames give its standing length, all frames a median of the bent ones
    F = 30
    xyz = np.zeros((F, 2, 3))
    xyz[:, 1, 2] = np.r_[np.full(8, 0.60), np.full(F - 8, 0.55)]
    conf = np.ones((F, 2))
    extended = np.r_[np.ones(8, bool), np.zeros(F - 8, bool)]
    bones = np.array([[0, 1]])
    assert median_bone_lengths(xyz, conf, bones)[0][0] == pytest.approx(0.55)
    assert median_bone_lengths(xyz, conf, bones, extended)[0][0] == pytest.approx(0.60)
    conf[:6, 1] = 0.0                                        # 2 seen extended frames: all
    assert median_bone_lengths(xyz, conf, bones, extended)[0][0] == pytest.approx(0.55)


def test_shape_orient_sees_only_the_extended_frames(smpl):
    assert [s.extended_only for s in DEFAULT_STAGES] == [False, True, False, False]
    anim = animate_body(smpl, BodyActor("squat", seed=2), 45, 30.0)
    kp = body_keypoints(smpl, anim, "body25")
    layer = keypoint_layer(smpl, "body25", dtype=torch.float64)
    data = prepare_data(layer, kp, np.ones(kp.shape[:2]), 30.0)
    names = list(layer.keypoint_names)
    hip, knee, ankle = (names.index(f"left_{n}") for n in ("hip", "knee", "ankle"))
    u, v = kp[:, knee] - kp[:, hip], kp[:, ankle] - kp[:, knee]
    bend = np.arccos((u * v).sum(-1) / np.linalg.norm(u, axis=-1) / np.linalg.norm(v, axis=-1))
    ext = data.extended.numpy().astype(bool)
    assert ext.sum() == 12 and bend[ext].max() < np.median(bend)


def test_noise_free_deep_squat_keeps_its_height(smpl):
    """From noise-free keypoints a deep squat's shape keeps the true height (the shape is
    started on the standing frames only)."""
    anim = animate_body(smpl, BodyActor("squat", seed=4), 60, 30.0)
    kp = body_keypoints(smpl, anim, "body25")
    with torch_threads(1):
        layer = keypoint_layer(smpl, "body25", dtype=torch.float64)
        res = fit_sequence(layer, prepare_data(layer, kp, np.ones(kp.shape[:2]), 30.0))
    assert abs(rest_height(smpl, res.betas) - rest_height(smpl, anim["betas"])) < 0.01
