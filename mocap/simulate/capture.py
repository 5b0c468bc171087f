"""Every camera of a rig watching the same people: the rig-level loop of the simulated 2D
detector, shared by the kinematic actors' takes (:mod:`.studio`) and the body model's
(:mod:`.bodymodel`).

A camera that runs ``o`` frames late sees the people as they are ``o`` frames later; the
caller describes them at each offset as a :class:`Scene`. The detector's random draws come
from one generator, consumed camera by camera in rig order, so that a seed gives one take.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

import numpy as np

from calibration import Camera, Rig

from ..errors import SimulationError
from ..keypoints import KeypointFormat, get_format
from ..types import Detections2D
from .observe import ErrorModel, camera_heatmaps, observe, occluded

log = logging.getLogger(__name__)

__all__ = ["Scene", "check_take_args", "detect_in_camera", "observe_rig"]


@dataclass(frozen=True)
class Scene:
    """The people as one camera sees them (at the reference frames plus its offset).

    Attributes:
        marks: (F, P, J, 3) keypoints of the take's format, world metres.
        cap_a, cap_b: (F, S, 3) end points of the occluding capsules' axes (S over all
            people), world metres; NaN for a person out of the studio. cap_r: (S,) radii,
            metres.
        pelvis: (F, P, 3) pelvis joints, world metres (how far each person is from a camera).
        gone: (F, P) bool: the person is out of the studio (never detected).
    """

    marks: np.ndarray
    cap_a: np.ndarray
    cap_b: np.ndarray
    cap_r: np.ndarray
    pelvis: np.ndarray
    gone: np.ndarray


def check_take_args(rig: Rig, actors, num_frames: int, fps: float, fmt: str,
                    camera_offsets: "list[int] | None",
                    ) -> tuple[tuple, KeypointFormat, np.ndarray]:
    """Validate a take's arguments.

    Returns:
        the actors as a tuple, the keypoint format, (C,) int camera frame offsets (default
        zeros).
    Raises:
        SimulationError: no frames, a rate <= 0, no actors, or offsets not one per camera.
    """
    if num_frames < 1 or fps <= 0:
        raise SimulationError(f"need num_frames >= 1 and fps > 0, found {num_frames}, {fps}")
    actors = tuple(actors)
    if not actors:
        raise SimulationError("need at least one actor")
    kf = get_format(fmt)
    C = len(rig)
    offsets = np.zeros(C, int) if camera_offsets is None else np.asarray(camera_offsets, int)
    if offsets.shape != (C,):
        raise SimulationError(f"camera_offsets must have {C} entries, found {offsets.shape}")
    return actors, kf, offsets


def _hide_absent(obs: dict, gone: np.ndarray) -> dict:
    """:func:`observe`'s output with the people out of the studio (``gone`` (F, P)) missing."""
    if not gone.any():
        return obs
    obs = dict(obs)
    obs["xy"] = np.where(gone[..., None, None], np.nan, obs["xy"])
    obs["conf"] = np.where(gone[..., None], 0.0, obs["conf"]).astype(np.float32)
    obs["outlier"] = obs["outlier"] & ~gone[..., None]
    obs["missing"] = obs["missing"] | gone
    return obs


def detect_in_camera(cam: Camera, scene: Scene, heights_m: np.ndarray,
                     error_model: ErrorModel, kf: KeypointFormat, rng: np.random.Generator,
                     ) -> tuple[np.ndarray, np.ndarray, dict]:
    """One camera's detections of a scene.

    Args:
        heights_m: (P,) standing heights, metres (the person's size in pixels scales the
            detector's errors). rng: the detector's draws (consumed).
    Returns:
        uv (F, P, J, 2) exact pixel positions, hidden (F, P, J) bool self-occlusion, and
        :func:`observe`'s dict (people out of the studio missing).
    """
    F, P, J = scene.marks.shape[:3]
    uv, depth = cam.project(scene.marks, return_depth=True)
    hidden = occluded(cam.center, scene.marks.reshape(F, P * J, 3), scene.cap_a, scene.cap_b,
                      scene.cap_r).reshape(F, P, J)
    z_pelvis = cam.world_to_cam(scene.pelvis)[..., 2]
    person_px = cam.K[1, 1] * heights_m / np.maximum(z_pelvis, 0.1)
    obs = observe(uv, depth, hidden, cam.size_wh, person_px, error_model,
                  kf.flip_permutation, rng)
    return uv, hidden, _hide_absent(obs, scene.gone)


def observe_rig(rig: Rig, scene_at: Callable[[int], Scene], offsets: np.ndarray,
                num_frames: int, heights_m: np.ndarray, error_model: ErrorModel,
                kf: KeypointFormat, fps: float, rng: np.random.Generator,
                heatmaps: bool = False, heatmap_size: int = 64,
                ) -> tuple[Detections2D, dict]:
    """Every camera's detections.

    Args:
        scene_at: the :class:`Scene` at a camera offset (frames; called once per distinct
            offset). offsets: (C,) int frames by which each camera runs late.
        heights_m: (P,) standing heights, metres. rng: the detector's draws, consumed camera
            by camera in rig order.
        heatmaps: also render (C, F, P, J, h, w) heatmaps (memory: C*F*P*J*h*w*2 bytes).
    Returns:
        the detections and the per-camera diagnostics: outlier (F, P, J), swapped (F, P),
        hidden (F, P, J), missing (F, P) booleans, keyed by camera name.
    """
    C, F, P, J = len(rig), num_frames, len(heights_m), kf.num_joints
    xy = np.full((C, F, P, J, 2), np.nan)
    conf = np.zeros((C, F, P, J), np.float32)
    hms = np.zeros((C, F, P, J, heatmap_size, heatmap_size), np.float16) if heatmaps else None
    aff = np.zeros((C, F, P, 2, 3)) if heatmaps else None
    truth, scenes = {}, {}
    for c, cam in enumerate(rig):
        o = int(offsets[c])
        if o not in scenes:
            scenes[o] = scene_at(o)
        uv, hidden, obs = detect_in_camera(cam, scenes[o], heights_m, error_model, kf, rng)
        xy[c], conf[c] = obs["xy"], obs["conf"]
        truth[cam.name] = dict(outlier=obs["outlier"], swapped=obs["swapped"], hidden=hidden,
                               missing=obs["missing"])
        if heatmaps:
            aff[c], hms[c] = camera_heatmaps(obs, uv, heatmap_size)
        log.debug("camera %s simulated", cam.name)
    det = Detections2D(xy=xy, conf=conf, format=kf.name, camera_names=rig.names, fps=fps,
                       heatmaps=hms, heatmap_affine=aff)
    return det, truth
