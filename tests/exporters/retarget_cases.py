"""Retargeting our FBX in Blender onto each preset's character (tests and benchmarks/animation.py).

A character: our skeleton in the preset's rest pose (``[export] rest_pose = "auto"``: T for
Mixamo and Rigify, A for Unreal and MetaHuman) with the preset's bone names, 10 % taller, its
bones built by Blender with Blender's own axes (``blender_retarget.py``).
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np

from exporters import Skeleton, forward_kinematics
from exporters.naming import rename_skeleton
from exporters.rest_pose import repose

REPO = Path(__file__).resolve().parents[2]
BLENDER_PYTHON = REPO / ".venv-blender" / "bin" / "python"
RETARGET = Path(__file__).with_name("blender_retarget.py")
PRESETS = ("mixamo", "unreal", "metahuman", "blender")
SCALE = 1.1


def character_bones(skeleton: Skeleton, preset: str, kind: str) -> list[dict]:
    """The target armature of ``blender_retarget.py``: bones named by ``preset``, rest pose
    ``kind``, ``SCALE`` times our size; a bone's tail at its only child, else along its own bone."""
    posed, _ = repose(skeleton, _still(skeleton), kind)
    named = rename_skeleton(posed, preset)
    rest = posed.rest_positions() * SCALE
    bones = []
    for j, name in enumerate(named.joint_names):
        children = posed.children(j)
        if len(children) == 1:
            tail = rest[children[0]]
        else:
            direction = posed.offsets[j] if posed.parents[j] >= 0 else np.array([0.0, 0.0, 1.0])
            tail = rest[j] + 0.05 * direction / max(np.linalg.norm(direction), 1e-9)
        parent = named.joint_names[posed.parents[j]] if posed.parents[j] >= 0 else None
        bones.append({"name": name, "parent": parent, "head": rest[j].tolist(), "tail": tail.tolist()})
    return bones


def _still(skeleton: Skeleton):
    from exporters import Motion
    return Motion(np.tile(np.eye(3), (1, skeleton.num_joints, 1, 1)), skeleton.offsets[:1], 30.0)


def run_retarget(jobs: list[dict], folder: Path) -> dict:
    """Run ``blender_retarget.py`` on ``jobs``; its OUT.npz as a dict (raises on a failure)."""
    (folder / "retarget.json").write_text(json.dumps(jobs))
    result = subprocess.run([str(BLENDER_PYTHON), str(RETARGET), str(folder / "retarget.json"),
                             str(folder / "retarget.npz")], capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        raise RuntimeError(f"Blender failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    with np.load(folder / "retarget.npz") as data:
        out = {key: data[key] for key in data.files}
    errors = json.loads(str(out["errors"]))
    if errors:
        raise RuntimeError(f"Blender could not retarget: {errors}")
    return out


def target_joints(out: dict, name: str, skeleton: Skeleton, preset: str) -> np.ndarray:
    """(F, J, 3) the character's bone heads in our joints' order, divided by ``SCALE``."""
    bones = [str(b) for b in out[f"{name}/bones"]]
    named = rename_skeleton(skeleton, preset).joint_names
    return out[f"{name}/heads"][:, [bones.index(n) for n in named]] / SCALE


def rotation_steps(out: dict, name: str) -> np.ndarray:
    """(F - 1, B) degrees each character bone's local rotation turns between frames."""
    basis = out[f"{name}/basis"]
    relative = np.swapaxes(basis[:-1], -1, -2) @ basis[1:]
    cos = (np.trace(relative, axis1=-2, axis2=-1) - 1.0) / 2.0
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def our_joints(skeleton: Skeleton, motion) -> np.ndarray:
    return forward_kinematics(skeleton, motion.rotations, motion.root_translation)[0]
