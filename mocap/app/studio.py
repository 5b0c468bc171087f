"""Session folders from the virtual studio (``mocap simulate``, ``mocap demo``, the tests
and benchmarks) and the pipeline's accuracy against their ground truth (``gt.npz``)."""
from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import tomli_w

from calibration import Rig

from ..evaluate import coverage, mpjpe_mm
from ..io.openpose import write_openpose_frame
from ..keypoints import get_format
from ..simulate import Actor, ErrorModel, Take, load_rig_template, simulate_take
from ..types import Points3D, load_npz, save_npz

log = logging.getLogger(__name__)

__all__ = ["StudioTake", "simulate_session", "accuracy", "write_session", "write_body_session"]


@dataclass(frozen=True)
class StudioTake:
    """A take to simulate.

    Attributes:
        rig: rig template name or file. motion: ground-truth motion. frames, fps: the take.
        format: keypoint format the simulated detector reports. height_m: the actor's height.
        seed: random seed. offsets: per-camera frame offsets (cameras running late), or None.
        heatmaps: render heatmaps. clean: a perfect detector (no noise, outliers, swaps or
        missing frames).
    """

    rig: str = "studio4"
    motion: str = "walk"
    frames: int = 150
    fps: float = 30.0
    format: str = "body25"
    height_m: float = 1.75
    seed: int = 0
    offsets: "tuple[int, ...] | None" = None
    heatmaps: bool = True
    clean: bool = False


def write_session(folder: "str | Path", rig: Rig, take: Take, settings: "dict | None" = None,
                  info: "dict | None" = None) -> Path:
    """Write a take as a session folder.

    Layout: ``calibration.toml`` (anipose style), ``pose/<cam>/<cam>_<frame>_keypoints.json``
    (OpenPose JSON), ``heatmaps/<cam>.npz`` when the take has heatmaps, ``session.toml``
    (fps, keypoint format, and the simulation's description under ``[simulate]``) and
    ``gt.npz`` (ground truth; never read by the pipeline, only by evaluation).
    """
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    det = take.detections
    rig.save(root / "calibration.toml")
    for c, name in enumerate(det.camera_names):
        cam_dir = root / "pose" / name
        cam_dir.mkdir(parents=True, exist_ok=True)
        for f in range(det.num_frames):
            write_openpose_frame(cam_dir / f"{name}_{f:012d}_keypoints.json", det.xy[c, f],
                                 det.conf[c, f])
        if det.heatmaps is not None:
            save_npz(root / "heatmaps" / f"{name}.npz", heatmaps=det.heatmaps[c],
                     affine=det.heatmap_affine[c])
    doc = {"take": {"fps": float(det.fps)}, "detect": {"format": det.format}}
    for k, v in (settings or {}).items():
        doc.setdefault(k, {}).update(v)
    sim = {"actors": json.dumps([asdict(a) for a in take.actors]),
           "camera_offsets": [int(o) for o in take.camera_offsets]}
    sim.update(info or {})
    doc["simulate"] = sim
    with open(root / "session.toml", "wb") as fh:
        tomli_w.dump(doc, fh)
    fmt = get_format(det.format)
    save_npz(root / "gt.npz", xyz=take.gt_xyz, joint_names=np.array(fmt.joint_names),
             fps=np.array(det.fps), joints=take.gt_joints, local_R=take.gt_local_R,
             root_R=take.gt_root_R, root_pos=take.gt_root_pos,
             camera_offsets=take.camera_offsets, camera_names=np.array(det.camera_names),
             heights_m=np.array([a.height_m for a in take.actors]))
    return root


def write_body_session(folder: "str | Path", rig: Rig, body_take,
                       settings: "dict | None" = None, info: "dict | None" = None) -> Path:
    """Write a body-model take (:class:`mocap.simulate.bodymodel.BodyTake`) as a session
    folder (:func:`write_session`) plus ``gt_body.npz``: the body model kind, fitted joint
    names, true ``betas`` (P, B), ``heights_m`` (P,), ``global_orient`` (F, P, 3),
    ``body_pose`` (F, P, Jb - 1, 3) and ``transl`` (F, P, 3)."""
    m = body_take.model
    root = write_session(folder, rig, body_take.take, settings,
                         {"body_model": m.kind, **(info or {})})
    save_npz(root / "gt_body.npz", surface_model_type=np.array(m.kind),
             fitted_joints=np.array(m.fitted), shape_names=np.array(m.shape_names),
             betas=body_take.betas, heights_m=body_take.heights_m,
             global_orient=body_take.global_orient, body_pose=body_take.body_pose,
             transl=body_take.transl)
    return root


def simulate_session(take: StudioTake, folder: "str | Path") -> Path:
    """Simulate ``take`` and write it as a session folder (with ``gt.npz``); returns it."""
    rig = load_rig_template(take.rig)
    model = ErrorModel.perfect() if take.clean else ErrorModel()
    actor = Actor(motion=take.motion, height_m=take.height_m, seed=take.seed)
    log.info("simulating %d frames of %r seen by %d cameras of rig %r", take.frames,
             take.motion, len(rig), take.rig)
    simulated = simulate_take(rig, [actor], take.frames, take.fps, take.format, model,
                              seed=take.seed,
                              camera_offsets=list(take.offsets) if take.offsets else None,
                              heatmaps=take.heatmaps)
    return write_session(Path(folder), rig, simulated,
                         info={"rig": str(take.rig), "motion": take.motion, "seed": take.seed})


def accuracy(session: "str | Path", out: "str | Path") -> list[tuple[str, float, float]]:
    """The pipeline's 3D keypoints against the session's ground truth.

    Returns:
        ``(label, MPJPE in millimetres, fraction of ground-truth joints reconstructed)`` for
        the raw triangulation and the filtered keypoints.
    """
    gt = load_npz(Path(session) / "gt.npz", ("xyz",), "ground truth")["xyz"]
    rows = []
    for label, name in (("triangulated (raw)", "points3d_raw.npz"),
                        ("filtered", "points3d.npz")):
        p = Points3D.load(Path(out) / name)
        rows.append((label, mpjpe_mm(p.xyz, gt), coverage(p.xyz, gt)))
    return rows
