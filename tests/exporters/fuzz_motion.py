"""A small skeleton and motion, and the bytes of each file format written from them: the valid
files the exporters' fuzz tests mutate (built once, in a temporary folder)."""
from __future__ import annotations

import functools
import shutil
import tempfile
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from exporters import Motion, Skeleton, write_amass, write_bvh, write_c3d
from exporters.amass import motion_to_amass
from exporters.fbx import write_fbx
from exporters.trc import write_trc

#: name, parent, rest offset (metres, Z up).
JOINTS = (("hips", -1, (0.0, 0.0, 0.9)), ("spine", 0, (0.0, 0.0, 0.2)), ("head", 1, (0.0, 0.0, 0.3)),
          ("l_leg", 0, (0.1, 0.0, -0.45)), ("r_leg", 0, (-0.1, 0.0, -0.45)))


def skeleton_and_motion(frames: int = 3) -> tuple[Skeleton, Motion]:
    """5 joints, ``frames`` frames of seeded random rotations at 30 fps."""
    names, parents, offsets = zip(*JOINTS)
    rng = np.random.default_rng(5)
    rotations = Rotation.from_rotvec(rng.normal(0, 0.3, (frames * len(names), 3))).as_matrix()
    motion = Motion(rotations.reshape(frames, len(names), 3, 3), rng.normal(0, 0.1, (frames, 3)), 30.0)
    return Skeleton(names, np.array(parents), np.array(offsets)), motion


@functools.cache
def valid_files() -> dict[str, bytes]:
    """The bytes of one valid file of each format: bvh, fbx, trc, c3d, npz."""
    skeleton, motion = skeleton_and_motion()
    folder = Path(tempfile.mkdtemp(prefix="fuzz_exporters_"))
    try:
        write_bvh(folder / "a.bvh", skeleton, motion)
        write_fbx(folder / "a.fbx", skeleton, motion)
        points = np.random.default_rng(6).uniform(-1, 1, (3, 4, 3))
        points[1, 2] = np.nan
        write_trc(folder / "a.trc", ["m0", "m1", "m2", "m3"], points, 30.0)
        write_c3d(folder / "a.c3d", points, ["m0", "m1", "m2", "m3"], 30.0)
        write_amass(folder / "a.npz", motion_to_amass(skeleton, motion))
        return {p.suffix[1:]: p.read_bytes() for p in folder.iterdir()}
    finally:
        shutil.rmtree(folder)
