"""Rest poses rigs expect: the T- and A-pose skeletons carry the same motion (every joint where
it was), their arms and legs point where the pose says, a skinned mesh follows."""
from __future__ import annotations

import numpy as np
import pytest

from exporters import Skeleton, forward_kinematics
from exporters.errors import ExportError
from exporters.mesh import SkinnedMesh, linear_blend_skinning
from exporters.rest_pose import REST_POSES, body_axes, repose, repose_mesh

# canonical names, Z up, actor facing -Y (left = +X), arms hanging a little forward and out
CANONICAL = (
    ("pelvis", -1, (0.0, 0.0, 0.95)), ("spine1", 0, (0.0, 0.01, 0.1)), ("spine2", 1, (0.0, 0.0, 0.12)),
    ("spine3", 2, (0.0, 0.0, 0.12)), ("neck", 3, (0.0, -0.01, 0.15)), ("head", 4, (0.0, -0.02, 0.1)),
    ("left_collar", 3, (0.05, 0.0, 0.1)), ("left_shoulder", 6, (0.12, 0.01, 0.0)),
    ("left_elbow", 7, (0.05, -0.03, -0.27)), ("left_wrist", 8, (0.02, -0.06, -0.24)),
    ("right_collar", 3, (-0.05, 0.0, 0.1)), ("right_shoulder", 10, (-0.12, 0.01, 0.0)),
    ("right_elbow", 11, (-0.05, -0.03, -0.27)), ("right_wrist", 12, (-0.02, -0.06, -0.24)),
    ("left_hip", 0, (0.09, 0.0, -0.05)), ("left_knee", 14, (0.01, 0.02, -0.41)),
    ("left_ankle", 15, (0.0, 0.03, -0.41)), ("left_foot", 16, (0.0, -0.13, -0.07)),
    ("right_hip", 0, (-0.09, 0.0, -0.05)), ("right_knee", 18, (-0.01, 0.02, -0.41)),
    ("right_ankle", 19, (0.0, 0.03, -0.41)), ("right_foot", 20, (0.0, -0.13, -0.07)),
)


@pytest.fixture
def canonical() -> Skeleton:
    names, parents, offsets = zip(*CANONICAL, strict=True)
    return Skeleton(names, np.array(parents), np.array(offsets))


def _unit(v):
    return v / np.linalg.norm(v)


@pytest.mark.parametrize("kind", REST_POSES)
def test_the_motion_is_unchanged_in_the_world(canonical, random_motion, fk_positions, kind):
    motion = random_motion(canonical, 20)
    posed, posed_motion = repose(canonical, motion, kind)
    assert posed.joint_names == canonical.joint_names
    np.testing.assert_allclose(fk_positions(posed, posed_motion), fk_positions(canonical, motion), atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(posed.offsets, axis=1), np.linalg.norm(canonical.offsets, axis=1))


def test_t_and_a_pose_directions(canonical):
    axes = body_axes(canonical)
    np.testing.assert_allclose(axes, np.array([[1, 0, 0], [0, -1, 0], [0, 0, 1.0]]).T, atol=0.05)
    t, _ = repose(canonical, _still(canonical), "t")
    a, _ = repose(canonical, _still(canonical), "a")
    for bone in ("left_shoulder", "left_elbow", "left_wrist"):
        np.testing.assert_allclose(_unit(t.offsets[t.index(bone)]), axes[:, 0], atol=1e-12)
        np.testing.assert_allclose(_unit(t.offsets[t.index(bone.replace("left", "right"))]), -axes[:, 0], atol=1e-12)
    for bone in ("left_elbow", "left_wrist"):
        np.testing.assert_allclose(_unit(a.offsets[a.index(bone)]), (axes[:, 0] - axes[:, 2]) / np.sqrt(2), atol=1e-12)
    for pose in (t, a):
        for bone in ("left_knee", "left_ankle", "right_knee", "right_ankle"):
            np.testing.assert_allclose(_unit(pose.offsets[pose.index(bone)]), -axes[:, 2], atol=1e-12)
        # joints with several children (pelvis, chest) keep their offsets
        for bone in ("spine1", "left_hip", "neck", "left_collar"):
            np.testing.assert_array_equal(pose.offsets[pose.index(bone)], canonical.offsets[canonical.index(bone)])


def _still(skeleton):
    from exporters import Motion
    return Motion(np.tile(np.eye(3), (1, skeleton.num_joints, 1, 1)), skeleton.offsets[:1], 30.0)


def test_a_skinned_mesh_follows_the_rest_pose(canonical, random_motion):
    rng = np.random.default_rng(3)
    rest = canonical.rest_positions()
    owner = rng.integers(0, canonical.num_joints, size=200)
    vertices = rest[owner] + rng.normal(scale=0.03, size=(200, 3))
    weights = np.eye(canonical.num_joints)[owner]                # rigid: each vertex follows one joint
    mesh = SkinnedMesh(vertices, np.array([[0, 1, 2]]), weights)
    motion = random_motion(canonical, 5)
    posed, posed_motion = repose(canonical, motion, "t")
    moved = repose_mesh(mesh, canonical, "t")
    np.testing.assert_allclose(linear_blend_skinning(moved, posed, posed_motion),
                               linear_blend_skinning(mesh, canonical, motion), atol=1e-12)


def test_unknown_pose_and_skeleton_without_hips_are_errors(canonical):
    with pytest.raises(ExportError, match=r"rest pose: expected one of \['neutral', 't', 'a'\], found 'x'"):
        repose(canonical, _still(canonical), "x")
    lonely = Skeleton(("root", "arm"), np.array([-1, 0]), np.array([[0, 0, 1.0], [0.3, 0, 0]]))
    with pytest.raises(ExportError, match="expected left_hip, right_hip"):
        repose(lonely, _still(lonely), "t")
