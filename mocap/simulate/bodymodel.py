"""The virtual studio with a body model as the actor: Anny or SMPL moved through the studio's
motions, so that ground truth exists for joint rotations and shape, not only keypoints.

The motions of :mod:`mocap.simulate.motions` give named angles (hip flexion, knee flexion...)
in a body frame (x forward, y left, z up). Here they become local rotations of the model's
fitted joints, in the model's rest-frame axes (:mod:`mocap.body.model`):

- ball joints (pelvis, spine, hips, shoulders) turn about the body axes, as the kinematic
  human's do; the spine's flexion and twist are shared equally by the three spine joints;
- hinge joints (knees, elbows, ankles) turn about their anatomical flexion axis
  (:func:`mocap.body.anatomical_frames`), so they stay exact hinges on any model;
- the shoulders first lower the rest arm to hang straight down (Anny rests in an A-pose), so
  that the motions' arm angles mean what they mean for the kinematic human;
- neck, head, collars and wrists keep their rest pose.

The body is then placed like the kinematic human: on the motion's floor path, its lowest sole
vertex on the floor (z = 0) except in flight phases. Keypoints of any format come from the
model's keypoint regressors, the same ones the fitter uses. The 2D detector is the studio's
(:mod:`mocap.simulate.observe`).
"""
from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

import numpy as np
import torch

from calibration import Rig
from calibration.rotations import rotmat_to_rotvec, rotvec_to_rotmat

from ..body.model import (BodyModel, anatomical_frames, body_axes, forward_kinematics,
                          merged_weights, neutral_pose, rest_height, rest_joints,
                          rest_vertices, shape_coefficients, skin_points)
from ..body.regressors import keypoint_layer, keypoints_forward
from ..errors import SimulationError
from ..keypoints import get_format
from ..types import Detections2D
from .body import CAPSULES
from .capture import Scene, check_take_args, observe_rig
from .motions import MOTIONS, axis_rotation
from .observe import ErrorModel
from .studio import Actor, Take

log = logging.getLogger(__name__)

__all__ = ["BodyActor", "BodyTake", "animate_body", "body_keypoints", "draw_shape",
           "simulate_body_take"]


@dataclass(frozen=True)
class BodyActor:
    """One simulated person played by the body model.

    Attributes:
        motion: a motion name (see :mod:`mocap.simulate.motions`).
        seed: varies the motion (speed, phase, direction) and, without ``betas``, the shape.
        betas: the shape; empty: drawn from ``seed`` (:func:`draw_shape`).
        xy_offset_m: where the motion is centred on the floor plan, metres.
    """

    motion: str = "walk"
    seed: int = 0
    betas: tuple[float, ...] = ()
    xy_offset_m: tuple[float, float] = (0.0, 0.0)


@dataclass
class BodyTake:
    """A simulated take of body-model actors.

    Attributes:
        take: detections and the keypoint/joint ground truth as any studio take
            (``gt_joints`` are the fitted joints, ``gt_local_R`` their local rotations in the
            model's rest-frame axes, root excluded; ``gt_root_R`` the root rotation).
        model: the body model. betas: (P, B) true shapes; heights_m: (P,) their rest heights.
        global_orient: (F, P, 3) and body_pose (F, P, Jb - 1, 3) axis-angle; transl (F, P, 3).
    """

    take: Take
    model: BodyModel
    betas: np.ndarray
    heights_m: np.ndarray
    global_orient: np.ndarray
    body_pose: np.ndarray
    transl: np.ndarray


def draw_shape(model: BodyModel, seed: int) -> np.ndarray:
    """(B,) a plausible shape: uniform within 0.8 prior spreads of the prior mean, inside the
    model's bounds."""
    rng = np.random.default_rng(seed + 7919)
    b = model.shape_mean + model.shape_std * rng.uniform(-0.8, 0.8, model.num_betas)
    return np.clip(b, model.shape_lower, model.shape_upper)


@functools.lru_cache(maxsize=8)
def _layer64(model: BodyModel, fmt: str):
    return keypoint_layer(model, fmt, dtype=torch.float64)


def _about(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """(F, 3, 3) rotations by ``angle`` (F,) radians about a unit ``axis`` (3,)."""
    return rotvec_to_rotmat(np.asarray(angle, float)[:, None] * axis)


def _motion_rotations(model: BodyModel, angles: dict, F: int) -> np.ndarray:
    """(F, Jb, 3, 3) local rotations of the fitted joints, the root's excluded (identity),
    from a motion's named angles (see the module docstring)."""
    C = body_axes(model)
    frames = anatomical_frames(model)
    z = np.zeros(F)

    def g(k):
        return np.broadcast_to(angles.get(k, z), (F,))

    def body(R):
        return C @ R @ C.T

    rot = axis_rotation
    out = np.tile(np.eye(3), (F, len(model.fitted), 1, 1))
    arm_down = rotvec_to_rotmat(np.asarray(neutral_pose(model), float))
    by_canon = {c: model.fitted.index(n) for n, c in model.canonical.items()}
    for n in ("spine1", "spine2", "spine3"):
        out[:, by_canon[n]] = body(rot("y", g("spine_flex") / 3) @ rot("z", g("spine_yaw") / 3))
    for side, sgn in (("left", 1.0), ("right", -1.0)):
        out[:, by_canon[f"{side}_hip"]] = body(rot("x", sgn * g(f"{side}_hip_abd"))
                                               @ rot("y", -g(f"{side}_hip_flex")))
        out[:, by_canon[f"{side}_shoulder"]] = (
            body(rot("x", sgn * g(f"{side}_shoulder_abd")) @ rot("y", -g(f"{side}_shoulder_flex")))
            @ arm_down[by_canon[f"{side}_shoulder"]])
        for joint, key, sign in (("knee", "knee_flex", -1.0), ("elbow", "elbow_flex", 1.0),
                                 ("ankle", "ankle_dorsi", 1.0)):
            j = by_canon[f"{side}_{joint}"]
            out[:, j] = _about(frames[j][:, 0], sign * g(f"{side}_{key}"))
    return out


def _sole_vertices(model: BodyModel, betas: torch.Tensor) -> np.ndarray:
    """Indices of the rest vertices within 1.5 cm of the lowest one (the soles)."""
    up = body_axes(model)[:, 2]
    h = rest_vertices(model, shape_coefficients(model, betas)).numpy() @ up
    return np.flatnonzero(h < h.min() + 0.015)


def animate_body(model: BodyModel, actor: BodyActor, num_frames: int, fps: float,
                 start_frame: int = 0) -> dict:
    """Move a body model through a named motion.

    Returns:
        dict with ``betas`` (B,), ``rotations`` (F, Jb, 3, 3) local (root first: the global
        orientation), ``transl`` (F, 3) metres and ``joints`` (F, Jb, 3) metres, world frame.
    """
    if actor.motion not in MOTIONS:
        raise SimulationError(f"unknown motion {actor.motion!r}; expected one of "
                              f"{', '.join(MOTIONS)}")
    betas = np.asarray(actor.betas, float) if actor.betas else draw_shape(model, actor.seed)
    if betas.shape != (model.num_betas,):
        raise SimulationError(f"actor betas must have {model.num_betas} values, found "
                              f"{betas.shape}")
    F = num_frames
    t = (np.arange(F) + start_frame) / fps
    pose = MOTIONS[actor.motion](t, np.random.default_rng(actor.seed), F / fps)
    R = _motion_rotations(model, pose.angles, F)
    roll, yaw, tilt = (np.broadcast_to(pose.angles.get(k, np.zeros(F)), (F,))
                       for k in ("body_roll", "pelvis_yaw", "pelvis_tilt"))
    pelvis = axis_rotation("z", yaw) @ axis_rotation("y", tilt)
    R[:, 0] = (axis_rotation("z", pose.heading) @ axis_rotation("x", roll) @ pelvis
               @ body_axes(model).T)
    b = torch.as_tensor(betas)
    c = shape_coefficients(model, b)
    J_all = rest_joints(model, c)
    J = J_all[torch.as_tensor(model.fitted_index)]
    Rt = torch.as_tensor(R)
    pos, glob = forward_kinematics(model.fitted_parents, J, Rt, torch.zeros(F, 3,
                                                                          dtype=torch.float64))
    sole = _sole_vertices(model, b)
    W = merged_weights(model)[torch.as_tensor(sole)]
    soles = skin_points(rest_vertices(model, c)[torch.as_tensor(sole)], W, J, pos, glob).numpy()
    transl = np.zeros((F, 3))
    transl[:, :2] = pose.path_xy + np.asarray(actor.xy_offset_m, float) - J[0, :2].numpy()
    if pose.anchor_feet:
        by_canon = {c: model.fitted.index(n) for n, c in model.canonical.items()}
        ankles = pos[:, [by_canon["left_ankle"], by_canon["right_ankle"]], :2].numpy()
        transl[:, :2] = pose.path_xy + np.asarray(actor.xy_offset_m, float) - ankles.mean(1)
    transl[:, 2] = -soles[..., 2].min(1) + pose.flight
    joints = pos.numpy() + transl[:, None]
    return dict(betas=betas, rotations=R, transl=transl, joints=joints)


def body_keypoints(model: BodyModel, anim: dict, fmt: str) -> np.ndarray:
    """(F, K, 3) world keypoints of format ``fmt`` for an :func:`animate_body` result."""
    layer = _layer64(model, get_format(fmt).name)
    with torch.no_grad():
        _, kp, _ = keypoints_forward(layer, torch.as_tensor(anim["betas"]),
                                     torch.as_tensor(anim["rotations"]),
                                     torch.as_tensor(anim["transl"]))
    return kp.numpy()


def _capsules(model: BodyModel, height: float):
    """Occluding solids on the fitted joints (the kinematic human's table)."""
    by_canon = {c: model.fitted.index(n) for n, c in model.canonical.items()}
    a = np.array([by_canon[c[0]] for c in CAPSULES])
    b = np.array([by_canon[c[1]] for c in CAPSULES])
    return a, b, np.array([c[2] for c in CAPSULES]) * height


def _animate_all(model: BodyModel, actors: tuple, F: int, fps: float, start: int,
                 fmt: str) -> list:
    """:func:`animate_body` of every actor from reference frame ``start``, with its
    ``keypoints`` (F, K, 3) of format ``fmt``."""
    anims = [animate_body(model, a, F, fps, start_frame=start) for a in actors]
    for an in anims:
        an["keypoints"] = body_keypoints(model, an, fmt)
    return anims


def _scene(anim: list, caps: list) -> Scene:
    """The animated actors (:func:`_animate_all`) as a camera sees them; ``caps``: each
    actor's :func:`_capsules`."""
    F = anim[0]["joints"].shape[0]
    return Scene(marks=np.stack([an["keypoints"] for an in anim], 1),       # (F, P, J, 3)
                 cap_a=np.concatenate([an["joints"][:, ca]
                                       for an, (ca, _, _) in zip(anim, caps)], 1),
                 cap_b=np.concatenate([an["joints"][:, cb]
                                       for an, (_, cb, _) in zip(anim, caps)], 1),
                 cap_r=np.concatenate([cr for _, _, cr in caps]),
                 pelvis=np.stack([an["joints"][:, 0] for an in anim], 1),
                 gone=np.zeros((F, len(anim)), bool))


def _body_take(det: Detections2D, model: BodyModel, actors: tuple, ref: list,
               heights: np.ndarray, offsets: np.ndarray, truth: dict) -> BodyTake:
    """The take: detections plus the ground truth of the reference animation ``ref``."""
    rot = np.stack([an["rotations"] for an in ref], 1)                          # (F, P, Jb, 3, 3)
    studio_actors = tuple(Actor(motion=a.motion, height_m=float(h), seed=a.seed,
                                xy_offset_m=tuple(a.xy_offset_m))
                          for a, h in zip(actors, heights))
    take = Take(detections=det, gt_xyz=np.stack([an["keypoints"] for an in ref], 1),
                gt_joints=np.stack([an["joints"] for an in ref], 1),
                gt_local_R=rot[:, :, 1:], gt_root_R=rot[:, :, 0],
                gt_root_pos=np.stack([an["joints"][:, 0] for an in ref], 1),
                camera_offsets=offsets, actors=studio_actors, truth=truth)
    rv = rotmat_to_rotvec(rot)
    return BodyTake(take=take, model=model, betas=np.stack([an["betas"] for an in ref]),
                    heights_m=heights, global_orient=rv[:, :, 0], body_pose=rv[:, :, 1:],
                    transl=np.stack([an["transl"] for an in ref], 1))


def simulate_body_take(rig: Rig, model: BodyModel, actors, num_frames: int,
                       fps: float = 30.0, fmt: str = "body25",
                       error_model: ErrorModel = ErrorModel(), seed: int = 0,
                       camera_offsets: "list[int] | None" = None, heatmaps: bool = False,
                       heatmap_size: int = 64) -> BodyTake:
    """Simulate a take whose actors are the body model (arguments as
    :func:`mocap.simulate.simulate_take`)."""
    actors, kf, offsets = check_take_args(rig, actors, num_frames, fps, fmt, camera_offsets)
    ref = _animate_all(model, actors, num_frames, fps, 0, kf.name)
    heights = np.array([rest_height(model, an["betas"]) for an in ref])
    caps = [_capsules(model, h) for h in heights]

    def scene_at(o: int) -> Scene:
        anim = ref if o == 0 else _animate_all(model, actors, num_frames, fps, o, kf.name)
        return _scene(anim, caps)

    det, truth = observe_rig(rig, scene_at, offsets, num_frames, heights, error_model, kf, fps,
                             np.random.default_rng(seed), heatmaps, heatmap_size)
    return _body_take(det, model, actors, ref, heights, offsets, truth)
