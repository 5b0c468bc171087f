"""AMASS-style .npz: the layout AMASS loaders expect, exact round trips, AMASS's own files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from exporters import Motion, Skeleton
from exporters.amass import AmassMotion, amass_to_motion, motion_to_amass, read_amass, write_amass
from exporters.errors import FormatError, MotionError, SkeletonError


def test_skeleton_motion_round_trips_exactly(tmp_path: Path, humanoid: Skeleton, random_motion, fk_positions) -> None:
    motion = random_motion(humanoid, 12, fps=50.0)
    write_amass(tmp_path / "a.npz", motion_to_amass(humanoid, motion))
    back = read_amass(tmp_path / "a.npz")
    assert back.model_type == "skeleton" and back.gender == "neutral" and back.fps == 50.0
    skeleton, read = amass_to_motion(back)
    assert skeleton.joint_names == humanoid.joint_names
    np.testing.assert_array_equal(skeleton.offsets, humanoid.offsets)
    np.testing.assert_allclose(read.rotations, motion.rotations, atol=1e-12)
    np.testing.assert_allclose(fk_positions(skeleton, read), fk_positions(humanoid, motion), atol=1e-12)


def test_file_has_the_amass_layout(tmp_path: Path, humanoid: Skeleton, random_motion) -> None:
    motion = random_motion(humanoid, 8, fps=120.0)
    write_amass(tmp_path / "a.npz", motion_to_amass(humanoid, motion))
    with np.load(tmp_path / "a.npz", allow_pickle=False) as data:
        assert data["poses"].shape == (8, 3 * 17) and data["trans"].shape == (8, 3)
        np.testing.assert_array_equal(data["root_orient"], data["poses"][:, :3])
        np.testing.assert_array_equal(data["pose_body"], data["poses"][:, 3:])
        assert float(data["mocap_framerate"]) == 120.0 and float(data["mocap_frame_rate"]) == 120.0
        assert float(data["mocap_time_length"]) == pytest.approx(8 / 120.0)
        assert str(data["gender"]) == "neutral" and str(data["surface_model_type"]) == "skeleton"
        # poses are axis-angle of the local rotations; trans puts the root at rest root + trans
        np.testing.assert_allclose(Rotation.from_rotvec(data["poses"][:, 3:6]).as_matrix(), motion.rotations[:, 1],
                                   atol=1e-12)
        np.testing.assert_allclose(data["trans"] + humanoid.offsets[0], motion.root_translation, atol=1e-12)


def test_reads_an_amass_file_of_a_body_model(tmp_path: Path, rng) -> None:
    """An AMASS SMPL-H file (156 pose values, 16 betas, bytes gender) read with a given skeleton."""
    poses = rng.normal(scale=0.3, size=(5, 156))
    np.savez(tmp_path / "amass.npz", poses=poses, trans=rng.normal(size=(5, 3)), betas=rng.normal(size=16),
             gender=np.array(b"female"), mocap_framerate=np.array(120.0), dmpls=np.zeros((5, 8)))
    take = read_amass(tmp_path / "amass.npz")
    assert take.gender == "female" and take.model_type == "smpl" and take.num_joints == 52
    assert take.betas.shape == (16,) and take.skeleton is None
    with pytest.raises(SkeletonError, match=r"expected a skeleton \(the body model's\), found none"):
        amass_to_motion(take)
    parents = np.arange(-1, 51)
    skeleton = Skeleton(tuple(f"j{k}" for k in range(52)), parents, np.tile([0.0, 0.0, 0.1], (52, 1)))
    _, motion = amass_to_motion(take, skeleton)
    np.testing.assert_allclose(Rotation.from_matrix(motion.rotations[:, 7]).as_rotvec(), poses[:, 21:24], atol=1e-9)


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"trans": np.zeros((2, 3)), "mocap_framerate": np.array(30.0)}, r"key 'poses': expected present"),
        ({"poses": np.zeros((2, 6)), "trans": np.zeros((2, 3))}, r"key 'mocap_framerate': expected present"),
        ({"poses": np.zeros((2, 5)), "trans": np.zeros((2, 3)), "mocap_framerate": np.array(30.0)},
         r"AMASS poses: expected shape \(F, 3 J\), found \(2, 5\)"),
        ({"poses": np.zeros((2, 6)), "trans": np.zeros((2, 3)), "mocap_framerate": np.array(30.0),
          "gender": np.array("other")}, r"AMASS gender: expected one of"),
    ],
)
def test_bad_files_name_the_key(tmp_path: Path, arrays: dict, message: str) -> None:
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(FormatError, match=r"bad\.npz, .*" + message):
        read_amass(tmp_path / "bad.npz")


def test_pickled_or_missing_files(tmp_path: Path) -> None:
    np.savez(tmp_path / "pickled.npz", poses=np.array([{"a": 1}], dtype=object))
    with pytest.raises(FormatError, match=r"pickled\.npz, file: expected an \.npz without pickled objects"):
        read_amass(tmp_path / "pickled.npz")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(FormatError, match=r"text\.npz, file"):
        read_amass(tmp_path / "text.npz")
    with pytest.raises(FileNotFoundError):
        read_amass(tmp_path / "none.npz")


def test_amass_motion_checks_its_values(humanoid: Skeleton) -> None:
    with pytest.raises(MotionError, match=r"AMASS trans: expected shape \(3, 3\)"):
        AmassMotion(np.zeros((3, 6)), np.zeros((2, 3)), 30.0)
    with pytest.raises(MotionError, match=r"AMASS poses\[frame 1\]: expected finite values"):
        AmassMotion(np.array([[0.0] * 6, [np.nan] * 6]), np.zeros((2, 3)), 30.0)
    with pytest.raises(MotionError, match=r"AMASS fps: expected a finite number > 0"):
        AmassMotion(np.zeros((1, 6)), np.zeros((1, 3)), 0.0)
    with pytest.raises(SkeletonError, match=r"AMASS skeleton: expected 2 joints \(the poses'\), found 17"):
        AmassMotion(np.zeros((1, 6)), np.zeros((1, 3)), 30.0, skeleton=humanoid)
    with pytest.raises(MotionError, match=r"expected 17 joints"):
        motion_to_amass(humanoid, Motion(np.broadcast_to(np.eye(3), (1, 2, 3, 3)), np.zeros((1, 3)), 30.0))
