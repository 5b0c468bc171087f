"""A session's stored bodies for an export that runs alone: Anny bodies are loaded, an
SMPL-family body (which needs the user's model files) is left to the keypoint skeleton."""
from __future__ import annotations

import logging

import numpy as np

from mocap.app.bodies import stored_bodies, stored_body
from mocap.body import BodyMotion
from mocap.types import Points3D


def _body(kind: str, frames: int = 3) -> BodyMotion:
    joints = ("pelvis", "left_hip")
    return BodyMotion(surface_model_type=kind, gender="neutral", joint_names=joints,
                      fitted_joints=joints, shape_names=("b0",), betas=np.zeros(1),
                      poses=np.zeros((frames, 2, 3)), trans=np.zeros((frames, 3)), fps=30.0,
                      joints=np.zeros((frames, 2, 3)), keypoints=np.zeros((frames, 0, 3)),
                      keypoint_format="", keypoint_names=(), observed=np.ones(frames, bool))


def _points(seen: "list[bool]") -> Points3D:
    xyz = np.zeros((3, len(seen), 2, 3))
    xyz[:, [not s for s in seen]] = np.nan
    return Points3D(xyz=xyz, conf=np.ones(xyz.shape[:3], np.float32),
                    joint_names=("pelvis", "left_hip"), fps=30.0)


def test_an_smpl_body_is_not_loaded_and_says_why(tmp_path, caplog):
    (tmp_path / "person0").mkdir()
    _body("smpl").save(tmp_path / "person0" / "body.npz")
    with caplog.at_level(logging.WARNING, logger="mocap.app.bodies"):
        assert stored_body(tmp_path, 0) is None
    assert "needs the user's model files; person 0 is exported from the keypoints" in caplog.text
    assert stored_body(tmp_path, 1) is None                     # no file
    assert stored_bodies(tmp_path, _points([True, True])) == {}


def test_an_anny_body_is_loaded_for_the_people_seen(tmp_path):
    for p in (0, 1):
        (tmp_path / f"person{p}").mkdir()
        _body("anny").save(tmp_path / f"person{p}" / "body.npz")
    bodies = stored_bodies(tmp_path, _points([False, True]))
    assert list(bodies) == [1]
    model, body = bodies[1]
    assert model.kind == "anny" and body.surface_model_type == "anny"
    np.testing.assert_array_equal(body.poses, np.zeros((3, 2, 3)))
