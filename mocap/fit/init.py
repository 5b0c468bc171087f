"""The analytic start of a fit: the root placed upright across the observed hips
(:func:`initial_params`), the pelvis tilted by its share of the trunk's bend, and the body
pose swung segment by segment onto the observed limbs (:func:`initial_pose`)."""
from __future__ import annotations

import numpy as np
import torch

from calibration.rotations import kabsch, rotmat_to_rotvec, rotvec_to_rotmat

from ..errors import FitError
from ..body.kinematics import forward_kinematics
from ..body.lumbopelvic import pelvis_tilt_of_trunk
from ..body.model import body_axes, neutral_pose
from ..body.regressors import KeypointLayer, keypoints_forward
from .anatomy import pose_priors, spine_joints
from .params import BodyParams, FitData, rotations

__all__ = ["initial_params", "initial_pose"]


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


def _rest_keypoints(layer: KeypointLayer, betas: torch.Tensor):
    """The fitted joints (Jb, 3) and keypoints (K, 3) of shape ``betas`` (B,) at rest (every
    local rotation the identity, no translation), metres, model frame; no gradient."""
    to = dict(device=layer.device, dtype=layer.dtype)
    eye = torch.eye(3, **to).expand(1, layer.num_joints, 3, 3)
    with torch.no_grad():
        joints, kp, _ = keypoints_forward(layer, betas, eye, torch.zeros(1, 3, **to))
    return joints[0], kp[0]


def _observed_torso(data: FitData):
    """The observations as float64 numpy: keypoints (F, K, 3), seen (F, K) bool, the weights
    (F, K) the root is placed by (the torso's; every keypoint's where no frame shows three
    torso keypoints) and (F,) the frames showing three of them or more.

    Raises:
        FitError: no frame shows three keypoints."""
    xyz = data.xyz.cpu().double().numpy()
    seen = data.weight.cpu().double().numpy() > 0
    w = (data.weight * data.torso).cpu().double().numpy()
    good = (w > 0).sum(1) >= 3
    if not good.any():
        w = data.weight.cpu().double().numpy()
        good = (w > 0).sum(1) >= 3
    if not good.any():
        raise FitError("no frame shows three keypoints or more; cannot place the body")
    return xyz, seen, w, good


def _root_from_torso(rest_kp: np.ndarray, xyz: np.ndarray, w: np.ndarray, good: np.ndarray):
    """(F, 3, 3) root rotations aligning the rest keypoints (K, 3) to the observed ones
    (F, K, 3) by weighted Kabsch where ``good`` (identity elsewhere), and the weighted
    centroids (F, 3) of the observed and of the rest keypoints."""
    R = np.tile(np.eye(3), (len(xyz), 1, 1))
    R[good] = kabsch(rest_kp, xyz[good], w[good])
    ws = w.sum(1, keepdims=True)
    cobs = (w[..., None] * xyz).sum(1) / np.maximum(ws, 1e-12)
    crest = (w[..., None] * rest_kp).sum(1) / np.maximum(ws, 1e-12)
    return R, cobs, crest


def _root_from_hips(model, names, rest_kp: np.ndarray, xyz: np.ndarray, seen: np.ndarray,
                    R: np.ndarray, cobs: np.ndarray, crest: np.ndarray) -> np.ndarray:
    """Where both hips are seen: the upright pelvis across them (:func:`_upright_root`), its
    centroids the hips' midpoints (``R``, ``cobs``, ``crest`` updated in place). Returns (F,)
    where it was placed so (all False without hips in the format)."""
    if "left_hip" not in names or "right_hip" not in names:
        return np.zeros(len(xyz), bool)
    li, ri = names.index("left_hip"), names.index("right_hip")
    hips, ok = _upright_root(model, xyz, seen[:, li] & seen[:, ri], li, ri)
    R[ok] = hips[ok]
    cobs[ok] = 0.5 * (xyz[ok, li] + xyz[ok, ri])
    crest[ok] = 0.5 * (rest_kp[li] + rest_kp[ri])
    return ok


def _nearest_good(good: np.ndarray) -> np.ndarray:
    """(F,) for each frame the index of the nearest frame where ``good`` (F,) holds (the
    earlier one on a tie)."""
    F = len(good)
    idx = np.flatnonzero(good)
    near = idx[np.clip(np.searchsorted(idx, np.arange(F)), 0, len(idx) - 1)]
    prev = idx[np.clip(np.searchsorted(idx, np.arange(F)) - 1, 0, len(idx) - 1)]
    return np.where(np.abs(prev - np.arange(F)) < np.abs(near - np.arange(F)), prev, near)


def initial_params(layer: KeypointLayer, data: FitData) -> BodyParams:
    """Mean shape, neutral body pose, and per frame the root rotation and translation: an
    upright pelvis across the observed hips, placed on their midpoint (frames without both
    hips: the rest torso aligned to the observed one by weighted Kabsch; frames without
    three torso keypoints: their nearest neighbour's)."""
    model = layer.model
    to = dict(device=layer.device, dtype=layer.dtype)
    F, Jb = data.xyz.shape[0], layer.num_joints
    betas = torch.as_tensor(model.shape_mean, **to)
    joints, rest_kp = _rest_keypoints(layer, betas)
    rest_kp = rest_kp.cpu().double().numpy()
    root = joints[0].cpu().double().numpy()
    xyz, seen, w, good = _observed_torso(data)
    R, cobs, crest = _root_from_torso(rest_kp, xyz, w, good)
    good = good | _root_from_hips(model, layer.keypoint_names, rest_kp, xyz, seen, R, cobs,
                                  crest)
    T = cobs - root - np.einsum("fab,fb->fa", R, crest - root)
    near = _nearest_good(good)
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
    return kabsch(triangle(rest_kp), obs), ok


def _pelvis_share_of_trunk(layer, data, params, rest_kp) -> None:
    """Tilt the upright start of the pelvis by its share of the trunk's bend, turning about
    the root joint (which stays put): of the forward bend, the lumbopelvic rhythm's share
    (:func:`mocap.body.lumbopelvic.pelvis_tilt_of_trunk`); of the sideways bend and the
    twist, an equal share with each spine joint."""
    found = _trunk_rotation(layer, data, params, rest_kp)
    n = len(spine_joints(layer.model))
    if found is None or n == 0:
        return
    R, ok = found
    v = rotmat_to_rotvec(R)
    left = torch.as_tensor(body_axes(layer.model)[:, 1], dtype=v.dtype, device=v.device)
    bend = v @ left
    share = v / (n + 1) + (pelvis_tilt_of_trunk(bend) - bend / (n + 1))[:, None] * left
    share = _hold_nearest(share, ok)
    params.orient_init.copy_(params.orient_init @ rotvec_to_rotmat(share))


def _initial_spine(layer: KeypointLayer, data: FitData, params: BodyParams,
                   rest_kp: torch.Tensor) -> None:
    """Turn the trunk (shoulders over the hips' midpoint) onto the observed one, the rotation
    shared equally by the spine joints (what the pose prior prefers)."""
    spine = spine_joints(layer.model)
    found = _trunk_rotation(layer, data, params, rest_kp)
    if found is None or not spine:
        return
    R, ok = found
    share = rotmat_to_rotvec(R) / len(spine)
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


def _segment(layer: KeypointLayer, data: FitData, rest_kp: torch.Tensor, g: int, side: str):
    """Limb segment ``_SEGMENTS[g]`` of one side: (index of its joint in the fitted joints,
    its unit direction at rest (3,), its observed direction (F, 3), (F,) where it was seen);
    None where the model or the format lacks it or it was never seen."""
    model = layer.model
    names = {c: n for n, c in model.canonical.items()}
    kp_index = {n: i for i, n in enumerate(layer.keypoint_names)}
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


def _unit_in_parent(layer: KeypointLayer, glob: torch.Tensor, j: int,
                    d: torch.Tensor) -> torch.Tensor:
    """(F, 3) world directions ``d`` (F, 3) as unit vectors in the frame of joint ``j``'s
    parent (global rotations ``glob`` (F, Jb, 3, 3))."""
    v = torch.einsum("fba,fb->fa", glob[:, layer.parents[j]], d)
    return v / v.norm(dim=-1, keepdim=True).clamp_min(1e-9)


def _swing_segment(layer: KeypointLayer, params: BodyParams, glob: torch.Tensor, seg: tuple,
                   hinge: bool, priors: tuple) -> None:
    """Turn a segment's joint (in place) so that the segment points from its neutral
    direction along the observed one: a hinge about its flexion axis within its limits, a
    ball joint by the smallest rotation. ``priors``: anatomical frames (Jb - 1, 3, 3) as a
    tensor, lower and upper limits (Jb - 1, 3) (:func:`pose_priors`)."""
    fr, lower, upper = priors
    j, u0, d_obs, ok = seg
    v = _unit_in_parent(layer, glob, j, d_obs)
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


def _twist_onto_child(layer: KeypointLayer, params: BodyParams, glob: torch.Tensor,
                      seg: tuple, child: tuple, priors: tuple) -> None:
    """Twist a ball joint (in place) about its segment so that the hinge below it can reach
    the observed child segment (:func:`_twist_for_hinge`); arguments as
    :func:`_swing_segment`, ``child`` the hinge's segment."""
    fr, lower, upper = priors
    j, u0, _, ok = seg
    c, uc, dc_obs, ok_c = child
    L = params.neutral[j - 1] @ rotvec_to_rotmat(params.body_pose[:, j - 1])
    Gj = glob[:, layer.parents[j]] @ L
    w = torch.einsum("fba,fb->fa", Gj, dc_obs)
    w = w / w.norm(dim=-1, keepdim=True).clamp_min(1e-9)
    psi = _twist_for_hinge(u0, w, uc, fr[c - 1][:, 0], float(lower[c - 1, 0]),
                           float(upper[c - 1, 0]))
    L = L @ rotvec_to_rotmat(psi[:, None] * u0)
    dev = rotmat_to_rotvec(params.neutral[j - 1].T @ L)
    params.body_pose[:, j - 1] = _hold_nearest(dev, ok & ok_c)


def _place_limbs(layer: KeypointLayer, data: FitData, params: BodyParams,
                 rest_kp: torch.Tensor, priors: tuple) -> None:
    """Swing the limb segments down the tree (in place): hips and shoulders, each twisted
    for the knee or elbow below it, then knees and elbows, then ankles."""
    to = dict(device=layer.device, dtype=layer.dtype)
    for group in ((0, 1), (2, 3), (4,)):
        R = rotations(params)
        glob = forward_kinematics(layer.parents, torch.zeros(layer.num_joints, 3, **to), R,
                                  params.transl)[1]
        for g in group:
            hinge = _SEGMENTS[g][3]
            for side in ("left", "right"):
                seg = _segment(layer, data, rest_kp, g, side)
                if seg is None:
                    continue
                _swing_segment(layer, params, glob, seg, hinge, priors)
                child = _segment(layer, data, rest_kp, g + 2, side) if g < 2 else None
                if child is not None:
                    _twist_onto_child(layer, params, glob, seg, child, priors)


def initial_pose(layer: KeypointLayer, data: FitData, params: BodyParams) -> None:
    """Analytic start for the body pose (in place): from the neutral pose, the trunk is turned
    onto the observed one (shared by the spine joints); then each limb segment is swung from
    its neutral direction onto its observed direction down the tree (hips and shoulders, then
    knees and elbows about their hinge axis, then ankles onto the toes), hips and shoulders
    twisted so that the hinge below them can reach the observed knee or elbow bend. Frames
    that miss a segment take their nearest neighbour's rotation; joints without keypoints
    stay neutral."""
    frames, lower, upper, _ = pose_priors(layer.model)
    fr = torch.as_tensor(frames, device=layer.device, dtype=layer.dtype)
    with torch.no_grad():
        params.body_pose.zero_()
        _, rest_kp = _rest_keypoints(layer, params.betas)
        _initial_spine(layer, data, params, rest_kp)
        _place_limbs(layer, data, params, rest_kp, (fr, lower, upper))
