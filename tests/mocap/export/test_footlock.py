"""Foot locking on a studio walk whose feet do not slide: measured on the exported BVH read
back, against the true contacts."""
from __future__ import annotations

import numpy as np
import pytest
from anim_scenes import planted_walk, studio_keypoints

from exporters import forward_kinematics, read_bvh, write_bvh
from mocap.export.contacts import ContactOptions, detect_contacts
from mocap.export.footlock import LockOptions, leg_chain, lock_feet, two_bone_ik
from mocap.export.skeleton import keypoint_skeleton
from mocap.simulate.footfalls import foot_metrics, true_contacts


def _exported(tmp_path, motion, seed):
    xyz, gt, names, fps = planted_walk(seed) if motion == "walk_planted" else studio_keypoints(motion, seed, 90)
    skeleton, motion = keypoint_skeleton(xyz, "body25", fps)
    flags = detect_contacts(xyz, names, fps, ContactOptions(0.04, 0.3, 0.05)).flags
    locked = lock_feet(skeleton, motion, flags)
    write_bvh(tmp_path / "locked.bvh", skeleton, locked)
    read_skeleton, read_motion = read_bvh(tmp_path / "locked.bvh")
    after, _ = forward_kinematics(read_skeleton, read_motion.rotations, read_motion.root_translation)
    after = after[:, [read_skeleton.index(n) for n in skeleton.joint_names]]   # the file's order is depth-first
    before, _ = forward_kinematics(skeleton, motion.rotations, motion.root_translation)
    truth = true_contacts(gt, names, fps)
    return foot_metrics(after, before, skeleton.joint_names, truth, fps), \
        foot_metrics(before, before, skeleton.joint_names, truth, fps)


@pytest.mark.parametrize("motion, seed", [("walk_planted", 4), ("walk_planted", 7), ("squat", 3)])
def test_locked_feet_stay_planted_in_the_bvh(tmp_path, motion, seed):
    """benchmarks/animation.py: median slide 0.8-2.9 mm (before 6-61 mm), max 3-9.6 mm, feet
    within 4.5 mm of the floor during true contacts, none under it, joints within 24 mm of the
    unlocked motion outside contact."""
    after, before = _exported(tmp_path, motion, seed)
    assert after.slide_median_mm < 3.0 and after.slide_median_mm < before.slide_median_mm / 2, (after, before)
    assert after.slide_max_mm < 10.0, after
    assert after.floor_max_mm < 6.0 and after.lowest_mm > -0.1, after
    assert after.outside_max_mm < 25.0, after


def test_two_bone_ik_reaches_the_target_and_keeps_the_bones():
    rng = np.random.default_rng(0)
    hip = rng.normal(size=(50, 3))
    knee = hip + [0.0, 0.05, -0.42]
    ankle = knee + [0.0, -0.05, -0.41]
    target = ankle + rng.normal(scale=0.05, size=(50, 3))
    r_thigh, r_shank = two_bone_ik(hip, knee, ankle, target)
    new_knee = hip + np.einsum("fij,fj->fi", r_thigh, knee - hip)
    new_ankle = new_knee + np.einsum("fij,fj->fi", r_shank @ r_thigh, ankle - knee)
    reach = np.linalg.norm(target - hip, axis=-1) < 0.999 * (np.linalg.norm(knee - hip, axis=-1) + 0.41 + 1e-9)
    assert np.abs(new_ankle - target)[reach].max() < 1e-9


def test_without_contacts_or_floor_the_motion_is_unchanged():
    xyz, _, names, fps = planted_walk(4)
    skeleton, motion = keypoint_skeleton(xyz, "body25", fps)
    none = np.zeros((motion.num_frames, 6), bool)
    same = lock_feet(skeleton, motion, none, LockOptions(lock=True, floor=False))
    assert np.abs(same.rotations - motion.rotations).max() < 1e-9
    assert leg_chain(skeleton, "left") is not None
