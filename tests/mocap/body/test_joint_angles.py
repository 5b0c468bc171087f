"""ISB joint angles of a posed body (:mod:`mocap.body.joint_angles`): the Cardan decomposition
round-trips, and on the studio's body-model motions the angles of the true rotations are the
motions' named angles (signs and zero pose as documented)."""
from __future__ import annotations

import numpy as np
import pytest

from calibration.rotations import rotvec_to_rotmat
from mocap.body import load_body_model
from mocap.body.joint_angles import angle_columns, cardan_yxz_deg, isb_angles_deg
from mocap.errors import BodyModelError
from mocap.simulate.bodymodel import BodyActor, animate_body
from mocap.simulate.motions import MOTIONS


def _about(axis: int, deg: np.ndarray) -> np.ndarray:
    v = np.zeros(deg.shape + (3,))
    v[..., axis] = np.radians(deg)
    return rotvec_to_rotmat(v)


def test_cardan_round_trip() -> None:
    rng = np.random.default_rng(0)
    abc = rng.uniform([-170, -85, -170], [170, 85, 170], (500, 3))
    R = _about(1, abc[:, 0]) @ _about(0, abc[:, 1]) @ _about(2, abc[:, 2])
    np.testing.assert_allclose(cardan_yxz_deg(R), abc, atol=1e-8)


@pytest.fixture(scope="module")
def anny():
    return load_body_model("anny")


def _truth(anny, motion: str, F: int = 60):
    anim = animate_body(anny, BodyActor(motion, seed=0), F, 30.0)
    pose = MOTIONS[motion](np.arange(F) / 30.0, np.random.default_rng(0), F / 30.0)
    named = {k: np.degrees(np.broadcast_to(v, (F,))) for k, v in pose.angles.items()}
    return isb_angles_deg(anny, anim["rotations"][:, 0], anim["rotations"][:, 1:]), named


@pytest.mark.parametrize("motion", ["walk", "squat"])
def test_true_rotations_give_the_motions_angles(anny, motion: str) -> None:
    """Sagittal angles are the motion's to within the hinge axes' tilt (knee: 2 degrees), on
    both sides, with the documented signs."""
    ang, named = _truth(anny, motion)
    for side in ("left", "right"):
        for joint, key, tol in (("hip", "hip_flex", 0.5), ("knee", "knee_flex", 2.0),
                                ("ankle", "ankle_dorsi", 0.5), ("shoulder", "shoulder_flex", 0.5),
                                ("elbow", "elbow_flex", 0.5)):
            want = named.get(f"{side}_{key}", np.zeros(60))
            np.testing.assert_allclose(ang[(joint, side, "flexion")], want, atol=tol,
                                       err_msg=f"{motion} {side} {joint}")
    np.testing.assert_allclose(ang[("trunk", "", "flexion")], named.get("spine_flex", 0.0),
                               atol=0.1)


def test_walk_arm_abduction_is_negative_adduction(anny) -> None:
    ang, named = _truth(anny, "walk")
    for side in ("left", "right"):
        np.testing.assert_allclose(ang[("shoulder", side, "adduction")],
                                   -named[f"{side}_shoulder_abd"], atol=0.6)
        assert np.abs(ang[("hip", side, "adduction")]).max() < 0.1   # a walk: no abduction


def test_columns_and_shape_errors(anny) -> None:
    ang, _ = _truth(anny, "walk", F=5)
    names, values = angle_columns(ang)
    assert values.shape == (5, len(names)) == (5, 2 * 3 + 5 * 2 * 3)
    assert "knee_left_flexion_deg" in names and "pelvis_flexion_deg" in names
    with pytest.raises(BodyModelError, match="local rotations must have shape"):
        isb_angles_deg(anny, np.tile(np.eye(3), (5, 1, 1)), np.tile(np.eye(3), (5, 3, 1, 1)))
