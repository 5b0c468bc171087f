"""Hands (``[detect] hands``): the hand regions placed from the body's points and from the
hand's own, the heatmaps given to the hand points, the setting, the model missing offline,
and the hand landmark model on a real frame, rotated."""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from mocap.datasets import pose2sim_demo
from mocap.detect.backends import make_backend
from mocap.detect.geometry import apply_affine, rotation_2d
from mocap.detect.hands import (NUM_HAND, HandLandmarker, detect_hands, hand_roi_from_landmarks,
                                hand_roi_from_pose, point_heatmaps)
from mocap.detect.run import make_jobs, spec_from_settings
from mocap.detect.types import BackendSpec
from mocap.detect.video import FrameReader, probe_source
from mocap.errors import DetectorError, ModelError, SettingsError
from mocap.models import FETCH_COMMAND, model_path
from mocap.settings import DetectSettings, Settings, load_settings
from tiny_video import grey_video


def test_pose_region_of_a_hand_pointing_right():
    """Wrist -> middle finger along +x: the crop turns by +90 degrees (its up is the image's
    +x), side 2 x 2.7 x |wrist -> middle|, centre moved a tenth of 2 |wrist -> middle| towards
    the fingers."""
    roi = hand_roi_from_pose(np.array([100.0, 200.0]), np.array([140.0, 194.0]),
                             np.array([140.0, 212.0]))           # middle = (2 i + p) / 3
    assert roi.angle_rad == pytest.approx(np.pi / 2)
    assert roi.size_px == pytest.approx(2 * 40 * 2.7)
    np.testing.assert_allclose(roi.center_xy, (140 + 0.1 * 80, 200.0), atol=1e-9)
    up_in_image = rotation_2d(roi.angle_rad) @ np.array([0.0, -1.0])
    np.testing.assert_allclose(up_in_image, (1.0, 0.0), atol=1e-12)


def test_pose_region_of_a_hanging_hand_is_upside_down():
    roi = hand_roi_from_pose(np.array([50.0, 50.0]), np.array([50.0, 80.0]),
                             np.array([50.0, 80.0]))
    assert abs(roi.angle_rad) == pytest.approx(np.pi)
    np.testing.assert_allclose(roi.center_xy, (50.0, 80.0 + 0.1 * 60), atol=1e-9)


@pytest.mark.parametrize("turn_deg", [-150.0, -30.0, 0.0, 45.0, 170.0])
def test_regions_turn_with_the_hand(turn_deg):
    """Turning the points about any centre turns both regions by the same angle and carries
    their centres along; size is kept."""
    t = np.radians(turn_deg)
    R, c0 = rotation_2d(t), np.array([300.0, 200.0])
    turn = lambda p: (np.asarray(p) - c0) @ R.T + c0  # noqa: E731
    w, i, p = np.array([310.0, 260.0]), np.array([330.0, 320.0]), np.array([300.0, 318.0])
    a, b = hand_roi_from_pose(w, i, p), hand_roi_from_pose(turn(w), turn(i), turn(p))
    assert np.cos(b.angle_rad - a.angle_rad - t) == pytest.approx(1.0)
    np.testing.assert_allclose(b.center_xy, turn(a.center_xy), atol=1e-9)
    assert b.size_px == pytest.approx(a.size_px)
    hand = _open_hand(np.array([250.0, 180.0]), 0.3)
    a, b = hand_roi_from_landmarks(hand), hand_roi_from_landmarks(turn(hand))
    assert np.cos(b.angle_rad - a.angle_rad - t) == pytest.approx(1.0)
    np.testing.assert_allclose(b.center_xy, turn(a.center_xy), atol=1e-9)
    assert b.size_px == pytest.approx(a.size_px)


def _open_hand(wrist: np.ndarray, angle: float) -> np.ndarray:
    """21 points of an open hand, fingers up in its frame, turned by ``angle`` (crop frame:
    its up is ``rotation_2d(angle) @ (0, -1)``)."""
    local = [(0, 0), (-14, -10), (-24, -22), (-30, -32), (-34, -42)]
    for x, length in ((-10, 1.0), (0, 1.1), (10, 1.0), (19, 0.8)):
        local += [(x, -40 * length), (x, -58 * length), (x, -70 * length), (x, -80 * length)]
    return wrist + np.array(local, float) @ rotation_2d(angle).T


def test_landmark_region_is_upright_on_the_hand_and_covers_it():
    hand = _open_hand(np.array([100.0, 300.0]), 0.0)
    roi = hand_roi_from_landmarks(hand)
    assert roi.angle_rad == pytest.approx(0.0, abs=0.05)
    corners = roi.corners()
    lo, hi = corners.min(0), corners.max(0)
    assert ((hand >= lo) & (hand <= hi)).all()
    # the box of the palm and lower finger points: 63.8 px tall (wrist to the middle finger's
    # PIP), 49 wide (thumb IP to pinky), times 2
    assert roi.size_px == pytest.approx(2.0 * 58.0 * 1.1)


def test_regions_of_missing_points_are_none():
    nan = np.full(2, np.nan)
    assert hand_roi_from_pose(nan, np.zeros(2), np.ones(2)) is None
    assert hand_roi_from_pose(np.zeros(2), np.zeros(2), np.zeros(2)) is None
    assert hand_roi_from_landmarks(np.full((NUM_HAND, 2), np.nan)) is None


def test_point_heatmaps_peak_at_the_points_with_their_confidence():
    affine = np.array([[4.0, 0.0, 10.0], [0.0, 4.0, 20.0]])       # cell -> image pixels
    xy = np.array([[10.0 + 4 * 12.3, 20.0 + 4 * 40.6], [np.nan, np.nan], [50.0, 60.0]])
    conf = np.array([0.8, 0.9, 0.0], np.float32)
    hm = point_heatmaps(xy, conf, affine, (64, 64))
    assert hm.shape == (3, 64, 64) and hm.dtype == np.float32
    v, u = np.unravel_index(hm[0].argmax(), hm[0].shape)
    assert (u, v) == (12, 41)
    np.testing.assert_allclose(apply_affine(affine, np.array([u, v], float)), xy[0], atol=2.0)
    assert hm[0].max() == pytest.approx(0.8 * np.exp(-(0.3 ** 2 + 0.4 ** 2) / 2), rel=1e-5)
    assert not hm[1].any() and not hm[2].any()                    # missing: no evidence


def test_hands_setting_gives_the_whole_body_format_and_needs_blazepose(tmp_path):
    assert spec_from_settings(DetectSettings()).format == "blazepose33"
    spec = spec_from_settings(DetectSettings(hands=True))
    assert spec.hands and spec.format == "blazepose75"
    path = tmp_path / "session.toml"
    path.write_text("[detect]\nbackend = 'onnx'\nmodel = 'net.onnx'\nhands = true\n")
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    assert str(info.value) == (
        f"{path} [detect] hands = true and backend = 'onnx'; expected backend = 'blazepose' "
        "(the hand crops come from its wrist, index and pinky points) or hands = false")
    with pytest.raises(DetectorError, match="needs backend 'blazepose'"):
        BackendSpec(kind="onnx", model="net.onnx", hands=True)


def test_hands_are_in_a_cameras_fingerprint(tmp_path):
    video = tmp_path / "videos" / "cam_a.avi"
    video.parent.mkdir()
    grey_video(video, 3)
    prints = {make_jobs([video], ("cam_a",), Settings(detect=DetectSettings(hands=h)),
                        tmp_path / "out")[0].fingerprint for h in (False, True)}
    assert len(prints) == 2


@pytest.mark.network
def test_hand_model_missing_offline_is_one_line_naming_the_fix(tmp_path, monkeypatch):
    """The body models cached, the hand model not, no registry: building the detector stops
    with one line naming the hand model and the command that fetches it."""
    cache = tmp_path / "cache"
    (cache / "models").mkdir(parents=True)
    for name in ("pose_detection", "pose_landmark_lite"):
        src = model_path(name)          # fetched from the registry into the real cache first
        os.symlink(src, cache / "models" / src.name)
    monkeypatch.setenv("MOCAP_CACHE_DIR", str(cache))
    monkeypatch.setenv("npm_config_registry", "http://127.0.0.1:9")   # nothing listens there
    make_backend(BackendSpec(landmark_model="lite"))                   # the body alone: fine
    with pytest.raises(ModelError) as info:
        make_backend(BackendSpec(landmark_model="lite", hands=True))
    msg = str(info.value)
    assert "\n" not in msg and "'hand_landmark_full'" in msg and FETCH_COMMAND in msg
    assert "@mediapipe/hands@0.4.1675469240" in msg


@pytest.fixture(scope="module")
def real_frame():
    info = probe_source(pose2sim_demo("0.10.49") / "Demo_SinglePerson" / "videos" / "cam04.mp4",
                        "cam04")
    with FrameReader(info, 1) as frames:
        rgb = next(iter(frames))[1]
    backend = make_backend(BackendSpec(landmark_model="lite", flip=False))
    (_, person), = backend.process(rgb)
    return rgb, person.xy


@pytest.mark.network
def test_hands_on_a_real_frame_sit_at_the_bodys_hands_and_turn_with_the_frame(real_frame):
    """Pose2Sim's demo (a real person): a hand is found where the body's wrist is; turning
    the frame by 90 degrees (and the body's points with it) gives the same hand points turned
    (the crops sample the same image points: only rounding differs)."""
    rgb, body = real_frame
    hands = HandLandmarker(model_path("hand_landmark_full"))
    xy, conf = detect_hands(hands, rgb, body)
    assert xy.shape == (42, 2) and conf.shape == (42,)
    found = [h for h in range(2) if conf[h * NUM_HAND] > 0]
    assert found, "at least one hand found"
    for h in found:
        wrist_body = body[(15, 16)[h]]
        assert np.linalg.norm(xy[h * NUM_HAND] - wrist_body) < 25.0
        assert np.isfinite(xy[h * NUM_HAND:(h + 1) * NUM_HAND]).all()
    H = rgb.shape[0]
    turned = np.ascontiguousarray(cv2.rotate(rgb, cv2.ROTATE_90_CLOCKWISE))
    to_turned = lambda p: np.stack([H - 1 - p[..., 1], p[..., 0]], -1)  # noqa: E731
    xy_t, conf_t = detect_hands(hands, turned, to_turned(body))
    back = np.stack([xy_t[..., 1], H - 1 - xy_t[..., 0]], -1)
    np.testing.assert_allclose(conf_t, conf, atol=0.05)     # agreement: steep mid-range
    ok = conf > 0
    assert np.median(np.linalg.norm(back[ok] - xy[ok], axis=-1)) < 0.5


@pytest.mark.network
def test_a_cameras_detections_with_hands_are_whole_body_with_heatmaps(tmp_path):
    """The detection stage on two real frames with hands: the camera's file is in
    ``blazepose75``, every point has a heatmap, and a found hand's heatmap peaks on it."""
    from mocap.detect.run import CameraJob, detect_camera
    from mocap.types import load_npz
    info = probe_source(pose2sim_demo("0.10.49") / "Demo_SinglePerson" / "videos" / "cam04.mp4",
                        "cam04")
    spec = BackendSpec(landmark_model="lite", flip=False, hands=True)
    path = detect_camera(CameraJob(info, 2, spec, tmp_path / "cam04.npz", "x"))
    d = load_npz(path, ("xy", "conf", "format", "heatmaps", "heatmap_affine"), "camera")
    assert str(d["format"]) == "blazepose75"
    assert d["xy"].shape == (2, 1, 75, 2) and d["heatmaps"].shape == (2, 1, 75, 64, 64)
    found = np.flatnonzero(d["conf"][0, 0, 33:] > 0) + 33
    assert found.size >= 21
    for j in found[::7]:
        hm = d["heatmaps"][0, 0, j].astype(np.float32)
        v, u = np.unravel_index(hm.argmax(), hm.shape)
        peak = apply_affine(d["heatmap_affine"][0, 0], np.array([u, v], float))
        cell = np.linalg.norm(d["heatmap_affine"][0, 0][:, 0])
        assert np.linalg.norm(peak - d["xy"][0, 0, j]) < cell


def test_agreement_of_two_answers_is_a_gaussian_of_their_distance_in_region_sides():
    from mocap.detect.geometry import Roi
    from mocap.detect.hands import AGREEMENT_SPREAD, HandResult, agreement
    xy = _open_hand(np.array([100.0, 100.0]), 0.0)
    a = HandResult(xy, 0.9, 0.5, Roi((100.0, 60.0), 200.0))
    moved = xy.copy()
    moved[8] += (AGREEMENT_SPREAD * 200.0, 0.0)                   # one point, one spread away
    moved[4] += (0.0, 3 * AGREEMENT_SPREAD * 200.0)
    w = agreement(a, HandResult(moved, 0.9, 0.5, a.roi))
    assert w.shape == (NUM_HAND,)
    np.testing.assert_allclose(w[8], np.exp(-0.5))
    np.testing.assert_allclose(w[4], np.exp(-4.5))
    assert (np.delete(w, [4, 8]) == 1.0).all()
