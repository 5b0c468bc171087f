"""Foot locking and floor snapping of a skeleton's motion (for the animation exports).

During a contact (:mod:`mocap.export.contacts`) the contact point (heel or toe) is pinned: its
floor-plan position is the median of its positions over the contact, its height the point's
resting height (the median over all its contacts, never below the floor z = 0). The foot
keeps the motion's orientation and is moved as a whole so that the point meets its pin; where
heel and toe both touch, the two corrections are averaged. A correction is held at its edge
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


def foot_correction(pos: np.ndarray, flags: np.ndarray, heel: tuple, toe: tuple, blend: int
                    ) -> np.ndarray:
    """(F, 3) metres: how far one foot moves so that its heel and toe meet their pins.

    Args:
        pos: (F, J, 3) joint positions. flags: (F, 2) bool heel and toe contact.
        heel, toe: joint indices averaged into the heel and toe points. blend: frames.
    """
    total, weights, top = 0.0, 0.0, np.zeros(len(pos))
    for k, joints in enumerate((heel, toe)):
        point = pos[:, list(joints)].mean(1)
        touching = point[flags[:, k], 2]
        rest_z = max(float(np.median(touching)), 0.0) if touching.size else 0.0
        corr, w = pin_corrections(point, flags[:, k], rest_z, blend)
        total, weights, top = total + w[:, None] * corr, weights + w, np.maximum(top, w)
    return total / np.maximum(weights, 1e-12)[:, None] * top[:, None]


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


def _targets(skeleton, pos, flags, legs, options, blend) -> dict:
    """Per side: the ankle's target positions (F, 3)."""
    points = foot_points(skeleton.joint_names)
    out = {}
    for side, (hip, knee, ankle) in legs.items():
        cols = [CONTACT_COLUMNS.index(f"{side}_heel"), CONTACT_COLUMNS.index(f"{side}_toe")]
        delta = np.zeros((len(pos), 3))
        if options.lock:
            delta = foot_correction(pos, flags[:, cols], points[f"{side}_heel"], points[f"{side}_toe"], blend)
        if options.floor:
            lowest = pos[:, below_joints(skeleton, ankle), 2].min(1) + delta[:, 2]
            delta[:, 2] += np.maximum(-lowest, 0.0)
        out[side] = pos[:, ankle] + delta
    return out


def lock_feet(skeleton: Skeleton, motion: Motion, flags: np.ndarray,
              options: LockOptions = LockOptions()) -> Motion:
    """The motion with its feet pinned during contacts and kept above the floor.

    Args:
        skeleton: the skeleton (canonical joint names). motion: its motion.
        flags: (F, 6) bool contacts, columns :data:`mocap.export.contacts.CONTACT_COLUMNS`.
        options: what to do.
    Returns:
        a new Motion (same fps); only hip, knee and ankle rotations and the root's height change.
    """
    legs = {s: c for s in ("left", "right") if (c := leg_chain(skeleton, s)) is not None}
    if not legs or not (options.lock or options.floor):
        if not legs:
            log.warning("foot locking skipped: no <side>_hip/_knee/_ankle chain in the skeleton")
        return motion
    blend = max(1, int(round(options.blend_s * motion.fps)))
    pos, glob = forward_kinematics(skeleton, motion.rotations, motion.root_translation)
    targets = _targets(skeleton, pos, np.asarray(flags, bool), legs, options, blend)
    reach = [np.maximum(REACH * (np.linalg.norm(skeleton.offsets[k]) + np.linalg.norm(skeleton.offsets[a])),
                        np.linalg.norm(pos[:, a] - pos[:, h], axis=-1)) for (h, k, a) in legs.values()]
    drop = pelvis_drop([pos[:, h] for h, _, _ in legs.values()], list(targets.values()), reach, blend)
    rotations = np.array(motion.rotations)
    root = np.array(motion.root_translation)
    root[:, 2] -= drop
    for side, (hip, knee, ankle) in legs.items():
        lowered = np.array([0.0, 0.0, 1.0]) * drop[:, None]
        moved = np.linalg.norm(targets[side] - pos[:, ankle], axis=-1) + drop > 1e-9
        if not moved.any():
            continue
        r_thigh, r_shank = two_bone_ik(pos[moved, hip] - lowered[moved], pos[moved, knee] - lowered[moved],
                                       pos[moved, ankle] - lowered[moved], targets[side][moved])
        g_hip = r_thigh @ glob[moved, hip]
        g_knee = r_shank @ r_thigh @ glob[moved, knee]
        parent = glob[moved, skeleton.parents[hip]]
        rotations[moved, hip] = np.swapaxes(parent, -1, -2) @ g_hip
        rotations[moved, knee] = np.swapaxes(g_hip, -1, -2) @ g_knee
        rotations[moved, ankle] = np.swapaxes(g_knee, -1, -2) @ glob[moved, ankle]
    return Motion(orthonormal(rotations), root, motion.fps)


def orthonormal(rotations: np.ndarray) -> np.ndarray:
    """(..., 3, 3) the nearest rotation matrices (SVD), removing rounding drift."""
    u, _, vt = np.linalg.svd(rotations)
    fix = np.ones(rotations.shape[:-1])
    fix[..., -1] = np.sign(np.linalg.det(u @ vt))
    return (u * fix[..., None, :]) @ vt
