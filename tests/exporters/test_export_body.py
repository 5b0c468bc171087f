"""A fitted body through the export stage: its skeleton, motion and skinned mesh
(``mocap.export.body_export``), the FBX and AMASS-style .npz written for a fitted person."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from export_body_scene import NAMES, synthetic_body, synthetic_model
from exporters import forward_kinematics
from exporters.amass import read_amass
from exporters.fbx import read_fbx
from exporters.mesh import linear_blend_skinning
from mocap.body import fitted_rotations, posed_vertices
from mocap.export import body_export, export_people
from mocap.settings import ExportSettings
from mocap.types import Points3D


@pytest.fixture(scope="module")
def model():
    return synthetic_model()


@pytest.fixture(scope="module")
def body(model):
    return synthetic_body(model)


def test_skeleton_motion_and_mesh_reproduce_the_body(model, body) -> None:
    skeleton, motion, mesh = body_export(model, body)
    assert skeleton.joint_names == model.fitted and motion.fps == body.fps
    fk = forward_kinematics(skeleton, motion.rotations, motion.root_translation)[0]
    np.testing.assert_allclose(fk, body.joints, atol=1e-10)
    expected = posed_vertices(model, torch.as_tensor(body.betas), torch.as_tensor(fitted_rotations(body)),
                              torch.as_tensor(body.trans)).numpy()
    np.testing.assert_allclose(linear_blend_skinning(mesh, skeleton, motion), expected, atol=1e-10)
    # the hands are not fitted: their skin moves with the wrists
    hand = model.weights.numpy()[:, NAMES.index("left_hand")] > 0
    assert np.all(mesh.weights[hand, skeleton.index("left_wrist")] > 0)


def test_a_fitted_person_is_exported_with_its_body(tmp_path: Path, model, body) -> None:
    frames = body.num_frames
    xyz = body.joints[:, None]                             # (F, 1, 22, 3) as keypoints of the fitted joints
    points = Points3D(xyz=xyz, conf=np.ones(xyz.shape[:3], np.float32), joint_names=model.fitted, fps=body.fps,
                      format="")
    # the body as fitted: no foot locking (on by default since issue 21)
    settings = ExportSettings(formats=("fbx", "npz", "c3d"), naming="smpl", foot_lock=False, floor_snap=False)
    people = export_people(points, tmp_path, settings, bodies={0: (model, body)})
    assert people[0]["files"] == ["person0.fbx", "person0.c3d", "person0_amass.npz"]
    scene = read_fbx(tmp_path / "person0.fbx")
    assert scene.skeleton.joint_names[:3] == ("Pelvis", "L_Hip", "R_Hip") and scene.motion.num_frames == frames
    _, _, mesh = body_export(model, body)
    np.testing.assert_allclose(scene.mesh.vertices, mesh.vertices, atol=1e-12)
    np.testing.assert_allclose(scene.mesh.weights, mesh.weights, atol=1e-12)
    fk = forward_kinematics(scene.skeleton, scene.motion.rotations, scene.motion.root_translation)[0]
    np.testing.assert_allclose(fk, body.joints, atol=1e-5)
    amass = read_amass(tmp_path / "person0_amass.npz")
    assert amass.model_type == "smpl" and amass.num_joints == 24 and amass.skeleton is None
    np.testing.assert_array_equal(amass.betas, body.betas)
    np.testing.assert_array_equal(amass.poses, body.poses.reshape(frames, -1))
    np.testing.assert_array_equal(amass.trans, body.trans)


def test_without_a_body_the_keypoint_skeleton_is_used(tmp_path: Path, model, body) -> None:
    """A stored SMPL body cannot be posed without the user's model files: keypoints instead."""
    (tmp_path / "person0").mkdir()
    body.save(tmp_path / "person0" / "body.npz")
    from mocap.keypoints import get_format
    fmt = get_format("smpl24")
    xyz = np.zeros((body.num_frames, 1, fmt.num_joints, 3))
    xyz[:, 0, [fmt.joint_names.index(n) for n in model.fitted]] = body.joints
    hands = [fmt.joint_names.index(n) for n in ("left_hand", "right_hand")]
    xyz[:, 0, hands] = xyz[:, 0, [fmt.joint_names.index("left_wrist"), fmt.joint_names.index("right_wrist")]] + 0.08
    points = Points3D(xyz=xyz, conf=np.ones(xyz.shape[:3], np.float32), joint_names=fmt.joint_names, fps=30.0,
                      format="smpl24")
    people = export_people(points, tmp_path, ExportSettings(formats=("fbx",)))
    assert people[0]["files"] == ["person0.fbx"]
    scene = read_fbx(tmp_path / "person0.fbx")
    assert scene.mesh is None and scene.skeleton.num_joints == 24
