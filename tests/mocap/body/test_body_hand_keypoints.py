"""MediaPipe Hands' 21 points on the body models' hands (the truth of the hand keypoints):
which joints they are, and where they sit on Anny's rest hand."""
from __future__ import annotations

import numpy as np
import pytest

from mocap.body import load_body_model
from mocap.body.hand_keypoints import hand_joint_map
from mocap.body.regressors import spec_rest_position
from mocap.keypoints import HAND21

POINTS = [canon for _, canon in HAND21]


def test_joint_maps_of_anny_and_smplh_name_every_point_and_smpl_has_none():
    from smplx.joint_names import JOINT_NAMES, SMPLH_JOINT_NAMES
    anny = ["wrist.L"] + [f"finger{k}-{i}.L" for k in range(1, 6) for i in range(1, 4)]
    m = hand_joint_map(anny, "left")
    assert sorted(m) == sorted(POINTS)
    assert (m["thumb_cmc"], m["index_mcp"], m["pinky_dip"]) == ("finger1-1.L", "finger2-1.L",
                                                                "finger5-3.L")
    m = hand_joint_map(SMPLH_JOINT_NAMES[:52], "right")
    assert sorted(m) == sorted(POINTS)
    assert (m["hand_wrist"], m["thumb_ip"], m["ring_pip"]) == ("right_wrist", "right_thumb3",
                                                               "right_ring2")
    assert hand_joint_map(JOINT_NAMES[:22] + ["left_hand", "right_hand"], "left") is None


@pytest.mark.slow
def test_annys_hand_points_run_from_the_wrist_to_the_fingertips():
    anny = load_body_model("anny")
    for side in ("left", "right"):
        at = {p: spec_rest_position(anny, anny.keypoints[f"{side}_{p}"]) for p in POINTS}
        wrist = at["hand_wrist"]
        np.testing.assert_allclose(
            wrist, anny.joint_template.numpy()[anny.joint_names.index(
                f"wrist.{side[0].upper()}")])
        for digit in ("thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip"), *(
                tuple(f"{d}_{j}" for j in ("mcp", "pip", "dip", "tip"))
                for d in ("index", "middle", "ring", "pinky")):
            reach = [np.linalg.norm(at[p] - wrist) for p in digit]
            assert np.all(np.diff(reach) > 0.005), digit          # each joint farther out
            bones = [np.linalg.norm(at[a] - at[b]) for a, b in zip(digit[:-1], digit[1:])]
            assert 0.01 < min(bones) and max(bones) < 0.07, (digit, bones)
        span = np.linalg.norm(at["middle_tip"] - wrist)             # hand length
        assert 0.15 < span < 0.22
