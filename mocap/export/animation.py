"""What the animation exports (BVH, FBX) carry beyond the measured motion.

In order: rotation spikes removed (a joint flipping for a frame or two and back) and a joint
still turning over 30 degrees a frame smoothed (a short bone's noise), feet locked
during contacts and kept above the floor (:mod:`.footlock`), the take
made in place (``[export] in_place``: the hips keep their height and turns, not their way over
the floor), the rest pose the rig expects (``[export] rest_pose``; ``auto`` = the naming
preset's: Mixamo, Rigify, SMPL stand in a T-pose, Unreal's mannequins and MetaHuman in an
A-pose, canonical names keep the actor's own neutral pose; :mod:`exporters.rest_pose`), the
bone names of the preset, root motion on a root bone at the floor when ``[export]
root_motion = "root"`` (:mod:`exporters.root_motion`), and a check that no joint's rotation
jumps between frames.
"""
from __future__ import annotations

import logging

import numpy as np

from scipy.spatial.transform import Rotation, Slerp

from exporters import Motion, Skeleton
from exporters.mesh import SkinnedMesh
from exporters.naming import rename_skeleton, root_bone_name
from exporters.rest_pose import repose, repose_mesh
from exporters.root_motion import add_root_bone, add_root_weights

from ..settings import ExportSettings
from .contacts import Contacts
from .footlock import LockOptions, lock_feet

log = logging.getLogger(__name__)

__all__ = ["PRESET_REST_POSES", "MAX_STEP_DEG", "rest_pose_of", "animation_motion", "animation_rig",
           "root_motion_rig",
           "rotation_steps_deg", "check_continuity", "despike_rotations", "smooth_fast_joints"]

PRESET_REST_POSES = {"canonical": "neutral", "mixamo": "t", "blender": "t", "smpl": "t", "unreal": "a",
                     "metahuman": "a"}
"""The rest pose ``[export] rest_pose = "auto"`` gives each naming preset."""
MAX_STEP_DEG = 30.0
"""A joint's local rotation turning more than this between two frames is reported as a jump."""


def rest_pose_of(settings: ExportSettings) -> str:
    """``neutral``, ``t`` or ``a``: ``[export] rest_pose``, or the naming preset's for ``auto``."""
    if settings.rest_pose != "auto":
        return settings.rest_pose
    return PRESET_REST_POSES.get(settings.naming, "neutral")


def animation_motion(skeleton: Skeleton, motion: Motion, contacts: Contacts | None,
                     settings: ExportSettings) -> Motion:
    """The motion the BVH and FBX files carry: feet locked during ``contacts`` and kept above
    the floor as ``[export] foot_lock`` and ``floor_snap`` say (no locking without contacts),
    then made in place (root x, y = 0) with ``[export] in_place``. Rotation spikes (a joint
    flipping for a frame or two and back: :func:`despike_rotations`) are removed first, and a
    joint still turning over 30 degrees a frame is smoothed (:func:`smooth_fast_joints`)."""
    motion = smooth_fast_joints(despike_rotations(motion))
    if contacts is not None and (settings.foot_lock or settings.floor_snap):
        options = LockOptions(settings.foot_lock, settings.floor_snap, settings.lock_blend_s)
        motion = lock_feet(skeleton, motion, contacts.flags, options)
    if settings.in_place:
        root = np.array(motion.root_translation)
        root[:, :2] = 0.0
        motion = Motion(motion.rotations, root, motion.fps)
    return motion


def animation_rig(skeleton: Skeleton, motion: Motion, mesh: SkinnedMesh | None, settings: ExportSettings
                  ) -> tuple[Skeleton, Motion, SkinnedMesh | None]:
    """The skeleton (rest pose and bone names of ``[export]``), its motion (joints where they
    were) and the mesh moved into that rest pose.

    A fitted body's mesh (``mesh`` given) keeps the body's own rest pose under ``auto``: its
    skin is bound there, and a skin moved to another rest pose deforms like the body only
    where a vertex follows one joint; an explicit ``t`` or ``a`` moves it all the same."""
    kind = "neutral" if mesh is not None and settings.rest_pose == "auto" else rest_pose_of(settings)
    posed, motion = repose(skeleton, motion, kind)
    if mesh is not None and kind != "neutral":
        mesh = repose_mesh(mesh, skeleton, kind)
    return rename_skeleton(posed, settings.naming), motion, mesh


def root_motion_rig(skeleton: Skeleton, motion: Motion, mesh: SkinnedMesh | None, settings: ExportSettings
                    ) -> tuple[Skeleton, Motion, SkinnedMesh | None]:
    """With ``[export] root_motion = "root"``: a root bone at the floor under the hips (named
    as the naming preset names it) carrying their way over the floor and the pelvis's heading,
    at the origin with ``in_place`` (:func:`exporters.root_motion.add_root_bone`); the mesh gets
    a weight column for it. With ``"hips"``: everything unchanged."""
    if settings.root_motion != "root":
        return skeleton, motion, mesh
    rooted, moved = add_root_bone(skeleton, motion, root_bone_name(settings.naming), in_place=settings.in_place)
    return rooted, moved, (add_root_weights(mesh) if mesh is not None else None)


def despike_rotations(motion: Motion, max_step_deg: float = MAX_STEP_DEG, rounds: int = 3) -> Motion:
    """The motion with rotation spikes removed.

    A joint's local rotation at a frame is a spike when it is more than ``max_step_deg`` from
    the rotations of both the frame before and the frame after it (a take's first and last
    frames have one neighbour): a keypoint swapped or misplaced for a frame flips a short bone
    (a toe) so, while a joint never turns that fast twice running (30 degrees a frame is 900
    degrees a second at 30 fps). Spikes are replaced by the spherical interpolation of the
    nearest other frames on either side (held from one side at the take's ends); ``rounds``
    passes remove spikes a few frames wide.

    Args:
        motion: F frames, J joints. max_step_deg: degrees. rounds: passes.
    Returns:
        a new Motion (root translation unchanged).
    """
    frames = np.arange(motion.num_frames)
    for _ in range(rounds):
        if motion.num_frames < 3:
            return motion
        steps = rotation_steps_deg(motion)
        edge = np.full((1, steps.shape[1]), np.inf)
        spike = (np.concatenate([edge, steps]) > max_step_deg) & (np.concatenate([steps, edge]) > max_step_deg)
        if not spike.any():
            break
        rotations = np.array(motion.rotations)
        for j in np.flatnonzero(spike.any(0)):
            good = ~spike[:, j]
            if good.sum() < 2:
                continue
            times = np.clip(frames, frames[good][0], frames[good][-1])
            fill = Slerp(frames[good], Rotation.from_matrix(rotations[good, j]))(times).as_matrix()
            rotations[~good, j] = fill[~good]
        motion = Motion(rotations, motion.root_translation, motion.fps)
    return motion


def smooth_fast_joints(motion: Motion, max_step_deg: float = MAX_STEP_DEG, passes: int = 4) -> Motion:
    """The motion with each joint that still turns over ``max_step_deg`` between two frames
    smoothed in time: its rotations averaged over neighbouring frames (quaternions, weights
    1/4, 1/2, 1/4), up to ``passes`` times until no step is over. A short bone (a toe) turns so
    from its end keypoints' noise alone; the other joints are left as they are.

    Args:
        motion: F frames, J joints. max_step_deg: degrees. passes: most smoothing passes.
    Returns:
        a new Motion (root translation unchanged).
    """
    rotations = np.array(motion.rotations)
    if len(rotations) < 3:
        return motion
    for _ in range(passes):
        fast = np.flatnonzero(rotation_steps_deg(Motion(rotations, motion.root_translation, motion.fps)).max(0)
                              > max_step_deg)
        if not fast.size:
            break
        for j in fast:
            aligned = _aligned_quaternions(Rotation.from_matrix(rotations[:, j]).as_quat())
            padded = np.concatenate([aligned[:1], aligned, aligned[-1:]])
            mean = 0.25 * padded[:-2] + 0.5 * padded[1:-1] + 0.25 * padded[2:]
            rotations[:, j] = Rotation.from_quat(mean / np.linalg.norm(mean, axis=-1, keepdims=True)).as_matrix()
    return Motion(rotations, motion.root_translation, motion.fps)


def _aligned_quaternions(q: np.ndarray) -> np.ndarray:
    """(F, 4) quaternions with signs flipped so that neighbours lie in the same hemisphere."""
    out = q.copy()
    for f in range(1, len(out)):
        if np.dot(out[f], out[f - 1]) < 0:
            out[f] = -out[f]
    return out


def rotation_steps_deg(motion: Motion) -> np.ndarray:
    """(F - 1, J) degrees: how far each joint's local rotation turns from one frame to the next."""
    relative = np.swapaxes(motion.rotations[:-1], -1, -2) @ motion.rotations[1:]
    cos = (np.trace(relative, axis1=-2, axis2=-1) - 1.0) / 2.0
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def check_continuity(skeleton: Skeleton, motion: Motion, label: str) -> float:
    """The largest rotation step of any joint (degrees); a step over :data:`MAX_STEP_DEG` is
    logged as a warning naming the joint and the frame (a flipped joint)."""
    if motion.num_frames < 2:
        return 0.0
    steps = rotation_steps_deg(motion)
    f, j = np.unravel_index(int(np.argmax(steps)), steps.shape)
    worst = float(steps[f, j])
    if worst > MAX_STEP_DEG:
        log.warning("%s: joint %s turns %.0f degrees from frame %d to %d (over %.0f: a flip or a "
                    "tracking error there)", label, skeleton.joint_names[j], worst, f, f + 1, MAX_STEP_DEG)
    return worst
