"""Virtual markers on a posed body (``[opensim] markers = "body"``), against the body's own
joints and foot keypoints on a known pose (the studio's Anny squat), and the OpenSim model
scaled to the body: at all coordinates zero it carries the body's neutral markers, its joint
centres on the body's."""
from __future__ import annotations

import numpy as np
import pytest

from mocap.body import load_body_model
from mocap.errors import OpenSimError
from mocap.keypoints import get_format
from mocap.opensim.virtual import MARKER_SEGMENTS, MARKERS, virtual_markers
from mocap.simulate.bodymodel import BodyActor, animate_body, body_keypoints

PELVIS = ("LHJC", "RHJC", "LASI", "RASI", "LPSI", "RPSI")


@pytest.fixture(scope="module")
def squat():
    model = load_body_model("anny")
    anim = animate_body(model, BodyActor("squat", seed=2), 12, 30.0)
    return model, anim, virtual_markers(model, anim["betas"], anim["rotations"],
                                        anim["transl"])


def _joint(model, anim, name: str) -> np.ndarray:
    """(F, 3) the posed fitted joint of canonical ``name``."""
    return anim["joints"][:, [model.canonical[n] for n in model.fitted].index(name)]


def test_markers_sit_on_the_bodys_joints_and_feet(squat) -> None:
    model, anim, vm = squat
    at = lambda n: vm.xyz[:, vm.names.index(n)]       # noqa: E731
    assert vm.xyz.shape == (12, len(MARKERS), 3) and np.isfinite(vm.xyz).all()
    for side in ("left", "right"):
        S = side[0].upper()
        np.testing.assert_allclose(at(f"{S}HJC"), _joint(model, anim, f"{side}_hip"), atol=1e-9)
        np.testing.assert_allclose(at(f"{S}SJC"), _joint(model, anim, f"{side}_shoulder"),
                                   atol=1e-9)
        for a, b, joint in (("KNE", "KNM", "knee"), ("ANK", "ANM", "ankle"),
                            ("ELB", "ELM", "elbow")):    # epicondyles, malleoli about the joint
            np.testing.assert_allclose(0.5 * (at(S + a) + at(S + b)),
                                       _joint(model, anim, f"{side}_{joint}"), atol=1e-9)
    kp = body_keypoints(model, anim, "body25")
    names = get_format("body25").joint_names
    for marker, point in (("LHEE", "left_heel"), ("RTOE", "right_big_toe"),
                          ("LMT5", "left_small_toe")):
        err = np.linalg.norm(at(marker) - kp[:, names.index(point)], axis=-1)
        assert err.max() < 0.002, (marker, err.max())


def test_each_segments_markers_move_rigidly(squat) -> None:
    """Distances between two markers of one segment do not change while the squat bends
    every joint; the pelvis markers span a plane (not three on a line)."""
    _, _, vm = squat
    by_segment: dict = {}
    for i, name in enumerate(vm.names):
        by_segment.setdefault(MARKER_SEGMENTS[name][0] + MARKER_SEGMENTS[name][1], []).append(i)
    for seg, idx in by_segment.items():
        P = vm.xyz[:, idx]
        d = np.linalg.norm(P[:, :, None] - P[:, None], axis=-1)          # (F, m, m)
        assert np.abs(d - d[:1]).max() < 1e-9, seg
    pelvis = vm.xyz[0, [vm.names.index(n) for n in PELVIS]]
    sv = np.linalg.svd(pelvis - pelvis.mean(0), compute_uv=False)
    assert sv[1] > 0.1 and sv[2] > 0.05                # metres: well spread, not collinear


def test_neutral_markers_are_the_neutral_pose(squat) -> None:
    """The body in its neutral pose facing +X puts its markers on ``neutral`` (body frame,
    origin mid-hips), the spots the OpenSim model's markers are placed from."""
    model, anim, vm = squat
    from calibration.rotations import rotvec_to_rotmat
    from mocap.body.model import body_axes, neutral_pose
    R = rotvec_to_rotmat(np.asarray(neutral_pose(model), float))[None].copy()
    R[0, 0] = body_axes(model).T @ R[0, 0]
    posed = virtual_markers(model, anim["betas"], R, np.zeros((1, 3)))
    mid = 0.5 * (posed.xyz[0, vm.names.index("LHJC")] + posed.xyz[0, vm.names.index("RHJC")])
    np.testing.assert_allclose(posed.xyz[0] - mid, vm.neutral, atol=1e-9)
    assert vm.neutral[vm.names.index("LASI"), 0] > 0 > vm.neutral[vm.names.index("LPSI"), 0]
    assert vm.neutral[vm.names.index("LKNE"), 1] > vm.neutral[vm.names.index("LKNM"), 1]
    assert 0.35 < vm.lengths["thigh"] < 0.7 and 0.15 < vm.lengths["hip_width"] < 0.35


def test_observed_frames_and_shape_errors(squat) -> None:
    model, anim, _ = squat
    seen = np.arange(12) % 3 > 0
    vm = virtual_markers(model, anim["betas"], anim["rotations"], anim["transl"], seen)
    assert np.isnan(vm.xyz[~seen]).all() and np.isfinite(vm.xyz[seen]).all()
    with pytest.raises(OpenSimError, match=r"^virtual markers: rotations must be \(F, 20, 3, 3\)"):
        virtual_markers(model, anim["betas"], anim["rotations"][:, 1:], anim["transl"])


def test_scaled_model_carries_the_neutral_markers(squat, tmp_path) -> None:
    """The model written for the body, standing at all coordinates zero, puts every marker on
    its neutral spot and its knee and ankle joint centres on the body's."""
    opensim = pytest.importorskip("opensim")
    from mocap.datasets import pose2sim_opensim_setup
    from mocap.opensim.placement import BODY_TO_GROUND, scale_and_place
    _, _, vm = squat
    out = tmp_path / "scaled.osim"
    scale_and_place(vm.lengths, vm.joints, vm.names, vm.segments, vm.neutral, out, 70.0,
                    "person 0", pose2sim_opensim_setup())
    model = opensim.Model(str(out))
    state = model.initSystem()
    coords = model.getCoordinateSet()
    for i in range(coords.getSize()):
        coords.get(i).setValue(state, 0.0, False)
    model.realizePosition(state)
    vec = lambda v: np.array([v.get(k) for k in range(3)])      # noqa: E731
    js = model.getJointSet()
    hips = 0.5 * (vec(js.get("hip_r").getParentFrame().getPositionInGround(state))
                  + vec(js.get("hip_l").getParentFrame().getPositionInGround(state)))
    got = np.stack([vec(model.getMarkerSet().get(n).getLocationInGround(state))
                    for n in vm.names])
    np.testing.assert_allclose(got - hips, vm.neutral @ BODY_TO_GROUND.T, atol=1e-6)
    for joint, name in (("walker_knee_l", "left_knee"), ("ankle_r", "right_ankle")):
        centre = vec(js.get(joint).getParentFrame().getPositionInGround(state)) - hips
        np.testing.assert_allclose(centre, BODY_TO_GROUND @ vm.joints[name], atol=1e-6)
