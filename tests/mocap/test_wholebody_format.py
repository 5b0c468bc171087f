"""The whole-body keypoint format ``blazepose75`` (BlazePose's 33 body points, then
MediaPipe Hands' 21 per hand): its layout, and a take in it carried through triangulation,
filtering, the 3D keypoint file and the exports (TRC, C3D, the keypoint skeleton's BVH)
with no special case; the body fit takes its body part."""
from __future__ import annotations

import numpy as np
import pytest

from exporters.c3d import read_c3d
from exporters.trc import read_trc
from mocap.evaluate import mpjpe_mm
from mocap.export import export_people
from mocap.filter import filter_points
from mocap.fit.people import body_points
from mocap.keypoints import HAND21, convert_keypoints, get_format
from mocap.settings import ExportSettings, FilterSettings
from mocap.simulate import Actor, ErrorModel, simulate_take
from mocap.triangulate import triangulate
from mocap.types import Points3D

FMT = "blazepose75"


def test_layout_is_body_then_left_then_right_hand_in_mediapipe_order():
    f, body = get_format(FMT), get_format("blazepose33")
    assert f.num_joints == 33 + 2 * 21 and f.body_format == "blazepose33"
    assert f.joint_names[:33] == body.joint_names and f.native_names[:33] == body.native_names
    assert f.native_names[33] == "left_hand_wrist" and f.native_names[33 + 21] == "right_hand_wrist"
    assert f.native_names[33 + 8] == "left_index_finger_tip"        # MediaPipe's landmark 8
    assert f.native_names[33 + 20] == "left_pinky_tip"
    assert [n for _, n in HAND21][4::4] == ["thumb_tip", "index_tip", "middle_tip", "ring_tip",
                                            "pinky_tip"]
    assert len(set(f.native_names)) == len(set(f.joint_names)) == 75   # unique marker names
    assert len(f.lr_pairs) == len(body.lr_pairs) + 21
    names, parents = f.tree                                        # one tree, rooted at pelvis
    assert set(f.joint_names) <= set(names) and (parents == -1).sum() == 1
    assert names[int(np.flatnonzero(parents == -1)[0])] == "pelvis"
    # each finger's three phalanges and its metacarpal keep their length
    rigid = {frozenset((f.joint_names[a], f.joint_names[b])) for a, b in f.rigid_bone_indices}
    assert frozenset(("left_index_dip", "left_index_tip")) in rigid
    assert frozenset(("right_hand_wrist", "right_pinky_mcp")) in rigid
    assert frozenset(("left_wrist", "left_hand_wrist")) not in rigid  # two detectors' wrists
    for alias in ("blazepose_hands", "wholebody"):
        assert get_format(alias) is f


def test_body_part_converts_by_name():
    xy = np.arange(75 * 2, dtype=float).reshape(75, 2)
    out = convert_keypoints(xy, FMT, "blazepose33")
    np.testing.assert_array_equal(out, xy[:33])


@pytest.fixture(scope="module")
def hands_take(studio4):
    return simulate_take(studio4, [Actor("walk", seed=3)], 30, 30.0, FMT,
                         ErrorModel.perfect(), seed=0)


def test_a_whole_body_take_goes_through_triangulation_filter_and_exports(studio4, hands_take,
                                                                         tmp_path):
    det = hands_take.detections
    assert det.xy.shape == (4, 30, 1, 75, 2) and det.format == FMT
    pts = triangulate(det, studio4)
    assert pts.format == FMT and pts.joint_names == get_format(FMT).joint_names
    hands = slice(33, 75)
    assert mpjpe_mm(pts.xyz[:, :, hands], hands_take.gt_xyz[:, :, hands]) < 1e-3
    filt = filter_points(pts, FilterSettings(), studio4)
    assert mpjpe_mm(filt.xyz[:, :, hands], hands_take.gt_xyz[:, :, hands]) < 5.0
    filt.save(tmp_path / "points3d.npz")
    back = Points3D.load(tmp_path / "points3d.npz")
    assert back.format == FMT and back.xyz.shape == (30, 1, 75, 3)
    np.testing.assert_array_equal(back.xyz, filt.xyz)
    people = export_people(back, tmp_path, ExportSettings(formats=("trc", "c3d", "bvh")))
    assert [p["id"] for p in people] == [0]
    trc = read_trc(tmp_path / "person0.trc")
    assert trc.marker_names == get_format(FMT).native_names
    np.testing.assert_allclose(trc.xyz, back.xyz[:, 0], atol=1e-5)
    c3d = read_c3d(tmp_path / "person0.c3d")
    assert c3d.labels == get_format(FMT).native_names
    np.testing.assert_allclose(c3d.points, back.xyz[:, 0], atol=1e-3)
    assert (tmp_path / "person0.bvh").read_text().count("left_index_tip") >= 1


def test_the_fit_takes_the_body_part(studio4, hands_take):
    pts = triangulate(hands_take.detections, studio4)
    body = body_points(pts)
    assert body.format == "blazepose33" and body.xyz.shape == (30, 1, 33, 3)
    np.testing.assert_array_equal(body.xyz, pts.xyz[:, :, :33])
    np.testing.assert_array_equal(body.views_used, pts.views_used[:, :, :33])
    assert body_points(body) is body                               # a body format: as it is
