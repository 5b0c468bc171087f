"""The peer pipelines of ``benchmarks/pixels.py``: what a user assembles from other tools.

- aniposelib's ``triangulate`` / ``triangulate_ransac`` on 2D keypoints (our detections, or
  the peer's own);
- the peer's own 2D, as issue 16 defines the peer ("BlazePose Full on ground-truth boxes
  plus aniposelib's triangulation"): the BlazePose Full landmark model of the
  ``mediapipe==0.10.21`` wheel run once per frame and camera, no tracking and no mirrored
  pass, on the region BlazePose's own pipeline would crop around the person's true box: the
  box of the truth's projected keypoints, made square on its long side and scaled by 1.25
  (MediaPipe's ``RectTransformationCalculator`` settings for the pose ROI), upright. The
  landmark model is ours (:class:`mocap.detect.blazepose.PoseLandmarker`, refined from its
  heatmaps as MediaPipe does).
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from mocap.detect.blazepose import NUM_BODY, PoseLandmarker
from mocap.detect.geometry import roi_from_box
from mocap.detect.video import FrameReader, find_source, probe_source
from mocap.models import landmark_model_name, model_path

__all__ = ["peer_points", "truth_box_rois", "blazepose_on_truth_boxes", "ROI_SCALE"]

#: MediaPipe's pose ROI: the square on the box's long side, scaled by this.
ROI_SCALE = 1.25


def peer_points(rig, xy: np.ndarray, conf: np.ndarray, ransac: bool,
                min_conf: float = 0.2) -> np.ndarray:
    """aniposelib's triangulation of 2D keypoints with confidence >= ``min_conf`` (as ours).

    Args:
        rig: the cameras. xy: (C, F, J, 2) pixels, NaN = missing. conf: (C, F, J).
    Returns:
        (F, J, 3) metres.
    """
    from aniposelib.cameras import CameraGroup
    with tempfile.TemporaryDirectory() as tmp:
        rig.save(Path(tmp) / "calib.toml")
        group = CameraGroup.load(str(Path(tmp) / "calib.toml"))
    C, F, J, _ = xy.shape
    pts = np.where((conf >= min_conf)[..., None], xy, np.nan)
    pts = np.ascontiguousarray(pts.reshape(C, F * J, 2))
    group.triangulate(pts[:, :J], progress=False)            # warm-up (jax compiles once)
    if ransac:
        out = group.triangulate_ransac(pts, progress=False)[0]
    else:
        out = group.triangulate(pts, progress=False)
    return np.asarray(out).reshape(F, J, 3)


def truth_box_rois(xy_truth: np.ndarray, size_wh) -> list:
    """The region BlazePose would crop around each true box: per frame, the upright square
    on the long side of the box of the truth's keypoints inside the image, times
    :data:`ROI_SCALE`; None where fewer than two keypoints are inside.

    Args:
        xy_truth: (F, K, 2) one camera's projected truth, pixels. size_wh: (W, H).
    """
    W, H = size_wh
    rois = []
    for xy in xy_truth:
        ok = np.isfinite(xy).all(-1) & (xy[:, 0] >= -0.5) & (xy[:, 0] <= W - 0.5) & \
            (xy[:, 1] >= -0.5) & (xy[:, 1] <= H - 0.5)
        if ok.sum() < 2:
            rois.append(None)
            continue
        p = xy[ok]
        rois.append(roi_from_box(np.concatenate([p.min(0), p.max(0)]), ROI_SCALE))
    return rois


def blazepose_on_truth_boxes(root: Path, rig, xy_truth: np.ndarray, frames: int,
                             model: str = "full") -> tuple[np.ndarray, np.ndarray]:
    """The peer's 2D: BlazePose ``model`` on each frame's true-box region (see the module
    docstring) of each camera's video in ``root/videos``.

    Args:
        xy_truth: (C, F, K, 2) the truth's projections (BlazePose's 33 keypoints), pixels.
    Returns:
        xy (C, F, 33, 2) pixels (NaN: no region) and their visibility (C, F, 33).
    """
    landmarker = PoseLandmarker(model_path(landmark_model_name(model)), num_threads=1,
                                flip=False)
    C = len(rig)
    xy = np.full((C, frames, NUM_BODY, 2), np.nan)
    conf = np.zeros((C, frames, NUM_BODY))
    for c, cam in enumerate(rig):
        rois = truth_box_rois(xy_truth[c, :frames], cam.size_wh)
        info = probe_source(find_source(root / "videos", cam.name), cam.name)
        with FrameReader(info, frames) as reader:
            for f, rgb in reader:
                if rois[f] is None:
                    continue
                res = landmarker(rgb, rois[f])
                xy[c, f], conf[c, f] = res.xy[:NUM_BODY], res.visibility[:NUM_BODY]
    return xy, conf
