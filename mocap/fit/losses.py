"""The fit's loss terms, each a pure function of the posed body and the observations, and
:data:`LOSSES`: the terms by name as a stage's weights name them (the weights themselves are
data: :class:`mocap.fit.options.Stage`).

Every term is a mean per frame (sequence-level terms: per sequence) of squared residuals in
noise units (:class:`mocap.fit.options.FitOptions`), so that the weights read as relative
trust.
"""
from __future__ import annotations

from dataclasses import replace

import torch

from ..body.lumbopelvic import pelvis_tilt_of_trunk
from ..body.planar import from_planar, posed_keypoints_planar, to_planar
from ..body.regressors import KeypointLayer, keypoints_forward, posed_keypoints, shape_moments
from .params import BodyParams, Views, rotations, rotations_planar
from .projection import project_planes

__all__ = ["gmof", "keypoint_loss", "reprojection_loss", "joint_limit_loss", "pose_prior_loss",
           "lumbopelvic_loss", "spine_coupling_loss", "shape_prior_loss", "smoothness_loss",
           "floor_loss", "bone_length_loss", "LOSSES", "loss_terms"]


def gmof(sq: torch.Tensor, sigma: float) -> torch.Tensor:
    """Geman-McClure robust penalty of squared residuals: ``sigma^2 r^2 / (sigma^2 + r^2)``
    (r^2 for small r, saturating at sigma^2)."""
    s2 = sigma * sigma
    return s2 * sq / (s2 + sq)


def keypoint_loss(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor,
                  noise: float, robust: float) -> torch.Tensor:
    """Confidence-weighted robust 3D keypoint term.

    Args:
        pred, target: (F, K, 3) metres; weight: (F, K) (0 = missing; ``target`` must be finite
            there). noise: residual that costs 1; robust: Geman-McClure scale, metres.
    Returns:
        scalar: sum over keypoints, mean over frames, of ``w gmof(|pred - target|^2) / noise^2``.
    """
    sq = ((pred - target) ** 2).sum(-1)
    return (weight * gmof(sq, robust)).sum() / (noise * noise * pred.shape[0])

def reprojection_loss(pred: torch.Tensor, views: Views, noise: float,
                      robust: float) -> torch.Tensor:
    """Confidence-weighted robust multi-view 2D term against the detections.

    Args:
        pred: (F, K, 3) world metres; views: cameras and detections; noise, robust: pixels.
    Returns:
        scalar: sum over cameras and keypoints, mean over frames, of
        ``conf gmof(|proj - xy|^2) / noise^2``; points behind a camera do not count.
    """
    u, v, z = project_planes(pred, views.cameras)                           # (C, F K)
    xu, xv = views.xy_planes
    sq = (u - xu) ** 2 + (v - xv) ** 2
    w = views.conf.reshape(z.shape) * (z > 0.05)
    return (w * gmof(sq, robust)).sum() / (noise * noise * pred.shape[0])


def joint_limit_loss(body_pose: torch.Tensor, frames: torch.Tensor, lower: torch.Tensor,
                     upper: torch.Tensor, scale: float) -> torch.Tensor:
    """Soft joint limits on axis-angle components in each joint's anatomical axes.

    Args:
        body_pose: (F, J, 3) axis-angle rotations from the rest pose, radians, rest-frame
            axes. frames: (J, 3, 3) columns (flexion, abduction, twist) axes. lower, upper:
            (J, 3) radians. scale: radians.
    Returns:
        scalar: mean over frames of ``sum ((excess) / scale)^2``.
    """
    theta = torch.einsum("jab,fja->fjb", frames, body_pose)
    excess = torch.relu(theta - upper) + torch.relu(lower - theta)
    return (excess ** 2).sum() / (scale * scale * body_pose.shape[0])


def pose_prior_loss(deviation: torch.Tensor, frames: torch.Tensor,
                    sigma: torch.Tensor) -> torch.Tensor:
    """Diagonal Gaussian pose prior around the neutral pose, per anatomical axis.

    Args:
        deviation: (F, J, 3) axis-angle deviations from the neutral pose (the
            :class:`BodyParams` ``body_pose``), radians; frames: (J, 3, 3); sigma: (J, 3).
    Returns:
        scalar: mean over frames of ``sum (theta / sigma)^2``, ``theta`` the anatomical
        components of the deviations.
    """
    theta = torch.einsum("jab,fja->fjb", frames, deviation)
    return ((theta / sigma) ** 2).sum() / deviation.shape[0]


def lumbopelvic_loss(root_R: torch.Tensor, body_pose: torch.Tensor, forward: torch.Tensor,
                     spine: torch.Tensor, spine_flexion: torch.Tensor, stance: torch.Tensor,
                     sigma: float) -> torch.Tensor:
    """The lumbopelvic rhythm as a prior (:mod:`mocap.body.lumbopelvic`): the pelvis's forward
    tilt ``p`` should be the rhythm's share of the trunk's flexion ``p + s`` (``s``: the
    spine joints' flexion), in the frames where the person stands.

    Keypoints cannot tell a tilting pelvis from a bending spine (both carry the shoulders
    forward, the hips stay put), so without this term the split, hence hip flexion, drifts
    with the optimiser's path.

    Args:
        root_R: (F, 3, 3) root rotations (model rest frame -> world, Z up). body_pose: (F, J,
            3) axis-angle deviations of the non-root joints, radians (the spine's neutral is
            its rest). forward: (3,) the body's forward axis in the rest frame. spine: (S,)
            indices into J of the spine joints; spine_flexion: (S, 3) their flexion axes
            (forward bending positive). stance: (F,) frame weights. sigma: radians.
    Returns:
        scalar: ``sum_f stance_f ((p_f - P(p_f + s_f)) / sigma)^2 / F``.
    """
    fwd = root_R @ forward
    p = -torch.asin(fwd[:, 2].clamp(-1.0, 1.0))
    s = (body_pose[:, spine] * spine_flexion).sum((-1, -2))
    r = p - pelvis_tilt_of_trunk(p + s)
    return (stance * (r / sigma) ** 2).sum() / root_R.shape[0]


def spine_coupling_loss(body_pose: torch.Tensor, spine: torch.Tensor,
                        sigma: float) -> torch.Tensor:
    """The spine bends as one curve: each spine joint's rotation should be the spine joints'
    mean (the equal shares of OpenSim-style coupled vertebral joints).

    The keypoints fix where the shoulders and the head are, not how the bend is spread over
    the vertebrae and the neck; left free, the spread, hence the chest's orientation and the
    arms' rotations under it, drifts with the optimiser's path.

    Args:
        body_pose: (F, J, 3) axis-angle deviations of the non-root joints, radians.
        spine: (S,) indices into J of the spine joints. sigma: radians.
    Returns:
        scalar: ``sum_f sum_j |e_fj - mean_j e_fj|^2 / sigma^2 / F``.
    """
    e = body_pose[:, spine]
    return ((e - e.mean(1, keepdim=True)) ** 2).sum() / (sigma * sigma * body_pose.shape[0])


def shape_prior_loss(betas: torch.Tensor, mean: torch.Tensor, std: torch.Tensor,
                     lower: torch.Tensor, upper: torch.Tensor) -> torch.Tensor:
    """Gaussian shape prior plus a steep wall outside the bounds (1e4 per unit^2)."""
    out = torch.relu(lower - betas) + torch.relu(betas - upper)
    out = torch.where(torch.isfinite(out), out, torch.zeros_like(out))
    return (((betas - mean) / std) ** 2).sum() + 1e4 * (out ** 2).sum()


def smoothness_loss(joints: torch.Tensor, glob: torch.Tensor, fps: float, accel: float,
                    angular_accel: float) -> torch.Tensor:
    """Temporal smoothness: squared accelerations of joint positions and rotations.

    Args:
        joints: (F, J, 3) metres; glob: (F, J, 3, 3) global rotations. fps: frames/s.
        accel: m/s^2 that costs 1; angular_accel: rad/s^2 (Frobenius of the rotation's
            second difference, about the angle for small motions) that costs 1.
    Returns:
        scalar: mean over frames of the summed squared normalised accelerations.
    """
    F = joints.shape[0]
    if F < 3:
        return joints.sum() * 0.0
    a = (joints[2:] - 2 * joints[1:-1] + joints[:-2]) * fps * fps
    w = (glob[2:] - 2 * glob[1:-1] + glob[:-2]) * fps * fps
    return ((a ** 2).sum() / accel ** 2 + 0.5 * (w ** 2).sum() / angular_accel ** 2) / F


def floor_loss(kp: torch.Tensor, sole: torch.Tensor, sole_height: torch.Tensor,
               floor_z: float, noise: float, contact: torch.Tensor) -> torch.Tensor:
    """Feet on the floor: no sole point below it, and sole points in contact do not slide.

    Args:
        kp: (F, K, 3) world metres; sole: (S,) keypoint indices; sole_height: (S,) their
            height above the sole at rest; floor_z: metres; noise: metres that cost 1.
        contact: (F - 1, S) weights in [0, 1] of "this sole point touches the floor between
            frames f and f + 1", from the observations (:func:`contact_weights`).
    Returns:
        scalar: mean over frames of ``sum (penetration / noise)^2`` plus the contact-weighted
        squared horizontal displacement per frame, in noise units.
    """
    if len(sole) == 0:
        return kp.sum() * 0.0
    z = kp[:, sole, 2] - sole_height - floor_z                                # (F, S)
    pen = (torch.relu(-z) ** 2).sum()
    if kp.shape[0] > 1:
        v = kp[1:, sole, :2] - kp[:-1, sole, :2]
        pen = pen + (contact * (v ** 2).sum(-1)).sum()
    return pen / (noise * noise * kp.shape[0])


def bone_length_loss(rest_kp: torch.Tensor, bones: torch.Tensor, lengths: torch.Tensor,
                     weight: torch.Tensor, noise: float) -> torch.Tensor:
    """Keypoint distances of the unposed body against the observed robust bone lengths.

    Args:
        rest_kp: (K, 3) keypoints of the body standing in the neutral pose (arms hanging, as
            in the frames the lengths come from, :func:`mocap.fit.data.extended_frames`),
            metres; bones: (Bn, 2) index pairs; lengths: (Bn,) metres; weight: (Bn,) (0 = not
            observed); noise: metres.
    """
    if len(bones) == 0:
        return rest_kp.sum() * 0.0
    d = torch.linalg.norm(rest_kp[bones[:, 0]] - rest_kp[bones[:, 1]], dim=-1)
    return (weight * (d - lengths) ** 2).sum() / (noise * noise)


def _frame_weight(d, c) -> "torch.Tensor | float":
    """(F, 1) 1 for the frames the stage's keypoint terms see, 0 for the others (or 1.0)."""
    if c.get("extended_only") and d.extended is not None:
        return d.extended[:, None]
    return 1.0


def _term_keypoints(s, d, c):
    w = d.weight * d.torso if c["torso_only"] else d.weight
    w = w * _frame_weight(d, c)
    return keypoint_loss(s["keypoints"], d.xyz, w, c["opts"].noise_m, c["opts"].robust_m)


def _term_reprojection(s, d, c):
    if d.views is None:
        return s["keypoints"].sum() * 0.0
    views = d.views
    fw = _frame_weight(d, c)
    if not isinstance(fw, float):
        views = replace(views, conf=views.conf * fw[None])
    return reprojection_loss(s["keypoints"], views, c["opts"].noise_px, c["opts"].robust_px)


def _term_joint_limits(s, d, c):
    return joint_limit_loss(s["params"].body_pose + c["mean"], c["frames"], c["lower"],
                            c["upper"], c["opts"].limit_rad)


def _term_pose_prior(s, d, c):
    return pose_prior_loss(s["params"].body_pose, c["frames"], c["sigma"])


def _term_lumbopelvic(s, d, c):
    if c["spine"].numel() == 0:
        return s["params"].body_pose.sum() * 0.0
    stance = d.stance if d.stance is not None else torch.ones_like(d.weight[:, 0])
    return lumbopelvic_loss(s["glob"][:, 0], s["params"].body_pose, c["forward"],
                            c["spine"], c["spine_flexion"], stance, c["opts"].lumbopelvic_rad)


def _term_spine_coupling(s, d, c):
    return spine_coupling_loss(s["params"].body_pose, c["spine"], c["opts"].spine_coupling_rad)


def _term_shape_prior(s, d, c):
    return shape_prior_loss(s["params"].betas, *c["shape"])


def _term_smooth(s, d, c):
    return smoothness_loss(s["joints"], s["glob"], d.fps, c["opts"].accel_m_s2,
                           c["opts"].angular_accel_rad_s2)


def _term_floor(s, d, c):
    return floor_loss(s["keypoints"], d.sole, d.sole_height, c["opts"].floor_z_m,
                      c["opts"].noise_m, d.contact)


def _term_bone_length(s, d, c):
    return bone_length_loss(s["rest_keypoints"](), d.bones, d.bone_lengths, d.bone_weight,
                            c["opts"].noise_m)


#: Loss terms by name: each ``term(state, data, constants) -> scalar``; ``state`` holds the
#: posed body (``keypoints``, ``joints``, ``glob``, ``params``, ``rest_keypoints``).
LOSSES = {"keypoints": _term_keypoints, "reprojection": _term_reprojection,
          "joint_limits": _term_joint_limits, "pose_prior": _term_pose_prior,
          "shape_prior": _term_shape_prior, "smooth": _term_smooth, "floor": _term_floor,
          "bone_length": _term_bone_length, "lumbopelvic": _term_lumbopelvic,
          "spine_coupling": _term_spine_coupling}


class _PosedBody(dict):
    """The posed body the loss terms read (``keypoints``, ``joints``, ``glob``: one forward
    pass over all frames, made on first use; ``rest_keypoints()``; ``params``), so that
    stages whose terms need no frame (the shape from bone lengths) cost no per-frame work.
    ``moments``: the shape's :func:`shape_moments` when a stage holds the shape fixed (made
    once per stage rather than at every evaluation), else None."""

    def __init__(self, layer: KeypointLayer, params: BodyParams, moments=None) -> None:
        super().__init__(params=params, rest_keypoints=self._rest)
        self.layer = layer
        self.moments = moments

    def __missing__(self, key: str):
        if key not in ("joints", "keypoints", "glob"):
            raise KeyError(key)
        self["joints"], self["keypoints"], self["glob"] = _posed(self.layer, self["params"],
                                                                  self.moments)
        return self[key]

    def _rest(self) -> torch.Tensor:
        """(K, 3) keypoints of the neutral pose (standing, arms hanging), root unturned."""
        L, p = self.layer, self["params"]
        eye = torch.eye(3, dtype=L.dtype, device=L.device)[None]
        R = torch.cat([eye, p.neutral], 0)[None]
        zero = torch.zeros(1, 3, dtype=L.dtype, device=L.device)
        return keypoints_forward(L, p.betas, R, zero)[1][0]


def _posed(layer: KeypointLayer, p: BodyParams, moments=None) -> tuple:
    """Joints (F, Jb, 3), keypoints (F, K, 3) and global rotations (F, Jb, 3, 3) of the body
    ``p``: :func:`keypoints_forward` (``moments``: its shape's :func:`shape_moments`, or None
    to make them), computed in the planar layout (:mod:`mocap.body.planar`, several times
    faster on a CPU) for a model without pose correctives."""
    J, Q = moments if moments is not None else shape_moments(layer, p.betas)
    if layer.moment_posedirs is not None:
        return posed_keypoints(layer, J, Q, rotations(p), p.transl)
    pos, kp, glob = posed_keypoints_planar(layer.mass, layer.parents, J, Q,
                                           rotations_planar(p), to_planar(p.transl))
    return from_planar(pos), from_planar(kp), from_planar(glob, 2)


def _state(layer: KeypointLayer, params: BodyParams, moments=None) -> dict:
    return _PosedBody(layer, params, moments)


def loss_terms(layer, params, data, consts, weights) -> dict:
    """{name: unweighted value} of the terms of :data:`LOSSES` that ``weights`` turns on
    (non-zero), for the body ``params`` posed by ``layer``; ``consts``: a stage's constants
    (:func:`mocap.fit.optimise.stage_constants` plus its ``torso_only`` and
    ``extended_only`` flags, and ``moments``: the fixed shape's :func:`shape_moments` in a
    stage that does not move the shape)."""
    s = _state(layer, params, consts.get("moments"))
    return {name: LOSSES[name](s, data, consts) for name, w in weights.items() if w}
