"""Real data: the Pose2Sim 0.4.15 demo (OpenPose BODY_25B JSON of 4 cameras, a Qualisys
calibration and the reference TRC Pose2Sim made), fetched pinned by hash into the cache."""
import re

import numpy as np
import pytest

from exporters.trc import read_trc
from mocap.filter import bone_lengths
from mocap.keypoints import get_format
from mocap.filter import filter_points
from mocap.settings import FilterSettings, TriangulateSettings
from mocap.triangulate import select_main_person, triangulate

pytestmark = [pytest.mark.network, pytest.mark.slow]


def _canonical(trc_name: str) -> str:
    """Pose2Sim's BODY_25B marker name -> our canonical joint name."""
    special = {"Neck": "upper_neck", "Head": "head_top", "Nose": "nose"}
    if trc_name in special:
        return special[trc_name]
    side = {"R": "right_", "L": "left_"}[trc_name[0]]
    return side + re.sub(r"(?<!^)([A-Z])", r"_\1", trc_name[1:]).lower()


@pytest.fixture(scope="module")
def demo():
    from mocap.datasets import pose2sim_demo, pose2sim_demo_capture
    from mocap.errors import DataFetchError
    try:
        root = pose2sim_demo("0.4.15") / "Demo"
    except DataFetchError as exc:
        pytest.skip(f"Pose2Sim demo not available: {exc}")
    rig, det = pose2sim_demo_capture()
    F = det.num_frames
    ref = read_trc(root / "opensim" / "Balancing_for_IK.trc", up="file")
    kf = get_format("body25b")
    idx = np.array([kf.joint_names.index(_canonical(n)) for n in ref.marker_names])
    ref_xyz = ref.xyz[..., [2, 0, 1]]          # the TRC's axes are (y, z, x) of the calibration's
    return rig, det, ref_xyz[:F], idx


def _median_reprojection_px(rig, det, xyz, idx):
    """Median over every detection of the main person (confidence >= 0.2) of the distance
    between the detection and the projection of xyz (F, M, 3), pixels."""
    errs = []
    for c, cam in enumerate(rig):
        e = np.linalg.norm(cam.project(xyz) - det.xy[c, :, 0][:, idx], axis=-1)
        ok = (det.conf[c, :, 0][:, idx] >= 0.2) & np.isfinite(e)
        errs.append(e[ok])
    return float(np.median(np.concatenate(errs)))


def _bone_std_mm(xyz, idx):
    """Mean over bones of the standard deviation of the bone's length over the take, mm."""
    pos = {j: i for i, j in enumerate(idx)}
    bones = np.array([(pos[a], pos[b]) for a, b in get_format("body25b").bone_indices
                      if a in pos and b in pos])
    return 1000.0 * float(np.nanmean(np.nanstd(bone_lengths(xyz, bones), axis=0)))


def test_pose2sim_demo_beats_the_shipped_trc(demo):
    rig, det, ref_xyz, idx = demo
    main = select_main_person(det)
    raw = triangulate(main, rig, TriangulateSettings())
    ours = filter_points(raw, FilterSettings(), rig)
    xyz = ours.xyz[:, 0][:, idx]
    assert np.isfinite(xyz).all(-1).mean() > 0.98
    ours_px = _median_reprojection_px(rig, main, xyz, idx)
    ref_px = _median_reprojection_px(rig, main, ref_xyz, idx)
    assert ours_px <= ref_px
    assert _bone_std_mm(xyz, idx) < 0.5 * _bone_std_mm(ref_xyz, idx)
    # Same person as Pose2Sim's reference: within a few centimetres on average.
    assert np.nanmean(np.linalg.norm(xyz - ref_xyz, axis=-1)) < 0.05


def test_the_bystander_is_not_triangulated(demo):
    rig, det, ref_xyz, idx = demo
    assert det.shape[2] >= 2                                     # a bystander is in the files
    main = select_main_person(det)
    raw = triangulate(main, rig)
    dist = np.linalg.norm(raw.xyz[:, 0][:, idx] - ref_xyz, axis=-1)     # (F, M) metres
    per_frame = np.nanmedian(dist, axis=1)
    assert np.isfinite(per_frame).all() and per_frame.max() < 0.06
