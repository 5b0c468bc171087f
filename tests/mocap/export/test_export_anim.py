"""The export stage with foot contacts and locking: contacts.csv per person, feet locked in
BVH/FBX by default and not in TRC, ``[export] foot_lock = false`` gives the measured motion."""
from __future__ import annotations

import numpy as np
import pytest
from anim_scenes import planted_walk

from exporters import forward_kinematics, read_bvh
from exporters.trc import read_trc
from mocap.export import export_people
from mocap.export.animation import despike_rotations
from mocap.export.contacts import read_contacts_csv
from mocap.export.skeleton import keypoint_skeleton
from mocap.settings import ExportSettings
from mocap.types import Points3D


def _points() -> Points3D:
    xyz, _, names, fps = planted_walk(4)
    return Points3D(xyz=xyz[:, None], conf=np.ones((len(xyz), 1, len(names)), np.float32), joint_names=names,
                    fps=fps, format="body25")


def _bvh_joints(path, names) -> np.ndarray:
    skeleton, motion = read_bvh(path)
    return forward_kinematics(skeleton, motion.rotations, motion.root_translation)[0][
        :, [skeleton.index(n) for n in names]]


def test_contacts_csv_and_locked_bvh(tmp_path):
    points = _points()
    people = export_people(points, tmp_path / "on", ExportSettings(formats=("bvh", "trc")))
    export_people(points, tmp_path / "off", ExportSettings(formats=("bvh",), foot_lock=False, floor_snap=False))
    assert people[0]["contacts"] == "person0/contacts.csv"
    flags = read_contacts_csv(tmp_path / "on" / "person0" / "contacts.csv")
    assert flags.shape == (len(points.xyz), 6) and flags[:, 2].any() and flags[:, 5].any()
    skeleton, motion = keypoint_skeleton(points.xyz[:, 0], "body25", points.fps)
    motion = despike_rotations(motion)          # one-frame flips go whatever the settings
    measured = forward_kinematics(skeleton, motion.rotations, motion.root_translation)[0]
    off = _bvh_joints(tmp_path / "off" / "person0.bvh", skeleton.joint_names)
    on = _bvh_joints(tmp_path / "on" / "person0.bvh", skeleton.joint_names)
    assert np.abs(off - measured).max() < 1e-5          # foot_lock off: the measured motion (despiked)
    assert np.abs(on - measured).max() > 1e-3           # on: the feet moved ...
    assert on[..., 2].min() > -1e-4 > measured[..., 2].min()   # ... none under the floor
    np.testing.assert_allclose(read_trc(tmp_path / "on" / "person0.trc").xyz, points.xyz[:, 0], atol=1e-6)


def test_rest_pose_in_place_and_continuity(tmp_path, caplog):
    from exporters import Motion
    from mocap.export.animation import check_continuity, rest_pose_of, rotation_steps_deg

    assert [rest_pose_of(ExportSettings(naming=n)) for n in ("canonical", "mixamo", "unreal", "metahuman")] == \
        ["neutral", "t", "a", "a"]
    assert rest_pose_of(ExportSettings(naming="mixamo", rest_pose="a")) == "a"
    points = _points()
    export_people(points, tmp_path, ExportSettings(formats=("bvh",), naming="mixamo", in_place=True))
    skeleton, motion = read_bvh(tmp_path / "person0.bvh")
    assert skeleton.joint_names[0] == "mixamorig:Hips"
    np.testing.assert_allclose(motion.root_translation[:, :2], 0.0, atol=1e-6)
    arm = skeleton.offsets[skeleton.index("mixamorig:LeftForeArm")]
    assert abs(arm[0]) / np.linalg.norm(arm) > 0.999        # T-pose: the forearm along the side axis
    # a joint that turns half round in one frame is reported
    rotations = np.tile(np.eye(3), (3, 2, 1, 1))
    rotations[2, 1] = np.diag([-1.0, -1.0, 1.0])
    flipped = Motion(rotations, np.zeros((3, 3)), 30.0)
    np.testing.assert_allclose(rotation_steps_deg(flipped)[:, 1], [0.0, 180.0], atol=1e-6)
    with caplog.at_level("WARNING"):
        assert check_continuity(skeleton.__class__(("a", "b"), np.array([-1, 0]), np.zeros((2, 3))), flipped,
                                "person9") == pytest.approx(180.0)
    assert "person9: joint b turns 180 degrees from frame 1 to 2" in caplog.text


def test_a_one_frame_flip_is_removed_a_real_turn_kept():
    from exporters import Motion
    from scipy.spatial.transform import Rotation

    from mocap.export.animation import despike_rotations, rotation_steps_deg

    yaw = np.radians(np.arange(20) * 10.0)                       # a joint turning 10 degrees a frame
    rotations = np.tile(np.eye(3), (20, 2, 1, 1))
    rotations[:, 1] = Rotation.from_euler("z", yaw[:, None]).as_matrix()
    clean = Motion(rotations, np.zeros((20, 3)), 30.0)
    flipped = rotations.copy()
    flipped[7, 1] = flipped[7, 1] @ Rotation.from_euler("x", [[170.0]], degrees=True).as_matrix()[0]
    fixed = despike_rotations(Motion(flipped, np.zeros((20, 3)), 30.0))
    np.testing.assert_allclose(fixed.rotations, clean.rotations, atol=1e-9)
    assert np.array_equal(despike_rotations(clean).rotations, clean.rotations)
    assert rotation_steps_deg(fixed).max() < 10.0 + 1e-6


def test_a_jittering_joint_is_smoothed_the_others_left_alone():
    from exporters import Motion
    from scipy.spatial.transform import Rotation

    from mocap.export.animation import rotation_steps_deg, smooth_fast_joints

    frames = np.arange(40)
    rotations = np.tile(np.eye(3), (40, 2, 1, 1))
    rotations[:, 0] = Rotation.from_euler("z", np.radians(5.0 * frames)[:, None]).as_matrix()     # slow
    rotations[:, 1] = Rotation.from_euler("x", np.radians(18.0 * (-1.0) ** frames)[:, None]).as_matrix()  # 36/frame
    motion = Motion(rotations, np.zeros((40, 3)), 30.0)
    smoothed = smooth_fast_joints(motion)
    assert rotation_steps_deg(smoothed)[:, 1].max() < 30.0
    np.testing.assert_array_equal(smoothed.rotations[:, 0], rotations[:, 0])


@pytest.mark.parametrize("naming, root_name", [("metahuman", "root"), ("mixamo", "root")])
def test_root_motion_on_a_root_bone_keeps_the_joints(tmp_path, naming, root_name):
    """``root_motion = "root"``: BVH and FBX get a root bone at the floor under the hips, turning
    with the pelvis; every joint where the "hips" export has it; in place: the root at the origin."""
    from exporters.fbx import read_fbx
    from exporters.root_motion import pelvis_yaw

    points = _points()
    for mode in ("hips", "root"):
        export_people(points, tmp_path / mode, ExportSettings(formats=("bvh", "fbx"), naming=naming, root_motion=mode))
    hips_skeleton, hips_motion = read_bvh(tmp_path / "hips" / "person0.bvh")
    root_skeleton, root_motion = read_bvh(tmp_path / "root" / "person0.bvh")
    assert root_skeleton.joint_names == (root_name, *hips_skeleton.joint_names)
    hips_xyz = hips_motion.positions(hips_skeleton)
    assert np.abs(root_motion.positions(root_skeleton)[:, 1:] - hips_xyz).max() < 1e-6
    np.testing.assert_allclose(root_motion.root_translation[:, 2], 0.0, atol=1e-8)          # on the floor
    np.testing.assert_allclose(root_motion.root_translation[:, :2], hips_xyz[:, 0, :2], atol=1e-6)
    heading = pelvis_yaw(hips_motion.rotations[:, 0])
    assert np.ptp(heading) > 0.05                                                 # the pelvis turns ...
    np.testing.assert_allclose(pelvis_yaw(root_motion.rotations[:, 0]), heading, atol=1e-6)   # ... the root with it
    fbx_hips, fbx_root = read_fbx(tmp_path / "hips" / "person0.fbx"), read_fbx(tmp_path / "root" / "person0.fbx")
    assert fbx_root.skeleton.joint_names[0] == root_name and list(fbx_root.motion.translations) == [1]
    assert np.abs(fbx_root.motion.positions(fbx_root.skeleton)[:, 1:]
                  - fbx_hips.motion.positions(fbx_hips.skeleton)).max() < 1e-6
    export_people(points, tmp_path / "still", ExportSettings(formats=("bvh",), naming=naming, root_motion="root",
                                                            in_place=True))
    _, still = read_bvh(tmp_path / "still" / "person0.bvh")
    np.testing.assert_allclose(still.root_translation, 0.0, atol=1e-8)
