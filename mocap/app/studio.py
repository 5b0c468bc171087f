"""Session folders from the virtual studio (``mocap simulate``, ``mocap demo``) and the
pipeline's accuracy against their ground truth (``gt.npz``)."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from ..evaluate import coverage, mpjpe_mm
from ..simulate import Actor, ErrorModel, load_rig_template, simulate_take, write_session
from ..types import Points3D, load_npz

log = logging.getLogger(__name__)

__all__ = ["StudioTake", "simulate_session", "accuracy"]


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
