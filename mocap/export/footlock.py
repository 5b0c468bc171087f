"""Foot locking and floor snapping of a skeleton's motion (for the animation exports).

During a contact (:mod:`mocap.export.contacts`) the contact point (heel or toe) is pinned: its
floor-plan position is the median of its positions over the contact, its height the floor
(z = 0) for heel and toe keypoints, which lie on the sole, or, for an ankle or a body model's
foot joint standing in for them, its median height over its contacts (never below 0). The
foot is moved as a whole so that the point meets its pin; where heel and toe both touch, the
foot first turns about the ankle so that the heel-to-toe vector matches the pins', and the
two corrections are averaged. A correction is held at its edge
value and faded out (smoothstep) over ``blend_s`` before and after a contact, so that nothing
pops. Floor snapping then lifts a foot whose ankle or any joint below it would be under the
floor.

The leg reaches its new ankle position by analytic two-bone IK (:func:`two_bone_ik`): hip and
knee rotations change, the knee staying in its bend plane, the ankle's world rotation kept.
Where the ankle target is out of the leg's reach the pelvis (the root) is lowered, only as much
as needed, smoothed over the blend window. Every other joint keeps its local rotation.

Works on any skeleton whose legs are named ``<side>_hip``, ``<side>_knee``, ``<side>_ankle``
(knee child of hip, ankle child of knee); a skeleton without them is returned unchanged.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from scipy.spatial.transform import Rotation

from exporters import Motion, Skeleton, forward_kinematics
from exporters.from_positions import swing_rotation

from .contacts import CONTACT_COLUMNS, contact_intervals, foot_points

log = logging.getLogger(__name__)

__all__ = ["LockOptions", "lock_feet", "two_bone_ik", "pin_corrections", "leg_chain"]

REACH = 0.999
"""Fraction of the leg's full length an IK target may be from the hip (a fully straight knee
has no bend direction)."""


@dataclass(frozen=True)
class LockOptions:
    """Attributes:
        lock: pin the feet during contacts.
        floor: lift feet that would be under the floor (z = 0).
        blend_s: corrections fade in and out over this many seconds around a contact.
    """

    lock: bool = True
    floor: bool = True
    blend_s: float = 0.15


def leg_chain(skeleton: Skeleton, side: str) -> tuple[int, int, int] | None:
    """(hip, knee, ankle) joint indices of one leg, or None without such a chain."""
    names = {n: i for i, n in enumerate(skeleton.joint_names)}
    chain = tuple(names.get(f"{side}_{n}") for n in ("hip", "knee", "ankle"))
    if None in chain or skeleton.parents[chain[1]] != chain[0] or skeleton.parents[chain[2]] != chain[1]:
        return None
    return chain


def smoothstep_fade(n: int) -> np.ndarray:
    """(n,) weights rising from near 0 to near 1 (smoothstep), excluding both ends."""
    x = np.arange(1, n + 1) / (n + 1)
    return x * x * (3 - 2 * x)


def pin_corrections(point: np.ndarray, flags: np.ndarray, rest_z: float, blend: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Corrections that pin one contact point during its contacts.

    Args:
        point: (F, 3) the point's positions, metres, world. flags: (F,) bool contact.
        rest_z: height of the point resting on the floor, metres. blend: fade length, frames.
    Returns:
        correction (F, 3) metres to add to the point (zero far from contacts) and its weight
        (F,) in [0, 1] (1 during contacts, fading out over ``blend`` frames either side).
    """
    F = len(point)
    corr, weight = np.zeros((F, 3)), np.zeros(F)
    fade = smoothstep_fade(blend)
    for start, stop in contact_intervals(flags):
        pin = np.append(np.median(point[start:stop, :2], axis=0), rest_z)
        corr[start:stop], weight[start:stop] = pin - point[start:stop], 1.0
        for frames, edge, w in ((np.arange(start - blend, start), start, fade),
                                (np.arange(stop, stop + blend), stop - 1, fade[::-1])):
            keep = (frames >= 0) & (frames < F)
            frames, w = frames[keep], w[keep]
            better = w > weight[frames]
            corr[frames[better]] = pin - point[edge]
            weight[frames[better]] = w[better]
    return corr, weight


def foot_correction(pos: np.ndarray, flags: np.ndarray, heel: tuple, toe: tuple, ankle: int,
                    blend: int, rest_z: tuple[float | None, float | None] = (0.0, 0.0)
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """How one foot moves so that its heel and toe meet their pins.

    Where heel and toe both touch, the foot first turns about the ankle (the least rotation)
    so that its heel-to-toe vector matches the pins' (the motion's foot may yaw or pitch a
    little while it rests); then it moves so that the touching points meet their pins (the
    mean of the two corrections where both touch).

    Args:
        pos: (F, J, 3) joint positions. flags: (F, 2) bool heel and toe contact.
        heel, toe: joint indices averaged into the heel and toe points. ankle: the ankle joint.
        blend: frames. rest_z: height of heel and toe resting on the floor (None: the median of
            the point's heights over its contacts, never below 0).
    Returns:
        the ankle's correction (F, 3) metres, the foot's turn (F, 3, 3), world frame, and the
        lock's weight (F,) in [0, 1] (1 while a point touches, fading around).
    """
    points = [pos[:, list(joints)].mean(1) for joints in (heel, toe)]
    pinned, weights = [], []
    for k, point in enumerate(points):
        touching = point[flags[:, k], 2]
        z = rest_z[k] if rest_z[k] is not None else max(float(np.median(touching)), 0.0) if touching.size else 0.0
        corr, w = pin_corrections(point, flags[:, k], z, blend)
        pinned.append(point + corr)
        weights.append(w)
    both = np.minimum(*weights)
    turn = Rotation.from_matrix(swing_rotation(points[1] - points[0], pinned[1] - pinned[0]))
    turn = Rotation.from_rotvec(turn.as_rotvec() * both[:, None]).as_matrix()
    total, top = 0.0, np.maximum(*weights)
    for point, pin, w in zip(points, pinned, weights):
        turned = pos[:, ankle] + np.einsum("fij,fj->fi", turn, point - pos[:, ankle])
        total = total + w[:, None] * (pin - turned)
    return total / np.maximum(weights[0] + weights[1], 1e-12)[:, None] * top[:, None], turn, top


def below_joints(skeleton: Skeleton, ankle: int) -> list[int]:
    """The ankle and every joint below it in the tree."""
    out = [ankle]
    for j in range(ankle + 1, skeleton.num_joints):
        if skeleton.parents[j] in out:
            out.append(j)
    return out


def two_bone_ik(hip: np.ndarray, knee: np.ndarray, ankle: np.ndarray, target: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """Analytic two-bone IK: rotations that bring the ankle to ``target``.

    Args:
        hip, knee, ankle: (F, 3) current positions, metres. target: (F, 3) wanted ankle
            positions (clipped to the leg's reach).
    Returns:
        R_thigh (F, 3, 3): world rotation applied to the thigh (about the hip), and R_shank
        (F, 3, 3): world rotation applied to the shank after it (about the new knee); the knee
        stays in the plane of the hip, the target and its current bend direction.
    """
    u, v = knee - hip, ankle - knee
    a, b = np.linalg.norm(u, axis=-1), np.linalg.norm(v, axis=-1)
    d = target - hip
    dist = np.linalg.norm(d, axis=-1)
    dn = d / np.maximum(dist, 1e-12)[:, None]
    c = np.clip(dist, np.abs(a - b) + 1e-6, REACH * (a + b))
    pole = u - np.einsum("fi,fi->f", u, dn)[:, None] * dn
    norm = np.linalg.norm(pole, axis=-1)
    good = norm > 1e-6 * a
    if not good.all():      # a straight leg has no bend direction: borrow the nearest frame's
        idx = np.flatnonzero(good) if good.any() else None
        near = idx[np.abs(np.arange(len(u))[:, None] - idx[None]).argmin(1)] if idx is not None else None
        pole = pole[near] if near is not None else np.cross(dn, [1.0, 0.0, 0.0])
        pole = pole - np.einsum("fi,fi->f", pole, dn)[:, None] * dn
        norm = np.linalg.norm(pole, axis=-1)
    pole = pole / np.maximum(norm, 1e-12)[:, None]
    cos = np.clip((a * a + c * c - b * b) / (2 * a * c), -1.0, 1.0)
    new_knee = hip + a[:, None] * (cos[:, None] * dn + np.sqrt(1 - cos * cos)[:, None] * pole)
    new_ankle = hip + c[:, None] * dn
    r_thigh = swing_rotation(u, new_knee - hip)
    r_shank = swing_rotation(np.einsum("fij,fj->fi", r_thigh, v), new_ankle - new_knee)
    return r_thigh, r_shank


def pelvis_drop(hips: list, targets: list, reach: list, blend: int) -> np.ndarray:
    """(F,) metres the pelvis goes down so that every leg reaches its target: the least drop
    per frame, spread by a running maximum and mean over the blend window.

    Args:
        hips, targets: per leg (F, 3) hip positions and ankle targets, metres.
        reach: per leg (F,) the longest hip-to-ankle distance allowed, metres.
        blend: frames.
    """
    need = np.zeros(len(hips[0]))
    for hip, target, length in zip(hips, targets, reach):
        d = hip - target
        flat = np.minimum(np.linalg.norm(d[:, :2], axis=-1), length)
        drop = d[:, 2] - np.sqrt(np.maximum(length ** 2 - flat ** 2, 0.0))
        need = np.maximum(need, np.where(np.linalg.norm(d, axis=-1) > length, drop, 0.0))
    if not need.any():
        return need
    k = 2 * blend + 1
    padded = np.pad(need, blend, mode="edge")
    spread = np.lib.stride_tricks.sliding_window_view(padded, k).max(1)
    return np.maximum(np.convolve(np.pad(spread, blend, mode="edge"), np.ones(k) / k, "valid"), need)


def sole_heights(skeleton: Skeleton, points: dict, side: str) -> tuple[float | None, float | None]:
    """Resting heights of a foot's heel and toe points: 0 for sole keypoints (``<side>_heel``,
    ``<side>_big_toe``, ``<side>_small_toe``: they lie on the sole), None (measured) for the
    ankle or a body model's foot joint standing in for them."""
    sole = {f"{side}_heel", f"{side}_big_toe", f"{side}_small_toe"}
    return tuple(0.0 if all(skeleton.joint_names[j] in sole for j in points[f"{side}_{k}"]) else None
                 for k in ("heel", "toe"))


def _locks(skeleton, pos, flags, legs, options, blend) -> dict:
    """Per side: the ankle's correction (F, 3), the foot's turn (F, 3, 3) and the weight (F,)."""
    points = foot_points(skeleton.joint_names)
    out = {}
    for side, (hip, knee, ankle) in legs.items():
        cols = [CONTACT_COLUMNS.index(f"{side}_heel"), CONTACT_COLUMNS.index(f"{side}_toe")]
        out[side] = (np.zeros((len(pos), 3)), np.tile(np.eye(3), (len(pos), 1, 1)), np.zeros(len(pos)))
        if options.lock:
            out[side] = foot_correction(pos, flags[:, cols], points[f"{side}_heel"], points[f"{side}_toe"],
                                        ankle, blend, sole_heights(skeleton, points, side))
    return out


def _floor_lift(skeleton, pos, ankle: int, target: np.ndarray, turn: np.ndarray) -> np.ndarray:
    """(F,) metres a foot at ``target`` turned by ``turn`` must rise to stay above z = 0."""
    below = below_joints(skeleton, ankle)
    local = np.einsum("fij,fkj->fki", turn, pos[:, below] - pos[:, ankle, None])
    return np.maximum(-(target[:, 2] + local[..., 2].min(1)), 0.0)


def _ankle_targets(skeleton, pos, legs, locks, options, blend) -> tuple[dict, np.ndarray]:
    """Per side the ankle's target (F, 3) and the foot's turn; and the pelvis's drop (F,).

    A locked foot stays at its pin while the pelvis goes down; a free foot goes down with the
    pelvis (the leg keeps its pose) unless that would put it under the floor."""
    pinned = [pos[:, a] + locks[s][0] for s, (_, _, a) in legs.items()]
    reach = [np.where(locks[s][2] > 0, np.maximum(
        REACH * (np.linalg.norm(skeleton.offsets[k]) + np.linalg.norm(skeleton.offsets[a])),
        np.linalg.norm(pos[:, a] - pos[:, h], axis=-1)), np.inf) for s, (h, k, a) in legs.items()]
    drop = pelvis_drop([pos[:, h] for h, _, _ in legs.values()], pinned, reach, blend)
    targets = {}
    for (side, (_, _, ankle)), target in zip(legs.items(), pinned):
        delta, turn, weight = locks[side]
        target = target - ((1.0 - weight) * drop)[:, None] * np.array([0.0, 0.0, 1.0])
        if options.floor:
            target[:, 2] += _floor_lift(skeleton, pos, ankle, target, turn)
        targets[side] = (target, turn)
    return targets, drop


def _solve_legs(skeleton, motion, pos, glob, legs, targets, drop) -> np.ndarray:
    """(F, J, 3, 3) local rotations with each leg's hip, knee and ankle solved by IK."""
    rotations = np.array(motion.rotations)
    lowered = np.array([0.0, 0.0, 1.0]) * drop[:, None]
    for side, (hip, knee, ankle) in legs.items():
        target, turn = targets[side]
        moved = (np.linalg.norm(target - pos[:, ankle], axis=-1) + drop
                 + np.abs(turn - np.eye(3)).max((1, 2))) > 1e-9
        if not moved.any():
            continue
        r_thigh, r_shank = two_bone_ik(pos[moved, hip] - lowered[moved], pos[moved, knee] - lowered[moved],
                                       pos[moved, ankle] - lowered[moved], target[moved])
        g_hip = r_thigh @ glob[moved, hip]
        g_knee = r_shank @ r_thigh @ glob[moved, knee]
        parent = glob[moved, skeleton.parents[hip]]
        rotations[moved, hip] = np.swapaxes(parent, -1, -2) @ g_hip
        rotations[moved, knee] = np.swapaxes(g_hip, -1, -2) @ g_knee
        rotations[moved, ankle] = np.swapaxes(g_knee, -1, -2) @ turn[moved] @ glob[moved, ankle]
    return rotations


def lock_feet(skeleton: Skeleton, motion: Motion, flags: np.ndarray,
              options: LockOptions = LockOptions()) -> Motion:
    """The motion with its feet pinned during contacts and kept above the floor.

    Args:
        skeleton: the skeleton (canonical joint names). motion: its motion.
        flags: (F, 6) bool contacts, columns :data:`mocap.export.contacts.CONTACT_COLUMNS`.
        options: what to do.
    Returns:
        a new Motion (same fps); only hip, knee and ankle rotations and the root's height change
        (the ankle's world rotation only where heel and toe both touch).
    """
    legs = {s: c for s in ("left", "right") if (c := leg_chain(skeleton, s)) is not None}
    if not legs or not (options.lock or options.floor):
        if not legs:
            log.warning("foot locking skipped: no <side>_hip/_knee/_ankle chain in the skeleton")
        return motion
    blend = max(1, int(round(options.blend_s * motion.fps)))
    pos, glob = forward_kinematics(skeleton, motion.rotations, motion.root_translation)
    locks = _locks(skeleton, pos, np.asarray(flags, bool), legs, options, blend)
    targets, drop = _ankle_targets(skeleton, pos, legs, locks, options, blend)
    rotations = _solve_legs(skeleton, motion, pos, glob, legs, targets, drop)
    solved = [j for chain in legs.values() for j in chain]      # the only rotations changed
    rotations[:, solved] = orthonormal(rotations[:, solved])
    root = np.array(motion.root_translation)
    root[:, 2] -= drop
    return Motion(rotations, root, motion.fps)


def orthonormal(rotations: np.ndarray) -> np.ndarray:
    """(..., 3, 3) the nearest rotation matrices (SVD), removing rounding drift."""
    u, _, vt = np.linalg.svd(rotations)
    fix = np.ones(rotations.shape[:-1])
    fix[..., -1] = np.sign(np.linalg.det(u @ vt))
    return (u * fix[..., None, :]) @ vt
