"""Main-subject mode on real data: the Pose2Sim 0.4.15 demo (4 cameras, OpenPose BODY_25B,
1 to 3 people per file: the actor and people walking behind), checked frame by frame against
the demo's reference markers (``opensim/Balancing_for_IK.trc``)."""
from __future__ import annotations

import re

import numpy as np
import pytest

from calibration import Rig
from mocap.keypoints import get_format
from mocap.io.openpose import read_openpose_folder
from mocap.settings import AssociateSettings
from mocap.associate import identify_people
from mocap.triangulate import triangulate
from mocap.types import Detections2D

pytestmark = [pytest.mark.network, pytest.mark.slow]


@pytest.fixture(scope="module")
def demo():
    from mocap.datasets import pose2sim_demo
    return pose2sim_demo("0.4.15") / "Demo"


def _detections(demo, rig) -> Detections2D:
    per_cam = [read_openpose_folder(demo / "pose" / f"cam{i}_json", "body25b")
               for i in range(1, len(rig) + 1)]
    F = min(xy.shape[0] for xy, _, _ in per_cam)
    K = max(xy.shape[1] for xy, _, _ in per_cam)
    J = per_cam[0][0].shape[2]
    xy = np.full((len(rig), F, K, J, 2), np.nan)
    conf = np.zeros((len(rig), F, K, J), np.float32)
    for c, (x, cf, _) in enumerate(per_cam):
        xy[c, :, :x.shape[1]], conf[c, :, :x.shape[1]] = x[:F], cf[:F]
    return Detections2D(xy=xy, conf=conf, format="body25b", camera_names=rig.names, fps=60.0)


def _canonical(marker: str) -> str:
    """``RBigToe`` -> ``right_big_toe``, ``Nose`` -> ``nose``."""
    m = re.match(r"^([RL])([A-Z].*)$", marker)
    base = m.group(2) if m else marker
    base = re.sub(r"(?<!^)([A-Z])", r"_\1", base).lower()
    return (("right_" if m.group(1) == "R" else "left_") + base) if m else base


def _reference(demo) -> tuple[list[str], np.ndarray]:
    """Marker names and positions (F, M, 3) in the calibration frame, metres."""
    lines = (demo / "opensim" / "Balancing_for_IK.trc").read_text().splitlines()
    names = [n for n in lines[3].split("\t")[2:] if n]
    rows = [[float(v) for v in line.split("\t")[2:2 + 3 * len(names)]]
            for line in lines[5:] if line.strip()]
    trc = np.array(rows).reshape(len(rows), len(names), 3)
    return names, trc[..., [2, 0, 1]]        # trc (X, Y, Z) = calibration (y, z, x)


def test_main_subject_is_the_actor_in_every_frame(demo):
    rig = Rig.load(demo / "calibration" / "Calib_qualisys.toml")
    det = _detections(demo, rig)
    assert det.shape[2] >= 2                                            # several people
    people, ids = identify_people(det, rig, AssociateSettings(mode="main_subject"))
    assert ids.num_people == 1 and ids.frames_seen[0] == det.num_frames
    pts = triangulate(people, rig)
    names, ref = _reference(demo)
    kf = get_format("body25b")
    pairs = [(i, kf.joint_names.index(_canonical(n))) for i, n in enumerate(names)
             if _canonical(n) in kf.joint_names]
    assert len(pairs) >= 15
    mi, ji = map(list, zip(*pairs))
    F = min(len(ref), det.num_frames)
    err = np.linalg.norm(pts.xyz[:F, 0][:, ji] - ref[:F][:, mi], axis=-1)   # (F, M) metres
    per_frame = np.nanmedian(err, axis=1)
    assert np.isfinite(per_frame).all()
    assert per_frame.max() < 0.06, per_frame.max()                       # every frame
    assert np.median(per_frame) < 0.04
    # Multi mode finds the actor and somebody else, metres away.
    multi, ids_m = identify_people(det, rig, AssociateSettings(mode="multi"))
    assert ids_m.num_people >= 2
    xyz = triangulate(multi, rig).xyz[:F][:, :, ji]                     # (F, T, M, 3)
    far = np.nanmedian(np.linalg.norm(xyz - ref[:F, None][:, :, mi], axis=-1), axis=(0, 2))
    assert (far < 0.04).sum() == 1 and (far > 1.0).sum() == ids_m.num_people - 1
