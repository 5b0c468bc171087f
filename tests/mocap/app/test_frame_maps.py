"""A video whose frame size is not its calibration's: padded/cropped by a codec, or the
calibration's frame scaled with black bars (letterbox/pillarbox). Decided from the video
itself; the detections are mapped into the calibration's pixel frame.

The bug this pins: the Pose2Sim demo's cam_01/cam_02 are the 1088 x 1920 calibration frame
shrunk by 1080/1088 and letterboxed, and were taken "as they are" (a codec's padding), so
their keypoints were off by up to ~8 px.
"""
from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from calibration import Camera, Rig
from mocap.app.detections import check_frame_sizes, detect_session, recorded_frame_maps
from mocap.detect.frame_map import (Bars, FrameMap, black_bars, decide_frame_map, map_detections,
                                    warp_to_calibration)
from mocap.detect.video import probe_source
from mocap.errors import SessionError
from mocap.types import Detections2D

CALIB_WH = (200, 300)


def scene(size_wh=CALIB_WH, seed=0) -> np.ndarray:
    """A textured (H, W, 3) uint8 image in the calibration's frame (no black rows)."""
    w, h = size_wh
    rng = np.random.default_rng(seed)
    img = cv2.resize(rng.integers(60, 230, (h // 10, w // 10, 3), dtype=np.uint8), (w, h),
                     interpolation=cv2.INTER_CUBIC)
    return np.clip(img, 60, 230).astype(np.uint8)


def calib_to_video_affine(scale: float, offset_xy) -> np.ndarray:
    """(2, 3): calibration pixel centres -> video pixel centres, edges scaled by ``scale``
    then moved by ``offset_xy`` (the bars' width, pixels)."""
    s = scale
    return np.array([[s, 0, 0.5 * s - 0.5 + offset_xy[0]],
                     [0, s, 0.5 * s - 0.5 + offset_xy[1]]])


def letterboxed(img: np.ndarray, video_wh, scale: float, offset_xy) -> np.ndarray:
    A = calib_to_video_affine(scale, offset_xy)
    return cv2.warpAffine(img, A, tuple(video_wh), flags=cv2.INTER_AREA,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def write_video(path: Path, frames: list) -> Path:
    h, w = frames[0].shape[:2]
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (w, h))
    for f in frames:
        out.write(f)
    out.release()
    return path


def job_for(path: Path, camera: str):
    return SimpleNamespace(info=probe_source(path, camera))


def rig_of(names, size_wh=CALIB_WH) -> Rig:
    w, h = size_wh
    K = np.array([[300.0, 0, (w - 1) / 2], [0, 300.0, (h - 1) / 2], [0, 0, 1]])
    return Rig([Camera(name=n, K=K, dist=np.zeros(5), R_cam_from_world=np.eye(3),
                       t_cam_from_world=np.array([i * 0.1, 0, 3.0]), size_wh=size_wh)
                for i, n in enumerate(names)])


def letterbox_take(tmp_path: Path, camera="cam1", video_wh=(196, 300)):
    """Frames of the calibration's frame scaled by 196/200 and letterboxed by 3 rows."""
    s = video_wh[0] / CALIB_WH[0]
    bar = (video_wh[1] - s * CALIB_WH[1]) / 2
    frames = [letterboxed(scene(seed=k), video_wh, s, (0.0, bar)) for k in range(6)]
    return write_video(tmp_path / f"{camera}.mp4", frames), s, bar


def test_letterboxed_video_is_mapped_into_the_calibration_frame(tmp_path, caplog):
    video, s, bar = letterbox_take(tmp_path)
    with caplog.at_level(logging.INFO):
        maps = check_frame_sizes([job_for(video, "cam1")], rig_of(["cam1"]))
    fm = maps[0]
    assert fm is not None and fm.kind == "scaled"
    # calibration pixels -> video -> back through the decided map
    rng = np.random.default_rng(1)
    calib_xy = rng.uniform([0, 0], np.array(CALIB_WH) - 1, (50, 2))
    A = calib_to_video_affine(s, (0.0, bar))
    video_xy = calib_xy @ A[:, :2].T + A[:, 2]
    back = fm.apply(video_xy)
    assert np.abs(back - calib_xy).max() < 0.5
    assert np.abs(video_xy - calib_xy).max() > 3          # taken as it is: off by pixels
    assert any("cam1" in r.getMessage() and "scaled" in r.getMessage() for r in caplog.records)


def test_pillarboxed_video_beyond_the_tolerance_is_scaled(tmp_path):
    w, h = 400, 300                                   # calibration 200 x 300 shown at 1.0 x
    frames = [letterboxed(scene(seed=k), (w, h), 1.0, (100.0, 0.0)) for k in range(4)]
    video = write_video(tmp_path / "cam1.mp4", frames)
    fm = check_frame_sizes([job_for(video, "cam1")], rig_of(["cam1"]))[0]
    assert fm.kind == "scaled"
    assert np.allclose(fm.apply(np.array([[100.0, 10.0], [299.0, 299.0]])),
                       [[0.0, 10.0], [199.0, 299.0]], atol=0.5)


def test_padded_video_is_used_as_it_is(tmp_path, caplog):
    img = [scene(seed=k) for k in range(4)]
    cropped = [f[:, :196] for f in img]               # a codec cropped 4 columns: same pixels
    video = write_video(tmp_path / "cam1.mp4", cropped)
    with caplog.at_level(logging.INFO):
        fm = check_frame_sizes([job_for(video, "cam1")], rig_of(["cam1"]))[0]
    assert fm.kind == "padded"
    xy = np.array([[10.0, 20.0], [150.5, 299.0]])
    assert np.allclose(fm.apply(xy), xy)
    assert any("cam1" in r.getMessage() and "padded" in r.getMessage() for r in caplog.records)


def test_same_size_needs_no_map_and_reads_no_frame(tmp_path):
    video = write_video(tmp_path / "cam1.mp4", [scene()])
    assert check_frame_sizes([job_for(video, "cam1")], rig_of(["cam1"])) == [None]


def test_uniform_rescale_without_bars_warns_naming_camera_and_sizes(tmp_path, caplog):
    frames = [cv2.resize(scene(seed=k), (100, 150), interpolation=cv2.INTER_AREA)
              for k in range(4)]
    video = write_video(tmp_path / "cam1.mp4", frames)
    with caplog.at_level(logging.WARNING):
        fm = check_frame_sizes([job_for(video, "cam1")], rig_of(["cam1"]))[0]
    assert fm.kind == "scaled"
    assert np.allclose(fm.apply(np.array([[0.0, 0.0], [99.0, 149.0]])),
                       [[0.5, 0.5], [198.5, 298.5]], atol=1e-9)
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "cam1" in warned[0]
    assert "100 x 150" in warned[0] and "200 x 300" in warned[0]


def test_nothing_consistent_is_a_typed_error(tmp_path):
    frames = [cv2.resize(scene(seed=k), (260, 300)) for k in range(3)]   # another aspect
    video = write_video(tmp_path / "cam1.mp4", frames)
    with pytest.raises(SessionError, match=r"camera cam1: .*260 x 300.*200 x 300"):
        check_frame_sizes([job_for(video, "cam1")], rig_of(["cam1"]))


def test_map_detections_moves_keypoints_and_heatmap_affines():
    C, F, P, J = 2, 3, 1, 17
    rng = np.random.default_rng(2)
    xy = rng.uniform(0, 190, (C, F, P, J, 2))
    xy[0, 1, 0, 3] = np.nan
    aff = np.tile(np.array([[4.0, 0, 10], [0, 4.0, 20]]), (C, F, P, 1, 1))
    det = Detections2D(xy=xy, conf=np.ones((C, F, P, J), np.float32), format="coco17",
                       camera_names=("a", "b"), fps=30.0,
                       heatmaps=np.zeros((C, F, P, J, 4, 4), np.float32), heatmap_affine=aff)
    fm = FrameMap("b", "scaled", (196, 300), CALIB_WH,
                  np.array([[1 / 0.98, 0, 0.1], [0, 1 / 0.98, -3.0]]), "test")
    out = map_detections(det, [None, fm])
    assert np.array_equal(out.xy[0], xy[0], equal_nan=True)
    assert np.allclose(out.xy[1], fm.apply(xy[1]))
    cell = np.array([2.0, 3.0, 1.0])
    assert np.allclose(out.heatmap_affine[1, 0, 0] @ cell, fm.apply(aff[1, 0, 0] @ cell))
    assert np.isnan(out.xy[0, 1, 0, 3]).all()


def test_warp_to_calibration_undoes_the_letterbox():
    img = scene(seed=3)
    s, bar = 0.98, (300 - 0.98 * 300) / 2
    video = letterboxed(img, (196, 300), s, (0.0, bar))
    fm = decide_frame_map("cam1", (196, 300), CALIB_WH, black_bars([video]))
    back = warp_to_calibration(video, fm.A_calib_from_video, CALIB_WH)
    assert back.shape == img.shape
    inner = (slice(4, -4), slice(4, -4))
    assert np.abs(back[inner].astype(int) - img[inner]).mean() < 4
    stretched = cv2.resize(video, CALIB_WH, interpolation=cv2.INTER_AREA)   # the old way
    assert np.abs(stretched[inner].astype(int) - img[inner]).mean() > \
        2 * np.abs(back[inner].astype(int) - img[inner]).mean()


def test_detect_session_writes_detections_in_the_calibration_frame(tmp_path, monkeypatch):
    import mocap.detect.run as run_module
    from mocap.settings import Settings
    root = tmp_path / "session"
    (root / "videos").mkdir(parents=True)
    letterbox_take(root / "videos", "cam1")
    write_video(root / "videos" / "cam2.mp4", [scene(seed=k) for k in range(6)])
    rig = rig_of(["cam1", "cam2"])
    truth = np.random.default_rng(4).uniform(20, 180, (2, 6, 1, 17, 2))    # calib pixels
    s, bar = 196 / 200, (300 - 196 / 200 * 300) / 2
    A = calib_to_video_affine(s, (0.0, bar))
    seen = truth.copy()
    seen[0] = truth[0] @ A[:, :2].T + A[:, 2]                              # cam1's video

    def fake_detect_jobs(jobs, camera_names, settings, workers=None, desc=""):
        return Detections2D(xy=seen, conf=np.ones(seen.shape[:4], np.float32),
                            format="coco17", camera_names=tuple(camera_names), fps=30.0)

    monkeypatch.setattr(run_module, "detect_jobs", fake_detect_jobs)
    det = detect_session(root, rig.names, Settings(), rig=rig)
    assert np.abs(det.xy - truth).max() < 0.5
    assert np.abs(Detections2D.load(root / "out" / "detections.npz").xy - truth).max() < 0.5
    maps = recorded_frame_maps(root / "out")
    assert set(maps) == {"cam1"}
    assert np.allclose(maps["cam1"], det_map(root))


def det_map(root: Path) -> np.ndarray:
    import json
    cams = json.loads((root / "out" / "detections.json").read_text())["cameras"]
    assert cams[1]["frame_map"] is None and cams[0]["frame_map"]["kind"] == "scaled"
    return np.array(cams[0]["frame_map"]["A_calib_from_video"])


def test_pose2sim_demo_letterbox_with_a_half_dark_edge_row():
    """The Pose2Sim demo's cam_01: 1088 x 1920 shrunk by 1080/1088, 7.06 rows of bars each
    side, found as 7 and 6; the map stays within 0.2 px of the true one."""
    s = 1080 / 1088
    fm = decide_frame_map("cam_01", (1080, 1920), (1088, 1920), Bars(7, 6, 0, 0))
    assert fm.kind == "scaled"
    calib = np.array([[0.0, 0.0], [1087.0, 1919.0], [500.0, 960.0]])
    video = calib @ calib_to_video_affine(s, (0.0, (1920 - s * 1920) / 2))[:, :2].T \
        + calib_to_video_affine(s, (0.0, (1920 - s * 1920) / 2))[:, 2]
    assert np.abs(fm.apply(video) - calib).max() < 0.2
    assert np.abs(video - calib).max() > 7            # as it is: the old answer
