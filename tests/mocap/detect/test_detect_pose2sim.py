"""BlazePose on real video: the Pose2Sim SinglePerson demo (pose2sim==0.10.49, 4 cameras x 100
frames at 60 fps) against the OpenPose BODY_25B detections and the reference .trc of the same
take shipped in pose2sim==0.4.15, with that demo's Qualisys calibration.

Fetches pinned wheels (pose2sim, and mediapipe for the model files) into the cache once.
"""
from __future__ import annotations

import shutil
import warnings

import numpy as np
import pytest

from calibration.world import similarity_from_points
from exporters.trc import read_trc
from mocap.datasets import pose2sim_demo
from mocap.detect.geometry import apply_affine
from mocap.detect.video import check_sources, probe_source
from mocap.keypoints import get_format
from mocap.io.openpose import read_openpose_folder
from mocap.app.pipeline import run as run_pipeline
from mocap.types import Detections2D, Points3D

pytestmark = [pytest.mark.network, pytest.mark.slow]

CAMERAS = ("cam_01", "cam_02", "cam_03", "cam_04")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A session (Qualisys calibration + the four videos, no pose/) run through `mocap run`."""
    old = pose2sim_demo("0.4.15") / "Demo"
    videos = pose2sim_demo("0.10.49") / "Demo_SinglePerson" / "videos"
    root = tmp_path_factory.mktemp("pose2sim_session")
    shutil.copy(old / "calibration" / "Calib_qualisys.toml", root / "calibration.toml")
    (root / "videos").mkdir()
    for i, cam in enumerate(CAMERAS, start=1):
        (root / "videos" / f"{cam}.mp4").symlink_to(videos / f"cam0{i}.mp4")
    (root / "session.toml").write_text("[detect]\nworkers = 2\n")
    manifest = run_pipeline(root)
    return {"root": root, "old": old, "manifest": manifest,
            "det": Detections2D.load(root / "out" / "detections.npz")}


def test_videos_are_what_the_demo_says(demo):
    infos = [probe_source(p, c) for c, p in
             zip(CAMERAS, sorted((demo["root"] / "videos").iterdir()))]
    assert [(i.num_frames, i.fps) for i in infos] == [(100, 60.0)] * 4
    assert check_sources(infos) == 100


def test_detections_and_heatmaps_have_the_documented_shapes(demo):
    det = demo["det"]
    assert det.shape == (4, 100, 1, 33) and det.format == "blazepose33" and det.fps == 60.0
    assert det.heatmaps.shape == (4, 100, 1, 33, 64, 64)
    assert np.isfinite(det.xy).all(), "the person is followed in every frame"
    # the heatmap's peak, mapped through the affine, sits on the keypoint (within a cell)
    hm = det.heatmaps[:, ::10, 0].astype(np.float32)               # (4, 10, 33, 64, 64)
    flat = hm.reshape(*hm.shape[:3], -1).argmax(-1)
    cells = np.stack([flat % 64, flat // 64], -1).astype(float)
    aff = det.heatmap_affine[:, ::10, 0]
    peaks = np.einsum("cfij,cfkj->cfki", aff[..., :2], cells) + aff[:, :, None, :, 2]
    cell_px = np.hypot(aff[..., 0, 0], aff[..., 1, 0])[..., None]
    visible = det.conf[:, ::10, 0] > 0.8
    dist = np.linalg.norm(peaks - det.xy[:, ::10, 0], axis=-1) / cell_px
    assert np.median(dist[visible]) < 0.5
    assert np.allclose(apply_affine(aff[0, 0], cells[0, 0]), peaks[0, 0])


def test_2d_keypoints_agree_with_openpose(demo):
    """Median error on the shared body joints within 3 % of the person's height."""
    det = demo["det"]
    b25b, bp = get_format("body25b"), get_format("blazepose33")
    shared = [n for n in b25b.joint_names if n in bp.joint_names]
    ours_idx = [bp.joint_names.index(n) for n in shared]
    op_idx = [b25b.joint_names.index(n) for n in shared]
    rel = []
    for c in range(4):
        op_xy, _, _ = read_openpose_folder(demo["old"] / "pose" / f"cam{c + 1}_json", "body25b")
        assert op_xy.shape[0] == 100
        ours = det.xy[c, :, 0][:, ours_idx]                            # (F, K, 2)
        theirs = op_xy[:, :, op_idx]                                   # (F, P, K, 2)
        err = np.linalg.norm(theirs - ours[:, None], axis=-1)          # (F, P, K)
        with warnings.catch_warnings():                  # frames with nobody: all-NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            person = np.nanargmin(np.where(np.isfinite(err).any(-1),
                                           np.nanmedian(err, -1), np.inf), axis=1)
        f = np.arange(100)
        who = op_xy[f, person]                                         # (F, J, 2) all joints
        height = np.nanmax(who[..., 1], -1) - np.nanmin(who[..., 1], -1)
        rel.append(err[f, person] / height[:, None])
    rel = np.concatenate(rel)
    assert np.nanmedian(rel) < 0.03, np.nanmedian(rel)


def test_3d_keypoints_agree_with_the_reference_trc(demo):
    """`mocap run` on the videos: median 3D error below 4 cm after a similarity alignment."""
    trc = read_trc(demo["old"] / "opensim" / "Balancing_for_IK.trc", up="file")
    ref = trc.xyz[..., [2, 0, 1]]            # the .trc's axes are (y, z, x) of the calibration
    pts = Points3D.load(demo["root"] / "out" / "points3d.npz")
    body25, bp = get_format("body25"), get_format("blazepose33")
    pairs = [(m, bp.joint_names.index(body25.joint_names[body25.index(n)]))
             for m, n in enumerate(trc.marker_names)
             if n in body25.native_names and body25.joint_names[body25.index(n)] in
             bp.joint_names]
    assert len(pairs) >= 15
    ours = np.stack([pts.xyz[:, 0, j] for _, j in pairs], 1)
    theirs = np.stack([ref[:, m] for m, _ in pairs], 1)
    ok = np.isfinite(ours).all(-1) & np.isfinite(theirs).all(-1)
    assert ok.mean() > 0.95
    T, s = similarity_from_points(ours[ok], theirs[ok])
    aligned = s * ours @ T[:3, :3].T + T[:3, 3]
    err = np.linalg.norm(aligned - theirs, axis=-1)[ok]
    assert 0.9 < s < 1.1
    assert np.median(err) < 0.04, np.median(err)
