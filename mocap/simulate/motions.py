"""Procedural ground-truth motions for the virtual studio.

A motion is a pure function of time (seconds) and a random generator that returns joint
angles; :func:`animate` turns them into rotations, places the body so that its soles touch the
floor (z = 0) except in flight phases, and returns world joints and landmarks.

Angle conventions (body frame: x forward, y left, z up; degrees in the tables, radians in
code): hip/shoulder *flexion* swings the limb forward, knee flexion folds the shank back, elbow
flexion folds the forearm forward, ankle dorsiflexion lifts the toes, abduction moves a limb
away from the midline, spine flexion bends the trunk forward.

A forward lean of the trunk is shared between the pelvis (tilting over the hips) and the spine
by the lumbopelvic rhythm of :mod:`mocap.body.lumbopelvic`, each actor with an individual scale
of the pelvis's share (0.9-1.1, drawn last from the motion's generator); the hips flex by the
pelvis's tilt on top, so that a motion's thighs keep their angle to the vertical.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from ..body.lumbopelvic import pelvis_tilt_of_trunk
from ..errors import SimulationError
from .body import JOINT_NAMES, LANDMARK_NAMES, SOLE_LANDMARKS, Body

__all__ = ["MOTIONS", "Pose", "animate", "axis_rotation", "motion_names",
           "path_through_waypoints"]

D = np.pi / 180.0


@dataclass
class Pose:
    """Angles per frame (radians, (F,) arrays) plus where the body is on the floor.

    ``path_xy`` (F, 2) metres and ``heading`` (F,) radians place the pelvis on the floor plan;
    ``flight`` (F,) metres lifts the body above floor contact; ``anchor_feet`` keeps the
    midpoint of the ankles at ``path_xy`` instead of the pelvis (in-place motions);
    ``plant_feet`` ignores ``path_xy`` and moves the body so that the lowest sole point never
    slides (:func:`planted_path`: the legs carry the body, as in real walking).
    """

    angles: dict
    path_xy: np.ndarray
    heading: np.ndarray
    flight: np.ndarray
    anchor_feet: bool = False
    plant_feet: bool = False


def _sides(angles: dict, name: str, left, right) -> None:
    angles[f"left_{name}"] = left
    angles[f"right_{name}"] = right


def _trunk(angles: dict, trunk: np.ndarray, rng) -> None:
    """Lean the trunk forward by ``trunk`` (F,) radians: the pelvis tilts by the rhythm's share
    (scaled by this actor's individual factor), the spine bends by the rest, and both hips flex
    by the pelvis's tilt so that the thighs keep their angle to the vertical."""
    pelvis = pelvis_tilt_of_trunk(trunk, rng.uniform(0.9, 1.1))
    angles["pelvis_tilt"] = pelvis
    angles["spine_flex"] = trunk - pelvis
    for side in ("left", "right"):
        angles[f"{side}_hip_flex"] = angles.get(f"{side}_hip_flex", 0.0) + pelvis


def walk(t, rng, duration):
    f = 0.95 * rng.uniform(0.93, 1.07)
    speed = 1.3 * rng.uniform(0.9, 1.1)
    ph = 2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)
    a = {}
    _sides(a, "hip_flex", (25 * np.sin(ph) + 5) * D, (25 * np.sin(ph + np.pi) + 5) * D)
    _sides(a, "knee_flex", (5 + 55 * np.clip(np.sin(ph + 1.2), 0, None) ** 2) * D,
           (5 + 55 * np.clip(np.sin(ph + np.pi + 1.2), 0, None) ** 2) * D)
    _sides(a, "ankle_dorsi", 10 * np.sin(ph - 1.0) * D, 10 * np.sin(ph + np.pi - 1.0) * D)
    _sides(a, "shoulder_flex", -20 * np.sin(ph) * D, 20 * np.sin(ph) * D)
    _sides(a, "shoulder_abd", np.full_like(t, 8 * D), np.full_like(t, 8 * D))
    _sides(a, "elbow_flex", (20 - 10 * np.sin(ph)) * D, (20 + 10 * np.sin(ph)) * D)
    a["pelvis_yaw"] = 5 * np.sin(ph) * D
    a["spine_yaw"] = -5 * np.sin(ph) * D
    heading0 = rng.uniform(0, 2 * np.pi)
    if speed * duration <= 3.6:  # a straight pass through the middle of the volume
        d = speed * (t - duration / 2)
        xy = d[:, None] * np.array([np.cos(heading0), np.sin(heading0)])
        heading = np.full_like(t, heading0)
    else:  # long takes walk a 1.7 m circle so that the actor stays in view
        theta = speed * t / 1.7 + heading0
        xy = 1.7 * np.stack([np.cos(theta), np.sin(theta)], -1)
        heading = theta + np.pi / 2
    return Pose(a, xy, heading, np.zeros_like(t))


def walk_planted(t, rng, duration):
    """A straight walk carried by the stance foot (no foot slides on the floor: the ground truth
    of foot contact and foot locking): heel strike, roll onto the toes, push-off, the rear knee
    bending before the hip's full extension so that the feet take turns on the floor."""
    pose = walk(t, rng, duration)
    ph = 2 * np.pi * 0.95 * t + rng.uniform(0, 2 * np.pi)
    a = pose.angles
    _sides(a, "hip_flex", (22 * np.sin(ph) + 5) * D, (22 * np.sin(ph + np.pi) + 5) * D)
    _sides(a, "knee_flex", (5 + 60 * np.clip(np.sin(ph + 1.7), 0, None) ** 1.5) * D,
           (5 + 60 * np.clip(np.sin(ph + np.pi + 1.7), 0, None) ** 1.5) * D)
    _sides(a, "ankle_dorsi", 8 * np.sin(ph) * D, 8 * np.sin(ph + np.pi) * D)
    pose.heading = np.full_like(t, pose.heading[0])
    pose.plant_feet = True
    return pose


def jog_circle(t, rng, duration):
    f = 1.4 * rng.uniform(0.95, 1.05)
    radius = 1.6 * rng.uniform(0.9, 1.1)
    speed = 2.4 * rng.uniform(0.9, 1.1)
    ph = 2 * np.pi * f * t
    theta = speed * t / radius + rng.uniform(0, 2 * np.pi)
    a = {}
    _sides(a, "hip_flex", (35 * np.sin(ph) + 10) * D, (35 * np.sin(ph + np.pi) + 10) * D)
    _sides(a, "knee_flex", (15 + 80 * np.clip(np.sin(ph + 1.3), 0, None) ** 1.5) * D,
           (15 + 80 * np.clip(np.sin(ph + np.pi + 1.3), 0, None) ** 1.5) * D)
    _sides(a, "ankle_dorsi", 15 * np.sin(ph - 1.0) * D, 15 * np.sin(ph + np.pi - 1.0) * D)
    _sides(a, "shoulder_flex", -35 * np.sin(ph) * D, 35 * np.sin(ph) * D)
    _sides(a, "shoulder_abd", np.full_like(t, 12 * D), np.full_like(t, 12 * D))
    _sides(a, "elbow_flex", np.full_like(t, 85 * D), np.full_like(t, 85 * D))
    a["body_roll"] = np.full_like(t, -8 * D)  # lean into the circle
    xy = radius * np.stack([np.cos(theta), np.sin(theta)], -1)
    flight = 0.05 * np.clip(np.sin(2 * ph - 0.5), 0, None)
    _trunk(a, np.full_like(t, 8 * D), rng)
    return Pose(a, xy, theta + np.pi / 2, flight)


def squat(t, rng, duration):
    period = 3.0 * rng.uniform(0.9, 1.1)
    s = 0.5 * (1 - np.cos(2 * np.pi * t / period)) * rng.uniform(0.85, 1.0)
    h, k = 85 * s * D, 115 * s * D
    a = {}
    _sides(a, "hip_flex", h, h)
    _sides(a, "knee_flex", k, k)
    _sides(a, "ankle_dorsi", k - h, k - h)  # keeps the feet flat on the floor
    _sides(a, "hip_abd", 8 * D + 0 * t, 8 * D + 0 * t)
    _sides(a, "shoulder_flex", 85 * s * D, 85 * s * D)
    _sides(a, "elbow_flex", 10 * D + 0 * t, 10 * D + 0 * t)
    heading = np.full_like(t, rng.uniform(0, 2 * np.pi))
    _trunk(a, 35 * s * D, rng)
    return Pose(a, np.zeros((len(t), 2)), heading, np.zeros_like(t), anchor_feet=True)


def jumping_jacks(t, rng, duration):
    period = 1.2 * rng.uniform(0.92, 1.08)
    ph = 2 * np.pi * t / period
    s = 0.5 * (1 - np.cos(ph))
    a = {}
    _sides(a, "shoulder_abd", (10 + 150 * s) * D, (10 + 150 * s) * D)
    _sides(a, "elbow_flex", (15 - 10 * s) * D, (15 - 10 * s) * D)
    _sides(a, "hip_abd", (2 + 16 * s) * D, (2 + 16 * s) * D)
    _sides(a, "knee_flex", (10 + 15 * np.abs(np.sin(ph))) * D, (10 + 15 * np.abs(np.sin(ph))) * D)
    _sides(a, "hip_flex", (5 + 8 * np.abs(np.sin(ph))) * D, (5 + 8 * np.abs(np.sin(ph))) * D)
    _sides(a, "ankle_dorsi", 0 * t, 0 * t)
    flight = 0.07 * np.clip((np.abs(np.sin(ph)) - 0.5) / 0.5, 0, 1)  # airborne a third of the time
    heading = np.full_like(t, rng.uniform(0, 2 * np.pi))
    return Pose(a, np.zeros((len(t), 2)), heading, flight, anchor_feet=True)


def turn(t, rng, duration):
    u = np.clip(t / max(duration, 1e-6), 0, 1)
    yaw = 2 * np.pi * (3 * u ** 2 - 2 * u ** 3) * rng.choice([-1, 1]) + rng.uniform(0, 2 * np.pi)
    ph = 2 * np.pi * 1.6 * t
    step = np.clip(np.sin(ph), 0, None)
    a = {}
    _sides(a, "hip_flex", 18 * step * D, 18 * np.clip(-np.sin(ph), 0, None) * D)
    _sides(a, "knee_flex", 35 * step * D, 35 * np.clip(-np.sin(ph), 0, None) * D)
    _sides(a, "ankle_dorsi", 0 * t, 0 * t)
    _sides(a, "shoulder_abd", 15 * D + 0 * t, 15 * D + 0 * t)
    _sides(a, "elbow_flex", 30 * D + 0 * t, 30 * D + 0 * t)
    return Pose(a, np.zeros((len(t), 2)), yaw, np.zeros_like(t), anchor_feet=True)


def bend_and_reach(t, rng, duration):
    period = 4.0 * rng.uniform(0.9, 1.1)
    ph = 2 * np.pi * t / period
    down = np.clip(np.sin(ph), 0, None)   # first half: bend forward and reach to the floor
    up = np.clip(-np.sin(ph), 0, None)    # second half: stretch and reach overhead
    a = {}
    _sides(a, "hip_flex", 0 * t, 0 * t)  # legs stay vertical under the pelvis's tilt
    _sides(a, "knee_flex", 12 * down * D, 12 * down * D)
    _sides(a, "ankle_dorsi", 12 * down * D, 12 * down * D)
    _sides(a, "shoulder_flex", (70 * down + 165 * up) * D, (70 * down + 140 * up) * D)
    _sides(a, "shoulder_abd", 10 * D + 0 * t, (10 + 20 * up) * D)
    _sides(a, "elbow_flex", (10 + 0 * t) * D, (10 + 15 * up) * D)
    heading = np.full_like(t, rng.uniform(0, 2 * np.pi))
    _trunk(a, (95 * down - 10 * up) * D, rng)
    return Pose(a, np.zeros((len(t), 2)), heading, np.zeros_like(t), anchor_feet=True)


def stand(t, rng, duration):
    """Standing and watching (a coach, a bystander): slow sway, arms loose, head turning."""
    ph = 2 * np.pi * 0.25 * rng.uniform(0.8, 1.2) * t + rng.uniform(0, 2 * np.pi)
    a = {}
    _sides(a, "hip_abd", 5 * D + 0 * t, 5 * D + 0 * t)
    _sides(a, "knee_flex", (4 + 2 * np.sin(ph)) * D, (4 - 2 * np.sin(ph)) * D)
    _sides(a, "ankle_dorsi", 0 * t, 0 * t)
    _sides(a, "shoulder_flex", (5 + 5 * np.sin(ph)) * D, (5 - 5 * np.sin(ph)) * D)
    _sides(a, "shoulder_abd", 8 * D + 0 * t, 8 * D + 0 * t)
    _sides(a, "elbow_flex", 15 * D + 0 * t, 15 * D + 0 * t)
    a["spine_yaw"] = 15 * np.sin(0.7 * ph) * D
    heading = np.full_like(t, rng.uniform(0, 2 * np.pi))
    return Pose(a, np.zeros((len(t), 2)), heading, np.zeros_like(t), anchor_feet=True)


MOTIONS = {"walk": walk, "walk_planted": walk_planted, "jog_circle": jog_circle, "squat": squat,
           "jumping_jacks": jumping_jacks, "turn": turn, "bend_and_reach": bend_and_reach,
           "stand": stand}


def motion_names() -> tuple[str, ...]:
    return tuple(MOTIONS)


def axis_rotation(axis: str, angle: np.ndarray) -> np.ndarray:
    """(F, 3, 3) rotations by ``angle`` (F,) radians (a scalar: F = 1) about the body frame's
    ``axis`` ("x", "y" or "z"; x forward, y left, z up)."""
    return Rotation.from_euler(axis, np.asarray(angle, float).reshape(-1, 1)).as_matrix()


def _local_rotations(a: dict, F: int) -> np.ndarray:
    """(F, J, 3, 3) local rotations from the named angles (missing angles are zero)."""
    z = np.zeros(F)
    g = lambda k: np.broadcast_to(a.get(k, z), (F,))  # noqa: E731
    R = np.tile(np.eye(3), (F, len(JOINT_NAMES), 1, 1))
    J = {n: i for i, n in enumerate(JOINT_NAMES)}
    rot = axis_rotation
    R[:, J["pelvis"]] = rot("z", g("pelvis_yaw")) @ rot("y", g("pelvis_tilt"))
    for n in ("spine1", "spine2", "spine3"):
        R[:, J[n]] = rot("y", g("spine_flex") / 3) @ rot("z", g("spine_yaw") / 3)
    for side, sgn in (("left", 1.0), ("right", -1.0)):
        R[:, J[f"{side}_hip"]] = (rot("x", sgn * g(f"{side}_hip_abd"))
                                  @ rot("y", -g(f"{side}_hip_flex")))
        R[:, J[f"{side}_knee"]] = rot("y", g(f"{side}_knee_flex"))
        R[:, J[f"{side}_ankle"]] = rot("y", -g(f"{side}_ankle_dorsi"))
        R[:, J[f"{side}_shoulder"]] = (rot("x", sgn * g(f"{side}_shoulder_abd"))
                                       @ rot("y", -g(f"{side}_shoulder_flex")))
        R[:, J[f"{side}_elbow"]] = rot("y", -g(f"{side}_elbow_flex"))
    return R


def path_through_waypoints(t: np.ndarray, waypoints, speed_m_per_s: float,
                           start_s: float = 0.0, turn_s: float = 0.4,
                           ) -> tuple[np.ndarray, np.ndarray]:
    """Walk a polyline on the floor plan at constant speed.

    Args:
        t: (F,) seconds. waypoints: (K, 2) metres, K >= 2, floor plan (x, y).
        speed_m_per_s: walking speed along the polyline. start_s: the first waypoint is left
            at this time (before it the walker waits there). turn_s: headings are smoothed over
            this many seconds, so that corners are turned, not snapped.
    Returns:
        path_xy (F, 2) metres and heading (F,) radians (direction of travel, +x = 0). After the
        last waypoint the walker stays there, still facing the last segment's direction.
    """
    w = np.asarray(waypoints, float).reshape(-1, 2)
    if len(w) < 2 or not np.isfinite(w).all() or not speed_m_per_s > 0:
        raise SimulationError(f"a path needs >= 2 finite waypoints and a positive speed, "
                              f"found {len(w)} waypoints and {speed_m_per_s} m/s")
    seg = np.diff(w, axis=0)
    length = np.linalg.norm(seg, axis=-1)
    if not (length > 0).all():
        raise SimulationError(f"waypoints {w.tolist()} repeat a point; expected distinct ones")
    arc = np.concatenate([[0.0], np.cumsum(length)])
    s = np.clip(speed_m_per_s * (np.asarray(t, float) - start_s), 0.0, arc[-1])
    xy = np.stack([np.interp(s, arc, w[:, 0]), np.interp(s, arc, w[:, 1])], -1)
    seg_yaw = np.unwrap(np.arctan2(seg[:, 1], seg[:, 0]))
    half = 0.5 * speed_m_per_s * turn_s
    # Heading as the average segment direction over an arc window of +-half around s.
    grid = np.linspace(-half, half, 9)
    idx = np.clip(np.searchsorted(arc, s[:, None] + grid, side="right") - 1, 0, len(seg) - 1)
    heading = seg_yaw[idx].mean(-1)
    return xy, heading


def planted_path(soles: np.ndarray) -> np.ndarray:
    """The floor-plan path that keeps the lowest sole point still.

    Args:
        soles: (F, S, 3) metres: the sole points of a body posed with its root at the origin
            (world orientation applied).
    Returns:
        (F, 2) metres: root positions on the floor plan, centred on the take's middle frame, such
        that the sole point lowest at frame f is at the same place at frames f - 1 and f.
    """
    low = soles[:, :, 2].argmin(1)
    frames = np.arange(1, len(soles))
    step = soles[frames, low[1:], :2] - soles[frames - 1, low[1:], :2]
    path = -np.concatenate([np.zeros((1, 2)), np.cumsum(step, axis=0)])
    return path - path[len(path) // 2]


def animate(body: Body, motion: str, num_frames: int, fps: float, seed: int = 0,
            start_frame: int = 0, xy_offset=(0.0, 0.0), waypoints=None,
            speed_m_per_s: float = 1.3, path_start_s: float = 0.0) -> dict:
    """Move ``body`` through a named motion.

    Args:
        body: the person. motion: one of :data:`MOTIONS`.
        num_frames, fps: length and rate of the take; ``start_frame`` shifts time (used for
            cameras that run early or late), in frames.
        seed: varies speed, amplitude, phase and facing direction reproducibly.
        xy_offset: (2,) metres added to the path on the floor plan.
        waypoints: optional (K, 2) metres: the body travels this polyline at
            ``speed_m_per_s`` from ``path_start_s`` seconds on (see
            :func:`path_through_waypoints`) instead of the motion's own path; the motion's
            limb movement is kept (use ``walk`` or ``jog_circle`` for a natural gait).
    Returns:
        dict with ``joints`` (F, J, 3) and ``landmarks`` (F, L, 3) metres in the world frame,
        ``joint_names``, ``landmark_names``, ``local_R`` (F, J, 3, 3), ``root_R`` (F, 3, 3),
        ``root_pos`` (F, 3).
    """
    if motion not in MOTIONS:
        raise SimulationError(f"unknown motion {motion!r}; expected one of {', '.join(MOTIONS)}")
    duration = num_frames / fps
    t = (np.arange(num_frames) + start_frame) / fps
    pose = MOTIONS[motion](t, np.random.default_rng(seed), duration)
    if waypoints is not None:
        pose.path_xy, pose.heading = path_through_waypoints(t, waypoints, speed_m_per_s,
                                                            path_start_s)
        pose.anchor_feet = False
    F = num_frames
    local_R = _local_rotations(pose.angles, F)
    roll = np.broadcast_to(pose.angles.get("body_roll", np.zeros(F)), (F,))
    root_R = axis_rotation("z", pose.heading) @ axis_rotation("x", roll)
    zero = np.zeros((F, 3))
    joints, marks = body.pose(local_R, root_R, zero)
    sole = [LANDMARK_NAMES.index(n) for n in SOLE_LANDMARKS]
    root_pos = np.zeros((F, 3))
    root_pos[:, :2] = pose.path_xy + np.asarray(xy_offset, float)
    if pose.plant_feet:
        root_pos[:, :2] = planted_path(marks[:, sole]) + np.asarray(xy_offset, float)
    if pose.anchor_feet:
        ankles = [JOINT_NAMES.index("left_ankle"), JOINT_NAMES.index("right_ankle")]
        root_pos[:, :2] -= joints[:, ankles, :2].mean(1)
    root_pos[:, 2] = -marks[:, sole, 2].min(1) + pose.flight
    joints, marks = body.pose(local_R, root_R, root_pos)
    return dict(joints=joints, landmarks=marks, joint_names=JOINT_NAMES,
                landmark_names=LANDMARK_NAMES, local_R=local_R, root_R=root_R,
                root_pos=root_pos)
