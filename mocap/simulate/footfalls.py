"""Ground-truth foot contact of a simulated take: a contact point (heel, toe; see
:func:`mocap.export.contacts.foot_points`) touches the floor where the true motion has it on
the floor (under ``height_m``: the toe point is the mean of two toes, one of which may be
lifted a little while the foot rolls) and still (under ``speed_m_per_s``, 5 mm a frame at 30 fps,
from one frame to the next and the next to it).
Only meaningful for motions whose feet do not slide (``walk_planted``, the in-place ones)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..export.contacts import CONTACT_COLUMNS, contact_intervals, foot_points, point_positions

__all__ = ["true_contacts", "FootMetrics", "foot_metrics"]


def true_contacts(xyz: np.ndarray, joint_names, fps: float, height_m: float = 0.025,
                  speed_m_per_s: float = 0.15) -> np.ndarray:
    """(F, 6) bool true contacts, columns :data:`mocap.export.contacts.CONTACT_COLUMNS`; a
    foot touches while any of its points does (each toe alone too: the foot rolling from heel
    to toes stays on the floor).

    Args:
        xyz: (F, J, 3) true joint or keypoint positions, metres, world (floor z = 0).
        joint_names: (J,) canonical names. fps: frames per second.
    """
    xyz = np.asarray(xyz, float)
    points = foot_points(joint_names)
    flags = np.zeros((len(xyz), len(CONTACT_COLUMNS)), bool)
    flags[:, [0, 1, 3, 4]] = _touching(point_positions(xyz, points), fps, height_m, speed_m_per_s)
    for col, side in ((2, "left"), (5, "right")):
        joints = sorted(set(points[f"{side}_heel"] + points[f"{side}_toe"]))
        flags[:, col] = _touching(xyz[:, joints], fps, height_m, speed_m_per_s).any(1)
    return flags


def _touching(pos: np.ndarray, fps: float, height_m: float, speed_m_per_s: float) -> np.ndarray:
    """(F, K) bool: points (F, K, 3) low and still (speed to the previous and next frame)."""
    step = np.linalg.norm(np.diff(pos, axis=0), axis=-1) * fps
    speed = np.maximum(np.concatenate([step[:1], step]), np.concatenate([step, step[-1:]]))
    return (pos[..., 2] < height_m) & (speed < speed_m_per_s)


@dataclass(frozen=True)
class FootMetrics:
    """How planted an exported motion's feet are during the true contacts.

    Attributes:
        slide_median_mm, slide_max_mm: per true contact of a heel or toe point, the largest
            floor-plan distance of the point from where the contact began; median and largest.
        floor_max_mm: during true foot contacts, the largest distance of the foot's lowest joint
            from the floor (z = 0).
        lowest_mm: the lowest height any foot joint reaches over the take (negative: under the
            floor).
        outside_max_mm: the largest distance of a joint from the reference motion outside
            contact: a leg's knee, ankle and foot joints away from its foot's true contacts
            (and ``blend_s`` around them), every joint where neither foot is near a contact
            (while a foot touches, the pelvis, trunk and hips may go down as locking needs).
        contacts: how many true heel/toe contacts were measured.
    """

    slide_median_mm: float
    slide_max_mm: float
    floor_max_mm: float
    lowest_mm: float
    outside_max_mm: float
    contacts: int


def _leg_joints(joint_names, side: str) -> list[int]:
    return [j for j, n in enumerate(joint_names)
            if n.startswith(f"{side}_") and n.split("_", 1)[1] in LEG_PARTS]


LEG_PARTS = ("hip", "knee", "ankle", "foot", "heel", "big_toe", "small_toe", "toe")


def foot_metrics(joints: np.ndarray, reference: np.ndarray, joint_names, truth: np.ndarray,
                 fps: float, blend_s: float = 0.15) -> FootMetrics:
    """Foot slide, floor distance and departure from a reference motion.

    Args:
        joints: (F, J, 3) the exported motion's joints, metres, world (floor z = 0).
        reference: (F, J, 3) the same joints before locking. joint_names: (J,) canonical.
        truth: (F, 6) true contacts (:func:`true_contacts`). fps: frames per second.
        blend_s: seconds around a contact not counted as outside it.
    """
    points = foot_points(joint_names)
    pts = point_positions(joints, points)
    slides = [np.linalg.norm(pts[a:b, k, :2] - pts[a, k, :2], axis=-1).max()
              for k, col in enumerate((0, 1, 3, 4)) for a, b in contact_intervals(truth[:, col])]
    floor, lowest = [0.0], np.inf
    blend = int(round(blend_s * fps))
    legs = {side: _leg_joints(joint_names, side) for side in ("left", "right")}
    outside = np.zeros(joints.shape[:2], bool)
    any_near = np.zeros(len(joints), bool)
    for col, side in ((2, "left"), (5, "right")):
        feet = sorted(set(points[f"{side}_heel"] + points[f"{side}_toe"]))
        low = joints[:, feet, 2].min(1)
        floor.append(np.abs(low[truth[:, col]]).max(initial=0.0))
        lowest = min(lowest, float(low.min()))
        near = np.convolve(truth[:, col].astype(float), np.ones(2 * blend + 1), "same") > 0
        any_near |= near
        outside[np.ix_(~near, [j for j in legs[side] if not joint_names[j].endswith("_hip")])] = True
    outside[~any_near] = True
    dev = np.linalg.norm(joints - reference, axis=-1)
    return FootMetrics(float(np.median(slides)) * 1e3 if slides else 0.0,
                       float(np.max(slides, initial=0.0)) * 1e3, float(max(floor)) * 1e3,
                       lowest * 1e3, float(dev[outside].max(initial=0.0)) * 1e3, len(slides))
