"""SMPLify-style fitting of a body model to a whole sequence of one person's keypoints.

The pieces, each replaceable on its own:

- a stateless body layer: :func:`mocap.body.keypoints_forward` (shape, rotations,
  translation -> joints and the format's keypoints), batched over frames;
- a parameter container, :class:`BodyParams`: one shape per person, a rotation per fitted
  joint and a translation per frame (the root's rotation as a correction ``exp(d) R0`` of an
  initial guess, the others as axis-angle vectors);
- loss terms as a named dict, :data:`LOSSES`, each a pure function of the posed body and the
  observations: robust confidence-weighted 3D keypoints, optional multi-view 2D reprojection
  against the detections, joint limits, a pose prior, the lumbopelvic rhythm (how a trunk
  lean splits between the pelvis and the spine, which keypoints cannot tell), a shape prior,
  bone lengths (to start the shape), temporal smoothness, optional floor contact;
- per-stage weights as data, :data:`DEFAULT_STAGES`: the shape from the observed bone lengths,
  then shape and global orientation, then body pose, then everything together;
- one :class:`Monitor` per stage that stops it on convergence or on a non-finite loss (the
  last finite parameters are kept).

Every term is a mean per frame (sequence-level terms: per sequence) of squared residuals in
noise units (``FitOptions``), so that the weights read as relative trust. The optimiser is
L-BFGS with a strong-Wolfe line search over all frames at once, on unknowns scaled to
comparable curvature (:func:`parameter_scales`): torch on CPU, and on the GPU when there is
one (``device="auto"``).

Frames: keypoints in the world (Z up, metres); the body model's rest frame is turned into the
world by the root rotation.
"""
from __future__ import annotations

import contextlib
import functools
import logging
import math
import time
import warnings
from dataclasses import dataclass, field, replace

import numpy as np
import roma
import torch

from .errors import FitError
from .body.lumbopelvic import pelvis_tilt_of_trunk
from .body.model import (anatomical_frames, body_axes, forward_kinematics, neutral_pose,
                          rotvec_to_rotmat)
from .body.regressors import KeypointLayer, keypoints_forward
from .keypoints import get_format

log = logging.getLogger(__name__)

__all__ = ["FitOptions", "Stage", "DEFAULT_STAGES", "BodyParams", "Views", "FitData",
           "FitResult", "Monitor", "LOSSES", "fit_sequence", "prepare_data", "views_from",
           "gmof", "keypoint_loss", "reprojection_loss", "project_points", "joint_limit_loss",
           "pose_prior_loss", "shape_prior_loss", "smoothness_loss", "floor_loss",
           "bone_length_loss", "contact_weights", "pose_priors", "initial_params",
           "initial_pose", "select_device", "extended_frames", "extension_scores",
           "parameter_scales",
           "torch_threads", "check_fit_settings", "body_model_for", "body_motion", "fit_people"]

TORSO = ("left_hip", "right_hip", "left_shoulder", "right_shoulder", "pelvis", "neck",
         "spine1", "spine2", "spine3")
SOLE = ("left_heel", "right_heel", "left_big_toe", "right_big_toe", "left_small_toe",
        "right_small_toe", "left_ankle", "right_ankle")


@dataclass(frozen=True)
class FitOptions:
    """Scales and solver settings of a fit (the stage weights are in :class:`Stage`).

    Attributes:
        noise_m: 3D keypoint residual that costs 1 (metres). robust_m: Geman-McClure scale:
            residuals well beyond it stop pulling (metres).
        noise_px, robust_px: the same for the 2D reprojection term (pixels).
        accel_m_s2: joint acceleration that costs 1 in the smoothness term (m/s^2);
            angular_accel_rad_s2: the same for joint rotations (rad/s^2).
        limit_rad: joint-limit violation that costs 1 (radians).
        lumbopelvic_rad: departure of the pelvis's tilt from the lumbopelvic rhythm's share
            of the trunk's flexion that costs 1 (radians; :func:`lumbopelvic_loss`).
        spine_coupling_rad: departure of a spine joint's rotation from the spine's mean that
            costs 1 (radians; :func:`spine_coupling_loss`).
        floor_z_m: height of the floor (world z, metres) for the floor term.
        inner_iterations: L-BFGS iterations between two checks of the monitor.
        tolerance: relative decrease of the loss below which a stage has converged.
    """

    noise_m: float = 0.01
    robust_m: float = 0.1
    noise_px: float = 4.0
    robust_px: float = 40.0
    accel_m_s2: float = 15.0
    angular_accel_rad_s2: float = 150.0
    limit_rad: float = 0.05
    lumbopelvic_rad: float = 0.05
    spine_coupling_rad: float = 0.05
    floor_z_m: float = 0.0
    inner_iterations: int = 10
    tolerance: float = 1e-5


@dataclass(frozen=True)
class Stage:
    """One stage of the fit: which parameters move, how much each loss term weighs, for how
    many L-BFGS iterations at most.

    Attributes:
        name: for reports. optimise: subset of ``betas``, ``global_orient``, ``body_pose``,
            ``transl``. weights: loss name (:data:`LOSSES`) -> weight (absent or 0: off).
        max_iterations: L-BFGS iterations at most. torso_only: the keypoint terms see only
            the torso (hips, shoulders, neck, pelvis, spine). init_pose: before the stage,
            start the body pose analytically (:func:`initial_pose`). extended_only: the
            keypoint terms see only the frames closest to standing straight
            (``FitData.extended``), where the analytic start of the pose is good, so that the
            shape does not shrink or bend to make up for a poor start in a deep squat or bend.
        reprojection: whether the 2D reprojection term, when asked for (``extra_weights``),
            joins this stage (every default stage: in the last alone it costs a third as
            much, but the studio's jog then drifts 1.1 cm in height and the bend's elbow
            loses 0.3 deg).
    """

    name: str
    optimise: tuple[str, ...]
    weights: dict
    max_iterations: int
    torso_only: bool = False
    init_pose: bool = False
    extended_only: bool = False
    reprojection: bool = True


DEFAULT_STAGES = (
    Stage("shape", ("betas",), {"bone_length": 1.0, "shape_prior": 0.1}, max_iterations=30),
    Stage("shape_orient", ("betas", "global_orient", "transl"),
          {"keypoints": 1.0, "bone_length": 1.0, "shape_prior": 0.1, "smooth": 0.1},
          max_iterations=20, init_pose=True, extended_only=True),
    Stage("body_pose", ("global_orient", "transl", "body_pose"),
          {"keypoints": 1.0, "pose_prior": 0.05, "joint_limits": 1.0, "smooth": 0.1,
           "lumbopelvic": 1.0, "spine_coupling": 1.0},
          max_iterations=60, init_pose=True),
    Stage("refine", ("betas", "global_orient", "transl", "body_pose"),
          {"keypoints": 1.0, "pose_prior": 0.02, "joint_limits": 1.0, "shape_prior": 0.01,
           "smooth": 0.1, "lumbopelvic": 1.0, "spine_coupling": 1.0},
          max_iterations=40),
)
"""The default stages; a weight for ``reprojection`` or ``floor`` turns those terms on
(:func:`fit_sequence` adds them to the keypoint stages from its ``extra_weights``)."""

PARAMETERS = ("betas", "global_orient", "body_pose", "transl")


def select_device(name: str = "auto") -> torch.device:
    """``auto``: the first CUDA GPU when torch sees one, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


# ----------------------------------------------------------------------------- containers


@dataclass
class BodyParams:
    """The parameters of one person's fit (leaf tensors on the fit's device).

    Attributes:
        betas: (B,) shape.
        global_orient: (F, 3) axis-angle correction ``d`` of the root rotation
            ``exp(d) @ orient_init`` (world-frame axes, radians).
        body_pose: (F, Jb - 1, 3) axis-angle deviation ``e`` of the other fitted joints from
            the neutral pose: local rotation ``neutral @ exp(e)`` (rest-frame axes, radians).
        transl: (F, 3) metres.
        orient_init: (F, 3, 3) the initial root rotation; neutral: (Jb - 1, 3, 3) the neutral
            pose's local rotations (:func:`mocap.body.model.neutral_pose`); not optimised.
    """

    betas: torch.Tensor
    global_orient: torch.Tensor
    body_pose: torch.Tensor
    transl: torch.Tensor
    orient_init: torch.Tensor
    neutral: torch.Tensor

    def tensors(self, names) -> list[torch.Tensor]:
        return [getattr(self, n) for n in names]

    def copy(self) -> "BodyParams":
        return BodyParams(*(t.detach().clone() for t in (
            self.betas, self.global_orient, self.body_pose, self.transl, self.orient_init,
            self.neutral)))


def rotations(params: BodyParams) -> torch.Tensor:
    """(F, Jb, 3, 3) local rotations of the fitted joints (root first)."""
    root = rotvec_to_rotmat(params.global_orient) @ params.orient_init
    body = params.neutral @ rotvec_to_rotmat(params.body_pose)
    return torch.cat([root[:, None], body], 1)


def root_rotvec(params: BodyParams) -> torch.Tensor:
    """(F, 3) the root rotation as an axis-angle vector."""
    return roma.rotmat_to_rotvec(rotvec_to_rotmat(params.global_orient) @ params.orient_init)


@dataclass(frozen=True, eq=False)
class Views:
    """Cameras and their 2D detections of one person, for the reprojection term.

    Attributes:
        K: (C, 3, 3) intrinsics, pixels. dist: (C, 8) OpenCV pinhole coefficients (k1, k2,
            p1, p2, k3, k4, k5, k6), or for fisheye cameras (k1..k4, 0...). fisheye: (C,) bool.
        R: (C, 3, 3) world -> camera rotations; t: (C, 3) metres.
        xy: (C, F, K, 2) pixels (0 where missing); conf: (C, F, K) (0 where missing).
    """

    K: torch.Tensor
    dist: torch.Tensor
    fisheye: torch.Tensor
    R: torch.Tensor
    t: torch.Tensor
    xy: torch.Tensor
    conf: torch.Tensor


@dataclass(frozen=True, eq=False)
class FitData:
    """Observations of one person and the constants the terms need (tensors on the device).

    Attributes:
        xyz: (F, K, 3) metres (0 where missing); weight: (F, K) confidences (0 = missing).
        torso: (K,) bool keypoints the torso-only stages use.
        fps: frames per second.
        bones: (Bn, 2) keypoint index pairs; bone_lengths: (Bn,) observed robust lengths,
            metres; bone_weight: (Bn,) 0 where a bone was never seen.
        sole: (S,) keypoint indices for the floor term; sole_height: (S,) their height above
            the soles at rest, metres; contact: (F - 1, S) floor-contact weights.
        views: optional 2D detections and cameras.
        extended: (F,) 1 for the frames closest to standing straight (:func:`extended_frames`),
            else 0; None: every frame counts as one.
        stance: (F,) 1 where the person stands on their feet (hips well above the ankles,
            :func:`stance_weights`), 0 lying or upside down, ramping between; None: all 1.
    """

    xyz: torch.Tensor
    weight: torch.Tensor
    torso: torch.Tensor
    fps: float
    bones: torch.Tensor
    bone_lengths: torch.Tensor
    bone_weight: torch.Tensor
    sole: torch.Tensor
    sole_height: torch.Tensor
    contact: torch.Tensor
    views: "Views | None" = None
    extended: "torch.Tensor | None" = None
    stance: "torch.Tensor | None" = None


@dataclass
class FitResult:
    """What a fit produced (numpy, float64).

    Attributes:
        betas: (B,); global_orient: (F, 3) root axis-angle; body_pose: (F, Jb - 1, 3);
        transl: (F, 3); rotations: (F, Jb, 3, 3) local rotations; joints: (F, Jb, 3) and
        keypoints: (F, K, 3) world metres; observed: (F,) bool.
        report: one dict per stage: name, iterations, stopped ("converged", "max_iterations",
            "nan"), seconds, and the unweighted value of every active term at the end.
    """

    betas: np.ndarray
    global_orient: np.ndarray
    body_pose: np.ndarray
    transl: np.ndarray
    rotations: np.ndarray
    joints: np.ndarray
    keypoints: np.ndarray
    observed: np.ndarray
    report: list = field(default_factory=list)


class Monitor:
    """Watches a stage's loss: stops on convergence (relative decrease below ``tolerance``
    twice in a row) or on a non-finite loss."""

    def __init__(self, tolerance: float, patience: int = 2) -> None:
        self.tolerance = tolerance
        self.patience = patience
        self.history: list[float] = []
        self.calm = 0

    def update(self, loss: float) -> "str | None":
        """Record a loss; returns ``"nan"``, ``"converged"`` or None (go on)."""
        if not math.isfinite(loss):
            return "nan"
        if self.history:
            prev = self.history[-1]
            rel = (prev - loss) / max(abs(prev), 1e-12)
            self.calm = self.calm + 1 if rel < self.tolerance else 0
        self.history.append(loss)
        return "converged" if self.calm >= self.patience else None


# ----------------------------------------------------------------------------- loss terms


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


def project_points(X: torch.Tensor, K: torch.Tensor, dist: torch.Tensor, fisheye: torch.Tensor,
                   R: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Project world points through OpenCV camera models (as :mod:`calibration.camera`).

    Args:
        X: (F, K, 3) world metres. K: (C, 3, 3); dist: (C, 8) (pinhole k1, k2, p1, p2, k3,
            k4, k5, k6; fisheye k1..k4 then zeros); fisheye: (C,) bool; R: (C, 3, 3); t: (C, 3).
    Returns:
        pixels (C, F, K, 2) and depth (C, F, K) metres along each optical axis.
    """
    Xc = torch.einsum("cab,fkb->cfka", R, X) + t[:, None, None, :]
    z = Xc[..., 2]
    zs = torch.where(z.abs() > 1e-6, z, torch.full_like(z, 1e-6))
    x, y = Xc[..., 0] / zs, Xc[..., 1] / zs
    d = dist[:, None, None, :]
    r2 = x * x + y * y
    k1, k2, p1, p2, k3, k4, k5, k6 = (d[..., i] for i in range(8))
    radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
    if bool((dist[:, 5:] != 0).any()):          # the rational model only where it is used
        radial = radial / (1 + r2 * (k4 + r2 * (k5 + r2 * k6)))
    xd = x * radial
    yd = y * radial
    if bool((dist[:, 2:4] != 0).any()):         # tangential terms
        xy2 = 2 * x * y
        xd = xd + p1 * xy2 + p2 * (r2 + 2 * x * x)
        yd = yd + p1 * (r2 + 2 * y * y) + p2 * xy2
    if bool(fisheye.any()):
        r = torch.sqrt(r2 + 1e-12)
        th = torch.atan(r)
        th2 = th * th
        thd = th * (1 + th2 * (k1 + th2 * (k2 + th2 * (p1 + th2 * p2))))
        scale = thd / r
        fe = fisheye[:, None, None]
        xd = torch.where(fe, x * scale, xd)
        yd = torch.where(fe, y * scale, yd)
    u = K[:, None, None, 0, 0] * xd + K[:, None, None, 0, 2]
    v = K[:, None, None, 1, 1] * yd + K[:, None, None, 1, 2]
    return torch.stack([u, v], -1), z


def reprojection_loss(pred: torch.Tensor, views: Views, noise: float,
                      robust: float) -> torch.Tensor:
    """Confidence-weighted robust multi-view 2D term against the detections.

    Args:
        pred: (F, K, 3) world metres; views: cameras and detections; noise, robust: pixels.
    Returns:
        scalar: sum over cameras and keypoints, mean over frames, of
        ``conf gmof(|proj - xy|^2) / noise^2``; points behind a camera do not count.
    """
    uv, z = project_points(pred, views.K, views.dist, views.fisheye, views.R, views.t)
    sq = ((uv - views.xy) ** 2).sum(-1)
    w = views.conf * (z > 0.05)
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


def contact_weights(xyz: np.ndarray, seen: np.ndarray, sole: list, sole_height: list,
                    floor_z: float, band_m: float = 0.02) -> np.ndarray:
    """(F - 1, S) how surely each sole keypoint touches the floor between consecutive frames:
    ``exp(-h / band)`` of its observed height ``h`` above its resting height (the higher of
    the two frames), 0 where unobserved.

    Args:
        xyz: (F, K, 3) observed keypoints, metres; seen: (F, K) bool.
    """
    F = xyz.shape[0]
    if not sole or F < 2:
        return np.zeros((max(F - 1, 0), len(sole)))
    h = xyz[:, sole, 2] - np.asarray(sole_height) - floor_z
    h = np.where(seen[:, sole], h, np.inf)
    top = np.maximum(h[1:], h[:-1])
    return np.exp(-np.clip(top, 0.0, None) / band_m)


def bone_length_loss(rest_kp: torch.Tensor, bones: torch.Tensor, lengths: torch.Tensor,
                     weight: torch.Tensor, noise: float) -> torch.Tensor:
    """Keypoint distances of the unposed body against the observed robust bone lengths.

    Args:
        rest_kp: (K, 3) keypoints of the body standing in the neutral pose (arms hanging, as
            in the frames the lengths come from, :func:`extended_frames`), metres; bones: (Bn, 2) index pairs;
            lengths: (Bn,) metres; weight: (Bn,) (0 = not observed); noise: metres.
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


# ----------------------------------------------------------------------------- priors


# Per joint (left side; right mirrors abduction and twist): limits in degrees for the
# (flexion, abduction, twist) axes of :func:`mocap.body.anatomical_frames`, relative to the
# rest pose, and the pose prior's spread in radians. Knee flexion is negative about its axis,
# elbow, hip, shoulder and spine flexion positive ("hinge" joints: small abduction and twist).
_LIMITS_DEG = {
    "hip": ((-35, 130), (-50, 30), (-45, 45)),
    "knee": ((-160, 8), (-10, 10), (-25, 25)),
    "ankle": ((-50, 35), (-25, 25), (-30, 30)),
    "foot": ((-45, 45), (-15, 15), (-15, 15)),
    "spine": ((-25, 50), (-25, 25), (-30, 30)),
    "neck": ((-45, 50), (-35, 35), (-60, 60)),
    "head": ((-45, 45), (-35, 35), (-60, 60)),
    "collar": ((-25, 25), (-25, 25), (-25, 25)),
    "shoulder": ((-100, 180), (-180, 100), (-100, 100)),
    "elbow": ((-8, 160), (-20, 20), (-90, 90)),
    "wrist": ((-80, 80), (-40, 40), (-60, 60)),
}
_SIGMA_RAD = {
    "hip": (0.8, 0.4, 0.3), "knee": (1.0, 0.1, 0.15), "ankle": (0.5, 0.2, 0.2),
    "foot": (0.3, 0.1, 0.1), "spine": (0.3, 0.2, 0.25), "neck": (0.3, 0.25, 0.3),
    "head": (0.4, 0.3, 0.4), "collar": (0.08, 0.08, 0.08), "shoulder": (0.8, 0.8, 0.4),
    "elbow": (1.0, 0.15, 0.3), "wrist": (0.5, 0.3, 0.3),
}
_HINGE_REST = {"knee": ("hip", "knee", "ankle", -1.0), "elbow": ("shoulder", "elbow", "wrist", 1.0)}


def _joint_kind(canonical: str) -> str:
    base = canonical.replace("left_", "").replace("right_", "")
    return "spine" if base.startswith("spine") else base


@functools.lru_cache(maxsize=16)
def pose_priors(model) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Anatomical frames (J, 3, 3), limits lower/upper (J, 3) radians and prior spreads (J, 3)
    radians of a model's fitted non-root joints.

    A hinge joint's extension limit moves by the flexion the model's rest pose already has
    (Anny rests with bent elbows), so that a straight limb stays allowed.
    """
    frames = anatomical_frames(model)[1:]
    J = model.joint_template.numpy()
    canon_idx = {c: model.joint_names.index(n) for n, c in model.canonical.items()}
    lower, upper, sigma = [], [], []
    for name in model.fitted[1:]:
        canon = model.canonical.get(name, "")
        kind = _joint_kind(canon)
        lim = np.radians(np.array(_LIMITS_DEG.get(kind, ((-90, 90),) * 3), float))
        sig = np.array(_SIGMA_RAD.get(kind, (0.5, 0.5, 0.5)), float)
        side = "right_" if canon.startswith("right_") else "left_"
        if kind in _HINGE_REST:
            *ends, sgn = _HINGE_REST[kind]
            a, b, c = (side + n for n in ends)
            if all(n in canon_idx for n in (a, b, c)):
                u = J[canon_idx[b]] - J[canon_idx[a]]
                v = J[canon_idx[c]] - J[canon_idx[b]]
                bend = math.acos(np.clip(u @ v / np.linalg.norm(u) / np.linalg.norm(v), -1, 1))
                if sgn > 0:
                    lim[0, 0] -= bend
                else:
                    lim[0, 1] += bend
        if canon.startswith("right_"):
            lim[1:] = -lim[1:, ::-1]
        lower.append(lim[:, 0])
        upper.append(lim[:, 1])
        sigma.append(sig)
    return frames, np.array(lower), np.array(upper), np.array(sigma)


# ----------------------------------------------------------------------------- data


def views_from(detections, rig, person: int, fmt: str, device, dtype) -> Views:
    """:class:`Views` of one person from :class:`mocap.types.Detections2D` and a rig (same
    camera order), re-indexed to the keypoint format ``fmt``."""
    from .keypoints import convert_keypoints
    cams = list(rig)
    if tuple(c.name for c in cams) != tuple(detections.camera_names):
        raise FitError(f"reprojection: rig cameras {[c.name for c in cams]} differ from the "
                       f"detections' {list(detections.camera_names)}")
    xy = convert_keypoints(detections.xy[:, :, person], detections.format, fmt, axis=-2)
    conf = convert_keypoints(detections.conf[:, :, person], detections.format, fmt, axis=-1,
                             fill=0.0)
    ok = np.isfinite(xy).all(-1) & (conf > 0)
    dist = np.zeros((len(cams), 8))
    for c, cam in enumerate(cams):
        dist[c, :len(cam.dist)] = cam.dist
    to = dict(device=device, dtype=dtype)
    return Views(K=torch.as_tensor(np.stack([c.K for c in cams]), **to),
                 dist=torch.as_tensor(dist, **to),
                 fisheye=torch.as_tensor([c.model == "fisheye" for c in cams], device=device),
                 R=torch.as_tensor(np.stack([c.R_cam_from_world for c in cams]), **to),
                 t=torch.as_tensor(np.stack([c.t_cam_from_world for c in cams]), **to),
                 xy=torch.as_tensor(np.where(ok[..., None], xy, 0.0), **to),
                 conf=torch.as_tensor(np.where(ok, conf, 0.0), **to))


def _angle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(...) angle between vectors (..., 3) and (..., 3), radians (NaN where either is)."""
    cos = (u * v).sum(-1) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1))
    return np.arccos(np.clip(cos, -1.0, 1.0))


def extension_scores(xyz: np.ndarray, names) -> np.ndarray:
    """(F,) how far each frame is from standing straight with the arms hanging (radians
    summed: both knees' bend, both upper arms' raise from hanging, the trunk's lean from
    vertical), NaN where a keypoint it needs is missing (or the format lacks one).

    Args:
        xyz: (F, K, 3) world metres (Z up), NaN = missing; names: (K,) canonical names.
    """
    idx = {n: i for i, n in enumerate(names)}
    F = xyz.shape[0]
    need = [f"{s}_{n}" for s in ("left", "right") for n in ("hip", "knee", "ankle", "shoulder",
                                                              "elbow")]
    if any(n not in idx for n in need):
        return np.full(F, np.nan)

    def at(n):
        return xyz[:, idx[n]]
    down = np.array([0.0, 0.0, -1.0])
    score = np.zeros(F)
    for side in ("left", "right"):
        hip, knee, ankle = at(f"{side}_hip"), at(f"{side}_knee"), at(f"{side}_ankle")
        sh, el = at(f"{side}_shoulder"), at(f"{side}_elbow")
        score += _angle(knee - hip, ankle - knee) + _angle(el - sh, down)
    mid_hip = 0.5 * (at("left_hip") + at("right_hip"))
    mid_sh = 0.5 * (at("left_shoulder") + at("right_shoulder"))
    return score + _angle(mid_sh - mid_hip, -down)


def extended_frames(xyz: np.ndarray, names, share: float = 0.25) -> np.ndarray:
    """(F,) bool: the ``share`` of the frames (at least 3) whose pose is closest to standing
    straight (:func:`extension_scores`); all frames where too few can be scored."""
    score = extension_scores(xyz, names)
    ok = np.isfinite(score)
    if ok.sum() < 3:
        return np.ones(len(score), bool)
    k = max(3, int(math.ceil(share * ok.sum())))
    keep = np.zeros(len(score), bool)
    keep[np.argsort(np.where(ok, score, np.inf), kind="stable")[:k]] = True
    return keep


def _robust_bone_lengths(xyz: np.ndarray, conf: np.ndarray, bones: np.ndarray,
                         extended: "np.ndarray | None" = None):
    """Median length of each bone over the frames where both ends are seen (conf > 0.3):
    over the ``extended`` (F,) frames where at least 3 of those are, else over all."""
    lengths, weight = np.zeros(len(bones)), np.zeros(len(bones))
    for i, (a, b) in enumerate(bones):
        ok = (conf[:, a] > 0.3) & (conf[:, b] > 0.3)
        if extended is not None and (ok & extended).sum() >= 3:
            ok = ok & extended
        if ok.sum() >= 3:
            lengths[i] = float(np.median(np.linalg.norm(xyz[ok, a] - xyz[ok, b], axis=-1)))
            weight[i] = 1.0
    return lengths, weight


@functools.lru_cache(maxsize=16)
def _sole_heights(layer: KeypointLayer) -> tuple[list, list]:
    """Sole keypoints of the format and their height above the model's soles at rest (mean
    shape), metres."""
    from .body.model import rest_vertices, shape_coefficients
    model = layer.model
    up = body_axes(model)[:, 2]
    b64 = torch.as_tensor(model.shape_mean, dtype=torch.float64)
    floor = float((rest_vertices(model, shape_coefficients(model, b64)).numpy() @ up).min())
    b = b64.to(device=layer.device, dtype=layer.dtype)
    eye = torch.eye(3, dtype=layer.dtype, device=layer.device).expand(1, layer.num_joints, 3, 3)
    with torch.no_grad():
        _, kp, _ = keypoints_forward(layer, b, eye, torch.zeros(1, 3, dtype=layer.dtype,
                                                               device=layer.device))
    kp = kp[0].cpu().double().numpy()
    idx = [i for i, n in enumerate(layer.keypoint_names) if n in SOLE]
    return idx, [float(kp[i] @ up - floor) for i in idx]


def prepare_data(layer: KeypointLayer, xyz: np.ndarray, conf: np.ndarray, fps: float,
                 views: "Views | None" = None, floor_z_m: float = 0.0) -> FitData:
    """:class:`FitData` from one person's keypoints.

    Args:
        xyz: (F, K, 3) world metres, NaN = missing, in ``layer.format``; conf: (F, K).
        views: 2D detections for the reprojection term. floor_z_m: the floor's height, for
            the contact weights of the floor term.
    Raises:
        FitError: shapes that do not match the format, or no keypoint seen at all.
    """
    K = len(layer.keypoint_names)
    xyz = np.asarray(xyz, float)
    conf = np.asarray(conf, float)
    if xyz.ndim != 3 or xyz.shape[1:] != (K, 3) or conf.shape != xyz.shape[:2]:
        raise FitError(f"keypoints must be (F, {K}, 3) with confidences (F, {K}) for format "
                       f"{layer.format!r}, found {xyz.shape} and {conf.shape}")
    seen = np.isfinite(xyz).all(-1) & np.isfinite(conf) & (conf > 0)
    if not seen.any():
        raise FitError("no keypoint of this person was ever observed; nothing to fit")
    kf = get_format(layer.format)
    bones = kf.bone_indices
    obs = np.where(seen[..., None], xyz, np.nan)
    extended = extended_frames(obs, layer.keypoint_names)
    lengths, bw = _robust_bone_lengths(obs, np.where(seen, conf, 0.0), bones, extended)
    sole, height = _sole_heights(layer)
    to = dict(device=layer.device, dtype=layer.dtype)
    return FitData(
        xyz=torch.as_tensor(np.where(seen[..., None], xyz, 0.0), **to),
        weight=torch.as_tensor(np.where(seen, conf, 0.0), **to),
        torso=torch.as_tensor([n in TORSO for n in layer.keypoint_names], **to),
        fps=float(fps), bones=torch.as_tensor(bones, dtype=torch.long, device=layer.device),
        bone_lengths=torch.as_tensor(lengths, **to), bone_weight=torch.as_tensor(bw, **to),
        sole=torch.as_tensor(sole, dtype=torch.long, device=layer.device),
        sole_height=torch.as_tensor(height, **to),
        contact=torch.as_tensor(contact_weights(xyz, seen, sole, height, floor_z_m), **to),
        views=views, extended=torch.as_tensor(extended, **to),
        stance=torch.as_tensor(stance_weights(obs, layer.keypoint_names), **to))


def stance_weights(xyz: np.ndarray, names, low_m: float = 0.15, high_m: float = 0.3,
                   ) -> np.ndarray:
    """(F,) how surely each frame shows a person on their feet: 0 where the hips' midpoint is
    less than ``low_m`` above the ankles' (lying, crawling, upside down), 1 above ``high_m``
    (standing, walking, squatting), linear between; frames without those keypoints take the
    nearest frame's value (1 when none has them, or the format has no ankles).

    Args:
        xyz: (F, K, 3) world metres (Z up), NaN where missing; names: the K keypoint names.
    """
    need = ("left_hip", "right_hip", "left_ankle", "right_ankle")
    F = xyz.shape[0]
    if any(n not in names for n in need):
        return np.ones(F)
    lh, rh, la, ra = (xyz[:, list(names).index(n), 2] for n in need)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)          # frames with none of them
        h = np.nanmean(np.stack([lh, rh]), 0) - np.nanmean(np.stack([la, ra]), 0)
    ok = np.isfinite(h)
    if not ok.any():
        return np.ones(F)
    idx = np.flatnonzero(ok)
    nearest = idx[np.clip(np.searchsorted(idx, np.arange(F)), 0, idx.size - 1)]
    prev = idx[np.clip(np.searchsorted(idx, np.arange(F)) - 1, 0, idx.size - 1)]
    pick = np.where(np.abs(prev - np.arange(F)) < np.abs(nearest - np.arange(F)), prev, nearest)
    return np.clip((h[pick] - low_m) / (high_m - low_m), 0.0, 1.0)


# ----------------------------------------------------------------------------- initialisation


def _kabsch(src: np.ndarray, dst: np.ndarray, w: np.ndarray) -> np.ndarray:
    """(F, 3, 3) rotations R minimising sum w |R src_c - dst_c|^2 per frame (centred).

    Args:
        src: (K, 3); dst: (F, K, 3); w: (F, K).
    """
    ws = w.sum(1, keepdims=True)[..., None]
    cs = (w[..., None] * src).sum(1, keepdims=True) / ws
    cd = (w[..., None] * dst).sum(1, keepdims=True) / ws
    H = np.einsum("fk,fka,fkb->fab", w, src - cs, dst - cd)
    U, _, Vt = np.linalg.svd(H)
    d = np.sign(np.linalg.det(np.einsum("fba,fcb->fac", Vt, U)))
    D = np.tile(np.eye(3), (len(w), 1, 1))
    D[:, 2, 2] = d
    return np.einsum("fba,fbc,fdc->fad", Vt, D, U)


def _upright_root(model, xyz: np.ndarray, ok: np.ndarray, left_i: int, right_i: int):
    """(F, 3, 3) root rotations of an upright pelvis whose left points from the right hip to
    the left hip (world Z up); valid where ``ok`` (both hips seen, not vertical)."""
    left = xyz[:, left_i] - xyz[:, right_i]
    left[:, 2] = 0.0
    n = np.linalg.norm(left, axis=-1, keepdims=True)
    ok = ok & (n[:, 0] > 1e-3)
    left = left / np.maximum(n, 1e-9)
    up = np.broadcast_to([0.0, 0.0, 1.0], left.shape)
    world = np.stack([np.cross(left, up), left, up], -1)          # columns fwd, left, up
    return world @ body_axes(model).T, ok


def initial_params(layer: KeypointLayer, data: FitData) -> BodyParams:
    """Mean shape, neutral body pose, and per frame the root rotation and translation: an
    upright pelvis across the observed hips, placed on their midpoint (frames without both
    hips: the rest torso aligned to the observed one by weighted Kabsch; frames without
    three torso keypoints: their nearest neighbour's)."""
    model = layer.model
    to = dict(device=layer.device, dtype=layer.dtype)
    F, Jb = data.xyz.shape[0], layer.num_joints
    betas = torch.as_tensor(model.shape_mean, **to)
    eye = torch.eye(3, **to).expand(1, Jb, 3, 3)
    with torch.no_grad():
        joints, rest_kp, _ = keypoints_forward(layer, betas, eye, torch.zeros(1, 3, **to))
    rest_kp = rest_kp[0].cpu().double().numpy()
    root = joints[0, 0].cpu().double().numpy()
    xyz = data.xyz.cpu().double().numpy()
    seen = data.weight.cpu().double().numpy() > 0
    w = (data.weight * data.torso).cpu().double().numpy()
    good = (w > 0).sum(1) >= 3
    if not good.any():
        w = data.weight.cpu().double().numpy()
        good = (w > 0).sum(1) >= 3
    if not good.any():
        raise FitError("no frame shows three keypoints or more; cannot place the body")
    R = np.tile(np.eye(3), (F, 1, 1))
    R[good] = _kabsch(rest_kp, xyz[good], w[good])
    ws = w.sum(1, keepdims=True)
    cobs = (w[..., None] * xyz).sum(1) / np.maximum(ws, 1e-12)
    crest = (w[..., None] * rest_kp).sum(1) / np.maximum(ws, 1e-12)
    names = layer.keypoint_names
    if "left_hip" in names and "right_hip" in names:
        li, ri = names.index("left_hip"), names.index("right_hip")
        hips, ok = _upright_root(model, xyz, seen[:, li] & seen[:, ri], li, ri)
        R[ok] = hips[ok]
        cobs[ok] = 0.5 * (xyz[ok, li] + xyz[ok, ri])
        crest[ok] = 0.5 * (rest_kp[li] + rest_kp[ri])
        good = good | ok
    T = cobs - root - np.einsum("fab,fb->fa", R, crest - root)
    idx = np.flatnonzero(good)
    near = idx[np.clip(np.searchsorted(idx, np.arange(F)), 0, len(idx) - 1)]
    prev = idx[np.clip(np.searchsorted(idx, np.arange(F)) - 1, 0, len(idx) - 1)]
    near = np.where(np.abs(prev - np.arange(F)) < np.abs(near - np.arange(F)), prev, near)
    R, T = R[near], T[near]
    params = BodyParams(betas=betas.clone(), global_orient=torch.zeros(F, 3, **to),
                        body_pose=torch.zeros(F, Jb - 1, 3, **to),
                        transl=torch.as_tensor(T, **to), orient_init=torch.as_tensor(R, **to),
                        neutral=rotvec_to_rotmat(torch.as_tensor(neutral_pose(model)[1:], **to)))
    _pelvis_share_of_trunk(layer, data, params, torch.as_tensor(rest_kp, **to))
    return params


def _trunk_rotation(layer: KeypointLayer, data: FitData, params: BodyParams,
                    rest_kp: torch.Tensor):
    """(F, 3, 3) rotation of the trunk (shoulders over the hips' midpoint) from its rest pose
    to the observed one, in the root's frame, and (F,) where it was seen; None without the
    keypoints."""
    names = layer.keypoint_names
    need = ("left_shoulder", "right_shoulder", "left_hip", "right_hip")
    if any(n not in names for n in need):
        return None
    ls, rs, lh, rh = (names.index(n) for n in need)
    ok = (data.weight[:, [ls, rs, lh, rh]] > 0).all(1)
    if not bool(ok.any()):
        return None

    def triangle(x):
        return torch.stack([x[..., ls, :], x[..., rs, :], 0.5 * (x[..., lh, :] + x[..., rh, :])],
                           -2)
    G0 = rotations(params)[:, 0]
    obs = torch.einsum("fba,fkb->fka", G0, triangle(data.xyz))      # into the root's frame
    return _kabsch_torch(triangle(rest_kp), obs), ok


def _spine_joints(model) -> list[int]:
    return [model.fitted.index(n) for n, c in model.canonical.items()
            if c in ("spine1", "spine2", "spine3")]


def _pelvis_share_of_trunk(layer, data, params, rest_kp) -> None:
    """Tilt the upright start of the pelvis by its share of the trunk's bend, turning about
    the root joint (which stays put): of the forward bend, the lumbopelvic rhythm's share
    (:func:`mocap.body.lumbopelvic.pelvis_tilt_of_trunk`); of the sideways bend and the
    twist, an equal share with each spine joint."""
    found = _trunk_rotation(layer, data, params, rest_kp)
    n = len(_spine_joints(layer.model))
    if found is None or n == 0:
        return
    R, ok = found
    v = roma.rotmat_to_rotvec(R)
    left = torch.as_tensor(body_axes(layer.model)[:, 1], dtype=v.dtype, device=v.device)
    bend = v @ left
    share = v / (n + 1) + (pelvis_tilt_of_trunk(bend) - bend / (n + 1))[:, None] * left
    share = _hold_nearest(share, ok)
    params.orient_init.copy_(params.orient_init @ rotvec_to_rotmat(share))


def _kabsch_torch(src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    """(F, 3, 3) rotations best taking centred ``src`` (K, 3) onto centred ``dst`` (F, K, 3)."""
    a = src - src.mean(0)
    b = dst - dst.mean(1, keepdim=True)
    H = torch.einsum("ka,fkb->fab", a, b)
    U, _, Vh = torch.linalg.svd(H)
    d = torch.sign(torch.linalg.det(Vh.transpose(-1, -2) @ U.transpose(-1, -2)))
    D = torch.diag_embed(torch.stack([torch.ones_like(d), torch.ones_like(d), d], -1))
    return Vh.transpose(-1, -2) @ D @ U.transpose(-1, -2)


def _initial_spine(layer: KeypointLayer, data: FitData, params: BodyParams,
                   rest_kp: torch.Tensor) -> None:
    """Turn the trunk (shoulders over the hips' midpoint) onto the observed one, the rotation
    shared equally by the spine joints (what the pose prior prefers)."""
    spine = _spine_joints(layer.model)
    found = _trunk_rotation(layer, data, params, rest_kp)
    if found is None or not spine:
        return
    R, ok = found
    share = roma.rotmat_to_rotvec(R) / len(spine)
    for j in spine:
        params.body_pose[:, j - 1] = _hold_nearest(share, ok)


# Limb segments the analytic start swings into place: joint, keypoints (from, to), hinge.
_SEGMENTS = (("hip", ("hip",), ("knee",), False), ("shoulder", ("shoulder",), ("elbow",), False),
             ("knee", ("knee",), ("ankle",), True), ("elbow", ("elbow",), ("wrist",), True),
             ("ankle", ("ankle",), ("big_toe", "small_toe"), False))


def _swing(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """(F, 3) axis-angle of the smallest rotation taking unit ``u`` (3,) onto unit ``v`` (F, 3)."""
    axis = torch.cross(u.expand_as(v), v, dim=-1)
    sn = axis.norm(dim=-1, keepdim=True)
    ang = torch.atan2(sn, (v * u).sum(-1, keepdim=True))
    return torch.where(sn > 1e-8, axis / sn.clamp_min(1e-8) * ang, torch.zeros_like(v))


def _hinge(u: torch.Tensor, v: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """(F,) angle about unit axis ``f`` (3,) best taking ``u`` (3,) toward ``v`` (F, 3)."""
    a = u - (u @ f) * f
    b = v - (v @ f)[:, None] * f
    return torch.atan2((torch.cross(a.expand_as(b), b, dim=-1) * f).sum(-1), (b * a).sum(-1))


def _hold_nearest(x: torch.Tensor, ok: torch.Tensor) -> torch.Tensor:
    """``x`` (F, ...) with rows where ``ok`` (F,) is False replaced by the nearest good row."""
    idx = torch.nonzero(ok).flatten()
    if len(idx) == 0 or bool(ok.all()):
        return x
    t = torch.arange(len(ok), device=x.device)
    pos = torch.searchsorted(idx, t).clamp(max=len(idx) - 1)
    before = idx[(pos - 1).clamp(min=0)]
    after = idx[pos]
    near = torch.where((t - before).abs() < (after - t).abs(), before, after)
    return x[near]


def _twist_for_hinge(a: torch.Tensor, w: torch.Tensor, u: torch.Tensor, f: torch.Tensor,
                     lo: float, hi: float) -> torch.Tensor:
    """(F,) twist of a ball joint about its segment ``a`` (3,) that lets the hinge below it
    (axis ``f``, child segment ``u`` at rest, both (3,)) reach the observed child direction
    ``w`` (F, 3), all unit vectors in the ball joint's rest frame. Of the two twists that put
    ``w`` on the hinge's cone, the smaller one whose hinge angle is within [lo, hi]; 0 where
    the child segment is within 20 degrees of ``a`` (too little twist information)."""
    # a hinge about f keeps f . (child direction) = f . u: find the twists where that holds,
    # A cos(psi) + B sin(psi) + C = f . u
    aw = w @ a
    A = w @ f - aw * (f @ a)
    B = -(torch.cross(a.expand_as(w), w, dim=-1) @ f)
    C = aw * (f @ a)
    Rm = torch.sqrt(A * A + B * B)
    phi = torch.atan2(B, A)
    delta = torch.acos(((f @ u - C) / Rm.clamp_min(1e-9)).clamp(-1.0, 1.0))
    best = torch.zeros_like(aw)
    score = torch.full_like(aw, float("inf"))
    for psi in (phi + delta, phi - delta):
        psi = torch.atan2(torch.sin(psi), torch.cos(psi))
        w_t = (rotvec_to_rotmat(-psi[:, None] * a) @ w[..., None])[..., 0]
        ang = _hinge(u, w_t, f)
        cost = psi.abs() + 10.0 * ((ang < lo) | (ang > hi)).to(psi.dtype)
        better = cost < score
        best = torch.where(better, psi, best)
        score = torch.where(better, cost, score)
    return torch.where(Rm > 0.35, best, torch.zeros_like(best))


def initial_pose(layer: KeypointLayer, data: FitData, params: BodyParams) -> None:
    """Analytic start for the body pose (in place): from the neutral pose, the trunk is turned
    onto the observed one (shared by the spine joints); then each limb segment is swung from
    its neutral direction onto its observed direction down the tree (hips and shoulders, then
    knees and elbows about their hinge axis, then ankles onto the toes), hips and shoulders
    twisted so that the hinge below them can reach the observed knee or elbow bend. Frames
    that miss a segment take their nearest neighbour's rotation; joints without keypoints
    stay neutral."""
    model = layer.model
    names = {c: n for n, c in model.canonical.items()}
    kp_index = {n: i for i, n in enumerate(layer.keypoint_names)}
    frames, lower, upper, _ = pose_priors(model)
    to = dict(device=layer.device, dtype=layer.dtype)
    fr = torch.as_tensor(frames, **to)
    with torch.no_grad():
        params.body_pose.zero_()
        Jb = layer.num_joints
        eye = torch.eye(3, **to).expand(1, Jb, 3, 3)
        _, rest_kp, _ = keypoints_forward(layer, params.betas, eye, torch.zeros(1, 3, **to))
        rest_kp = rest_kp[0]
        _initial_spine(layer, data, params, rest_kp)

        def segment(g, side):
            """(joint index, rest direction (3,), observed direction (F, 3), seen (F,))."""
            joint, a_names, b_names, hinge = _SEGMENTS[g]
            jn = names.get(f"{side}_{joint}")
            ka = [kp_index.get(f"{side}_{n}") for n in a_names]
            kb = [kp_index.get(f"{side}_{n}") for n in b_names]
            if jn is None or None in ka or None in kb:
                return None
            ok = (data.weight[:, ka + kb] > 0).all(1)
            if not bool(ok.any()):
                return None
            d_rest = rest_kp[kb].mean(0) - rest_kp[ka].mean(0)
            d_obs = data.xyz[:, kb].mean(1) - data.xyz[:, ka].mean(1)
            return model.fitted.index(jn), d_rest / d_rest.norm(), d_obs, ok

        def local_dir(glob, j, d_obs):
            v = torch.einsum("fba,fb->fa", glob[:, layer.parents[j]], d_obs)
            return v / v.norm(dim=-1, keepdim=True).clamp_min(1e-9)

        for group in ((0, 1), (2, 3), (4,)):
            R = rotations(params)
            glob = forward_kinematics(layer.parents, torch.zeros(Jb, 3, **to), R,
                                      params.transl)[1]
            for g in group:
                hinge = _SEGMENTS[g][3]
                for side in ("left", "right"):
                    seg = segment(g, side)
                    if seg is None:
                        continue
                    j, u0, d_obs, ok = seg
                    v = local_dir(glob, j, d_obs)
                    Rn = params.neutral[j - 1]
                    u = Rn @ u0                                # the segment in the neutral pose
                    if hinge:
                        f = fr[j - 1][:, 0]
                        lo, hi = float(lower[j - 1, 0]), float(upper[j - 1, 0])
                        rv = f * _hinge(u, v, f).clamp(lo, hi)[:, None]
                    else:
                        rv = _swing(u, v)
                    # local rotation exp(rv) @ Rn = Rn @ exp(Rn^T rv): the deviation is Rn^T rv
                    params.body_pose[:, j - 1] = _hold_nearest(rv @ Rn, ok)
                    child = segment(g + 2, side) if g < 2 else None
                    if child is None:
                        continue
                    c, uc, dc_obs, ok_c = child
                    L = params.neutral[j - 1] @ rotvec_to_rotmat(params.body_pose[:, j - 1])
                    Gj = glob[:, layer.parents[j]] @ L
                    w = torch.einsum("fba,fb->fa", Gj, dc_obs)
                    w = w / w.norm(dim=-1, keepdim=True).clamp_min(1e-9)
                    psi = _twist_for_hinge(u0, w, uc, fr[c - 1][:, 0], float(lower[c - 1, 0]),
                                           float(upper[c - 1, 0]))
                    L = L @ rotvec_to_rotmat(psi[:, None] * u0)
                    dev = roma.rotmat_to_rotvec(params.neutral[j - 1].T @ L)
                    params.body_pose[:, j - 1] = _hold_nearest(dev, ok & ok_c)


# ----------------------------------------------------------------------------- the fit


class _PosedBody(dict):
    """The posed body the loss terms read (``keypoints``, ``joints``, ``glob``: one forward
    pass over all frames, made on first use; ``rest_keypoints()``; ``params``), so that
    stages whose terms need no frame (the shape from bone lengths) cost no per-frame work."""

    def __init__(self, layer: KeypointLayer, params: BodyParams) -> None:
        super().__init__(params=params, rest_keypoints=self._rest)
        self.layer = layer

    def __missing__(self, key: str):
        if key not in ("joints", "keypoints", "glob"):
            raise KeyError(key)
        p = self["params"]
        self["joints"], self["keypoints"], self["glob"] = keypoints_forward(
            self.layer, p.betas, rotations(p), p.transl)
        return self[key]

    def _rest(self) -> torch.Tensor:
        """(K, 3) keypoints of the neutral pose (standing, arms hanging), root unturned."""
        L, p = self.layer, self["params"]
        eye = torch.eye(3, dtype=L.dtype, device=L.device)[None]
        R = torch.cat([eye, p.neutral], 0)[None]
        zero = torch.zeros(1, 3, dtype=L.dtype, device=L.device)
        return keypoints_forward(L, p.betas, R, zero)[1][0]


def _state(layer: KeypointLayer, params: BodyParams) -> dict:
    return _PosedBody(layer, params)


def _terms(layer, params, data, consts, weights) -> dict:
    s = _state(layer, params)
    return {name: LOSSES[name](s, data, consts) for name, w in weights.items() if w}


def parameter_scales(params: BodyParams, data: FitData, names, layer=None) -> dict:
    """A diagonal preconditioner of the unknowns ``names`` that a stage optimises together:
    {parameter name: scale}; the stage optimises ``z = x / scale`` (names left out: scale 1).

    Every term is a mean over the frames, so a frame's rotations and translation, seen in one
    frame, have a curvature about ``1 / F`` of the shape's, seen in all: L-BFGS then moves
    the shape F times too fast against the rest and spends the stage's iterations on it
    (an under-converged pose, e.g. the elbows of arms reaching down, about 5 degrees off with
    noise-free keypoints). Scaling the shape by ``F^-1/2`` puts both at the same curvature
    (only where both move: alone, a scalar scale changes nothing but L-BFGS's first step).

    With ``layer``, the rotations are scaled too (:func:`rotation_scales`): a joint's
    rotation moves the keypoints it carries by its lever arm, so the root's curvature is
    hundreds of times an elbow's; each is brought to the translation's.
    """
    out = {}
    if "betas" in names and set(names) - {"betas"}:
        out["betas"] = torch.full_like(params.betas, float(data.xyz.shape[0]) ** -0.5)
    if layer is not None and ({"global_orient", "body_pose"} & set(names)):
        root, body = rotation_scales(layer, params, data)
        if "global_orient" in names:
            out["global_orient"] = root
        if "body_pose" in names:
            out["body_pose"] = body
    return out


def rotation_scales(layer: KeypointLayer, params: BodyParams, data: FitData,
                    min_lever_m: float = 0.05) -> tuple[torch.Tensor, torch.Tensor]:
    """Scales of the root's (1, 1) and the other joints' (1, Jb - 1, 1) rotations that bring
    the keypoint term's curvature in each to the translation's.

    A small rotation ``d`` about joint ``j`` moves keypoint ``k`` by about ``d f_kj r_kj``
    (``r_kj``: its distance from the joint in the neutral pose, ``f_kj``: the share of its
    skinning the joint carries), so the curvature is ``sum_k w_k (f_kj r_kj)^2`` against the
    translation's ``sum_k w_k`` (``w_k``: mean confidence). Levers below ``min_lever_m``
    (joints that carry no keypoint) count as that, so that only the priors hold them.
    """
    with torch.no_grad():
        eye = torch.eye(3, dtype=layer.dtype, device=layer.device)[None]
        R = torch.cat([eye, params.neutral], 0)[None]
        zero = torch.zeros(1, 3, dtype=layer.dtype, device=layer.device)
        pos, kp, _ = keypoints_forward(layer, params.betas, R, zero)
        pos, kp = pos[0], kp[0]                                         # (Jb, 3), (K, 3)
        Jb = len(layer.parents)
        sub = torch.eye(Jb, dtype=layer.dtype, device=layer.device)    # sub[j', j]: j' under j
        for j in range(Jb - 1, 0, -1):                                  # children after parents
            sub[:, layer.parents[j]] += sub[:, j]
        frac = (layer.mass @ sub.clamp(max=1.0)).clamp(0.0, 1.0)        # (K, Jb)
        lever = torch.linalg.norm(kp[:, None] - pos[None], dim=-1)      # (K, Jb)
        w = data.weight.mean(0)                                         # (K,)
        wt = w.sum().clamp_min(1e-9)
        curv = (w[:, None] * (frac * lever) ** 2).sum(0)
        curv = curv.clamp_min(wt * min_lever_m ** 2)
        scale = torch.sqrt(wt / curv)
    return scale[:1].reshape(1, 1), scale[1:].reshape(1, -1, 1)


def _run_stage(layer, params: BodyParams, data: FitData, consts: dict, stage: Stage,
               opts: FitOptions, iteration_scale: float) -> dict:
    """Optimise one stage in place (over the unknowns scaled by :func:`parameter_scales`);
    returns its report."""
    names = [n for n in PARAMETERS if n in stage.optimise]
    for n in PARAMETERS:
        getattr(params, n).requires_grad_(False)
    c = {**consts, "torso_only": stage.torso_only, "extended_only": stage.extended_only}
    weights = {k: float(v) for k, v in stage.weights.items() if v}
    scales = parameter_scales(params, data, names, layer)
    scales = {n: scales.get(n, torch.ones((), device=layer.device, dtype=layer.dtype))
              for n in names}
    z = {n: (getattr(params, n) / scales[n]).detach().requires_grad_(True) for n in names}
    opt = torch.optim.LBFGS(list(z.values()), lr=1.0, max_iter=opts.inner_iterations,
                            history_size=20, line_search_fn="strong_wolfe",
                            tolerance_grad=1e-9, tolerance_change=1e-12)

    def current() -> BodyParams:
        return replace(params, **{n: z[n] * scales[n] for n in names})

    evaluations = [0]

    def closure():
        evaluations[0] += 1
        opt.zero_grad()
        terms = _terms(layer, current(), data, c, weights)
        loss = sum(weights[k] * v for k, v in terms.items())
        loss.backward()
        return loss

    budget = max(1, int(round(stage.max_iterations * iteration_scale)))
    monitor = Monitor(opts.tolerance)
    best = {n: t.detach().clone() for n, t in z.items()}
    stopped, done, t0 = "max_iterations", 0, time.perf_counter()
    while done < budget:
        loss = float(opt.step(closure).detach())
        done += opts.inner_iterations
        verdict = monitor.update(loss)
        if verdict == "nan":
            with torch.no_grad():
                for n in names:
                    z[n].copy_(best[n])
            stopped = "nan"
            log.warning("fit stage %s: the loss became %s; kept the last finite parameters",
                        stage.name, loss)
            break
        best = {n: t.detach().clone() for n, t in z.items()}
        if verdict == "converged":
            stopped = "converged"
            break
    with torch.no_grad():
        for n in names:
            getattr(params, n).copy_(z[n] * scales[n])
        terms = _terms(layer, params, data, c, {k: 1.0 for k in weights})
    report = {"stage": stage.name, "iterations": min(done, budget), "stopped": stopped,
              "evaluations": evaluations[0], "seconds": round(time.perf_counter() - t0, 3),
              "history": [round(h, 4) for h in monitor.history],
              "losses": {k: float(v) for k, v in terms.items()}}
    log.info("fit stage %-12s %4d iterations (%s, %.2f s): %s", stage.name,
             report["iterations"], stopped, report["seconds"],
             ", ".join(f"{k} {v:.4g}" for k, v in report["losses"].items()))
    return report


def _constants(layer: KeypointLayer, opts: FitOptions) -> dict:
    model = layer.model
    frames, lower, upper, sigma = pose_priors(model)
    to = dict(device=layer.device, dtype=layer.dtype)
    spine = [j - 1 for j in _spine_joints(model)]
    return {"opts": opts, "frames": torch.as_tensor(frames, **to),
            "forward": torch.as_tensor(body_axes(model)[:, 0], **to),
            "spine": torch.as_tensor(spine, dtype=torch.long, device=layer.device),
            "spine_flexion": torch.as_tensor(frames[spine][:, :, 0], **to).reshape(-1, 3),
            "mean": torch.as_tensor(neutral_pose(model)[1:], **to),
            "lower": torch.as_tensor(lower, **to), "upper": torch.as_tensor(upper, **to),
            "sigma": torch.as_tensor(sigma, **to),
            "shape": tuple(torch.as_tensor(a, **to) for a in (
                model.shape_mean, model.shape_std, model.shape_lower, model.shape_upper))}


def fit_sequence(layer: KeypointLayer, data: FitData, stages=DEFAULT_STAGES,
                 options: FitOptions = FitOptions(), extra_weights: "dict | None" = None,
                 iteration_scale: float = 1.0, init: "BodyParams | None" = None) -> FitResult:
    """Fit one person's whole sequence.

    Args:
        layer: the body model reduced to the data's keypoint format (its device and dtype
            are the fit's). data: from :func:`prepare_data`.
        stages: the stages, in order. extra_weights: loss weights added to every stage that
            fits keypoints (e.g. ``{"reprojection": 0.5, "floor": 1.0}``; reprojection only
            to the stages whose ``reprojection`` flag is set).
            iteration_scale: multiplies every stage's iteration budget. init: starting
            parameters (default :func:`initial_params`).
    Returns:
        :class:`FitResult`.
    """
    params = init.copy() if init is not None else initial_params(layer, data)
    consts = _constants(layer, options)
    report = []
    for stage in stages:
        if extra_weights and stage.weights.get("keypoints"):
            extra = {k: w for k, w in extra_weights.items()
                     if k != "reprojection" or stage.reprojection}
            stage = replace(stage, weights={**stage.weights, **extra})
        if stage.init_pose:
            initial_pose(layer, data, params)
        report.append(_run_stage(layer, params, data, consts, stage, options, iteration_scale))
    with torch.no_grad():
        R = rotations(params)
        joints, kp, _ = keypoints_forward(layer, params.betas, R, params.transl)
        root = root_rotvec(params)

    def np64(t):
        return t.detach().cpu().double().numpy()

    return FitResult(betas=np64(params.betas), global_orient=np64(root),
                     body_pose=np64(roma.rotmat_to_rotvec(R[:, 1:])), transl=np64(params.transl),
                     rotations=np64(R), joints=np64(joints), keypoints=np64(kp),
                     observed=np64((data.weight > 0).any(1)).astype(bool), report=report)


# ----------------------------------------------------------------------------- the stage


@contextlib.contextmanager
def torch_threads(n: int):
    """Run with ``n`` torch CPU threads, then restore the previous count."""
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, int(n)))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def check_fit_settings(settings) -> None:
    """Raise SettingsError naming the first ``[fit]`` value that is not allowed."""
    from .body import BODY_KINDS, MESH_FORMATS
    from .errors import SettingsError
    choices = {"body": BODY_KINDS, "gender": ("neutral", "male", "female"),
               "meshes": ("",) + MESH_FORMATS}
    for key, allowed in choices.items():
        if getattr(settings, key) not in allowed:
            raise SettingsError(f"[fit] {key}: expected one of {', '.join(map(repr, allowed))}, "
                                f"found {getattr(settings, key)!r}")
    for key in ("iteration_scale", "mesh_every", "threads"):
        if not getattr(settings, key) > 0:
            raise SettingsError(f"[fit] {key}: expected a positive number, found "
                                f"{getattr(settings, key)!r}")
    for key in ("reprojection_weight", "floor_weight"):
        if not getattr(settings, key) >= 0:
            raise SettingsError(f"[fit] {key}: expected >= 0, found {getattr(settings, key)!r}")


def body_model_for(settings, session_root=None):
    """The body model ``[fit]`` asks for (a relative ``model_path`` is the session's)."""
    from pathlib import Path

    from .body import load_body_model
    path = settings.model_path or None
    if path is not None and session_root is not None and not Path(path).is_absolute():
        path = Path(session_root) / path
    return load_body_model(settings.body, path, settings.gender)


def body_motion(layer: KeypointLayer, result: FitResult, fps: float):
    """The :class:`mocap.body.BodyMotion` of a fit (all joints of the model's tree in
    ``poses``, the joints not fitted at zero)."""
    from .body import BodyMotion
    model = layer.model
    F = result.transl.shape[0]
    poses = np.zeros((F, len(model.joint_names), 3))
    poses[:, model.fitted_index[0]] = result.global_orient
    poses[:, model.fitted_index[1:]] = result.body_pose
    return BodyMotion(surface_model_type=model.kind, gender=model.gender,
                      joint_names=model.joint_names, fitted_joints=model.fitted,
                      shape_names=model.shape_names, betas=result.betas, poses=poses,
                      trans=result.transl, fps=float(fps), joints=result.joints,
                      keypoints=result.keypoints, keypoint_format=layer.format,
                      keypoint_names=layer.keypoint_names, observed=result.observed)


def fit_people(points, settings, out, session_root=None, detections=None, rig=None,
               ) -> tuple[list[dict], dict]:
    """The fit stage: every person seen in ``points`` -> ``out/person<p>/body.npz`` (and
    meshes when ``[fit] meshes`` asks).

    Args:
        points: :class:`mocap.types.Points3D` (filtered). settings: ``[fit]``.
        out: the output folder. session_root: for a relative ``model_path``.
        detections, rig: the 2D detections and cameras, for the reprojection term.
    Returns:
        manifest entries (``id``, ``body``, ``meshes``, ``height_m``, ``stages``) and
        ``{person: (model, BodyMotion)}``.
    """
    from pathlib import Path

    from .body import rest_height, write_meshes
    from .body.regressors import keypoint_layer
    check_fit_settings(settings)
    if not points.format:
        raise FitError("the 3D keypoints do not name their keypoint format; cannot fit a body")
    out = Path(out)
    use_views = settings.reprojection_weight > 0 and detections is not None and rig is not None
    extra = {k: w for k, w in (("reprojection", settings.reprojection_weight if use_views
                                 else 0.0), ("floor", settings.floor_weight)) if w}
    entries, bodies = [], {}
    with torch_threads(settings.threads):
        model = body_model_for(settings, session_root)
        device = select_device(settings.device)
        layer = keypoint_layer(model, points.format, device=device)
        for p in range(points.xyz.shape[1]):
            xyz, conf = points.xyz[:, p], points.conf[:, p]
            if not (np.isfinite(xyz).all(-1) & (conf > 0)).any():
                continue
            views = (views_from(detections, rig, p, points.format, device, layer.dtype)
                     if use_views else None)
            t0 = time.perf_counter()
            data = prepare_data(layer, xyz, conf, points.fps, views)
            result = fit_sequence(layer, data, extra_weights=extra,
                                  iteration_scale=settings.iteration_scale)
            body = body_motion(layer, result, points.fps)
            folder = out / f"person{p}"
            body.save(folder / "body.npz")
            meshes = []
            if settings.meshes:
                meshes = write_meshes(folder / "meshes", model, body, settings.meshes,
                                      settings.mesh_every)
            height = rest_height(model, body.betas)
            log.info("person %d: %s body fitted to %d frames in %.1f s, height %.3f m", p,
                     model.kind, body.num_frames, time.perf_counter() - t0, height)
            entries.append({"id": p, "body": f"person{p}/body.npz", "meshes": len(meshes),
                            "height_m": round(height, 4),
                            "stages": [{k: r[k] for k in ("stage", "iterations", "stopped",
                                                          "seconds", "losses")}
                                       for r in result.report]})
            bodies[p] = (model, body)
    return entries, bodies
