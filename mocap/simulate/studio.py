"""The virtual studio: people moving in front of a rig, and what every camera detects.

``simulate_take`` is pure (seeded, deterministic): rig + people + error model -> detections and
ground truth. :func:`mocap.app.studio.write_session` lays the result out as a session folder
that ``mocap run`` reads exactly as it reads a real capture.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from calibration import Rig

from ..keypoints import KeypointFormat
from ..types import Detections2D
from .body import LANDMARK_NAMES, Body
from .capture import Scene, check_take_args, observe_rig
from .motions import animate
from .observe import ErrorModel

__all__ = ["Actor", "Take", "simulate_take"]


@dataclass(frozen=True)
class Actor:
    """One simulated person.

    Attributes:
        motion: a motion name (see :mod:`.motions`).
        height_m: standing height in metres.
        seed: varies proportions and the motion's speed, phase and direction.
        xy_offset_m: where the motion is centred on the floor plan, metres.
        waypoints_m: optional ((x, y), ...) floor-plan polyline, metres, walked at
            ``speed_m_per_s`` instead of the motion's own path; the walk starts when the actor
            first enters (the first of ``active_frames``).
        speed_m_per_s: walking speed along ``waypoints_m``.
        active_frames: optional ((start, stop), ...) reference-frame ranges (stop excluded) in
            which the actor is in the studio; outside them nobody sees the actor (left through
            a door), and the ground truth is NaN. Empty: present in every frame.
    """

    motion: str = "walk"
    height_m: float = 1.75
    seed: int = 0
    xy_offset_m: tuple[float, float] = (0.0, 0.0)
    waypoints_m: tuple[tuple[float, float], ...] = ()
    speed_m_per_s: float = 1.3
    active_frames: tuple[tuple[int, int], ...] = ()

    @property
    def body(self) -> Body:
        return Body(height_m=self.height_m, seed=self.seed)

    def present(self, frames: np.ndarray) -> np.ndarray:
        """(F,) bool: is the actor in the studio at these reference frame indices."""
        frames = np.asarray(frames)
        if not self.active_frames:
            return np.ones(frames.shape, bool)
        return np.any([(frames >= a) & (frames < b) for a, b in self.active_frames], axis=0)


@dataclass
class Take:
    """A simulated take: the detections every camera made and the ground truth.

    Attributes:
        detections: what the cameras saw (see :class:`mocap.types.Detections2D`).
        gt_xyz: (F, P, J, 3) true keypoints of the take's format, world metres; NaN while an
            actor is out of the studio (see ``Actor.active_frames``).
        gt_joints: (F, P, Jb, 3) true joints of the kinematic body, world metres.
        gt_local_R: (F, P, Jb, 3, 3) true local joint rotations; gt_root_R (F, P, 3, 3);
        gt_root_pos: (F, P, 3).
        camera_offsets: (C,) frames by which each camera runs late (frame f of camera c shows
            the instant of reference frame f + offset).
        truth: per-camera diagnostics: outlier (F, P, J), swapped (F, P), hidden (F, P, J),
            missing (F, P) booleans, keyed by camera name.
    """

    detections: Detections2D
    gt_xyz: np.ndarray
    gt_joints: np.ndarray
    gt_local_R: np.ndarray
    gt_root_R: np.ndarray
    gt_root_pos: np.ndarray
    camera_offsets: np.ndarray
    actors: tuple[Actor, ...]
    truth: dict = field(default_factory=dict)


def _animate_all(actors, F, fps, start):
    return [animate(a.body, a.motion, F, fps, seed=a.seed, start_frame=start,
                    xy_offset=a.xy_offset_m, waypoints=a.waypoints_m or None,
                    speed_m_per_s=a.speed_m_per_s,
                    path_start_s=(a.active_frames[0][0] / fps if a.active_frames else 0.0))
            for a in actors]


def _absent(actors, frames: np.ndarray) -> np.ndarray:
    """(F, P) bool: actor p is out of the studio at these reference frames."""
    return ~np.stack([a.present(frames) for a in actors], 1)


def _landmark_index(kf: KeypointFormat) -> np.ndarray:
    """(J,) the kinematic human's landmark of each keypoint of format ``kf``."""
    return np.array([LANDMARK_NAMES.index(n) for n in kf.joint_names])


def _scene(actors, anim: list, lm_idx: np.ndarray, frames: np.ndarray) -> Scene:
    """The actors, animated (:func:`_animate_all`) at reference ``frames`` (F,), as a camera
    sees them: capsules of the actors out of the studio are NaN."""
    marks = np.stack([a["landmarks"][:, lm_idx] for a in anim], 1)       # (F, P, J, 3)
    caps = [a.body.capsules() for a in actors]
    gone = _absent(actors, frames)                                        # (F, P)
    cap_a = np.concatenate([np.where(g[:, None, None], np.nan, an["joints"][:, ca])
                            for an, (ca, _, _), g in zip(anim, caps, gone.T)], 1)
    cap_b = np.concatenate([np.where(g[:, None, None], np.nan, an["joints"][:, cb])
                            for an, (_, cb, _), g in zip(anim, caps, gone.T)], 1)
    cap_r = np.concatenate([cr for _, _, cr in caps])
    pelvis = np.stack([an["joints"][:, 0] for an in anim], 1)            # (F, P, 3)
    return Scene(marks=marks, cap_a=cap_a, cap_b=cap_b, cap_r=cap_r, pelvis=pelvis, gone=gone)


def _take(det: Detections2D, actors: tuple, ref: list, lm_idx: np.ndarray,
          offsets: np.ndarray, truth: dict) -> Take:
    """The take: detections plus the ground truth of the reference animation ``ref``."""
    F = det.num_frames
    gone_ref = _absent(actors, np.arange(F))[..., None, None]
    return Take(
        detections=det,
        gt_xyz=np.where(gone_ref, np.nan, np.stack([a["landmarks"][:, lm_idx] for a in ref], 1)),
        gt_joints=np.stack([a["joints"] for a in ref], 1),
        gt_local_R=np.stack([a["local_R"] for a in ref], 1),
        gt_root_R=np.stack([a["root_R"] for a in ref], 1),
        gt_root_pos=np.stack([a["root_pos"] for a in ref], 1),
        camera_offsets=offsets, actors=actors, truth=truth)


def simulate_take(rig: Rig, actors: "list[Actor] | tuple[Actor, ...]", num_frames: int,
                  fps: float = 30.0, fmt: str = "body25",
                  error_model: ErrorModel = ErrorModel(), seed: int = 0,
                  camera_offsets: "list[int] | None" = None, heatmaps: bool = False,
                  heatmap_size: int = 64) -> Take:
    """Simulate a take.

    Args:
        rig: calibrated cameras. actors: the people (P of them).
        num_frames, fps: length and rate. fmt: keypoint format the detector reports.
        error_model: the detector's errors. seed: the detector's random draws.
        camera_offsets: (C,) integer frame offsets per camera (default zeros).
        heatmaps: also render (C, F, P, J, h, w) heatmaps (memory: C*F*P*J*h*w*2 bytes).
    """
    actors, kf, offsets = check_take_args(rig, actors, num_frames, fps, fmt, camera_offsets)
    lm_idx = _landmark_index(kf)
    ref = _animate_all(actors, num_frames, fps, 0)

    def scene_at(o: int) -> Scene:
        anim = ref if o == 0 else _animate_all(actors, num_frames, fps, o)
        return _scene(actors, anim, lm_idx, np.arange(num_frames) + o)

    heights = np.array([a.height_m for a in actors])
    det, truth = observe_rig(rig, scene_at, offsets, num_frames, heights, error_model, kf, fps,
                             np.random.default_rng(seed), heatmaps, heatmap_size)
    return _take(det, actors, ref, lm_idx, offsets, truth)
