"""Pose2Sim's own triangulation and filtering (``Pose2Sim.triangulation.triangulate_all``,
``Pose2Sim.filtering.filter_all``), run from the pinned ``pose2sim==0.10.49`` wheel (imported
from the wheel file itself, not installed) on a studio take's 2D detections, for
``benchmarks/biomechanics.py``.

The take becomes a Pose2Sim project: ``Config.toml`` (the wheel's ``Demo_SinglePerson`` one:
its triangulation and Butterworth 6 Hz filtering defaults; frame rate set, every frame kept,
no figures, no C3D), ``calibration/Calib.toml`` (our rig in the anipose layout Pose2Sim reads)
and ``pose/<camera>_json/`` (OpenPose JSON: BODY_25, or BODY_25B for ``body25b`` detections). Needs Pose2Sim's imports besides ours:
``rtoml``, ``anytree``, ``statsmodels``, ``filterpy``, ``c3d`` (the ``peers`` extra).
"""
from __future__ import annotations

import logging
import sys
import zipfile
from pathlib import Path

import numpy as np

from exporters.trc import read_trc
from mocap.datasets import fetch_wheel
from mocap.io.openpose import write_openpose_frame
from mocap.keypoints import get_format

VERSION = "0.10.49"
#: Our keypoint formats -> Pose2Sim's ``pose_model``.
POSE_MODELS = {"body25": "BODY_25", "body25b": "BODY_25B"}


def _config(project: Path, fps: float, pose_model: str = "BODY_25") -> dict:
    """The Demo_SinglePerson Config.toml of the wheel, for this project."""
    import rtoml
    with zipfile.ZipFile(fetch_wheel("pose2sim", VERSION)) as z:
        cfg = rtoml.loads(z.read("Pose2Sim/Demo_SinglePerson/Config.toml").decode())
    cfg["project"].update(project_dir=str(project), frame_rate=int(round(fps)),
                          frame_range="all", multi_person=False)
    cfg["pose"]["pose_model"] = pose_model
    cfg["triangulation"].update(make_c3d=False, show_interp_indices=False)
    cfg["filtering"].update(display_figures=False, save_filt_plots=False, make_c3d=False)
    (project / "Config.toml").write_text(rtoml.dumps(cfg))
    return cfg


def _write_project(project: Path, det, rig) -> None:
    (project / "calibration").mkdir(parents=True)
    rig.save(project / "calibration" / "Calib.toml")
    for c, name in enumerate(det.camera_names):
        folder = project / "pose" / f"{name}_json"
        folder.mkdir(parents=True)
        for f in range(det.num_frames):
            write_openpose_frame(folder / f"{name}_{f:06d}.json", det.xy[c, f], det.conf[c, f])


def pose2sim_keypoints(det, rig, project: Path, filtered: bool = True) -> np.ndarray:
    """(F, J, 3) keypoints in ``det``'s format, metres, our world frame (Z up), NaN where
    missing, from Pose2Sim's triangulation and filtering of ``det`` (one person, BODY_25 or
    BODY_25B); ``filtered=False``: its triangulation alone (no filter)."""
    sys.path.insert(0, str(fetch_wheel("pose2sim", VERSION)))
    from Pose2Sim.filtering import filter_all
    from Pose2Sim.triangulation import triangulate_all
    _write_project(project, det, rig)
    cfg = _config(project, det.fps, POSE_MODELS[det.format])
    level = logging.getLogger().level
    try:
        triangulate_all(cfg)
        if filtered:
            filter_all(cfg)
    finally:
        logging.getLogger().setLevel(level)
    trc = sorted(p for p in (project / "pose-3d").glob("*.trc") if ("filt" in p.name) == filtered)[-1]
    data = read_trc(trc, up="file")
    world = data.xyz[..., [2, 0, 1]]               # Pose2Sim's TRC axes are (y, z, x)
    fmt = get_format(det.format)
    names = {"CHip": "MidHip"}
    out = np.full((det.num_frames, fmt.num_joints, 3), np.nan)
    frames = data.frame_numbers - data.frame_numbers.min()
    for m, name in enumerate(data.marker_names):
        native = names.get(name, name)
        if native in fmt.native_names and frames.max() < det.num_frames:
            out[frames, fmt.native_names.index(native)] = world[:, m]
    return out
