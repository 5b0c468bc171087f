"""What the FBX writer and reader share: the scene they exchange and the file's conventions.

``FbxScene`` is what ``read_fbx`` gives back; ``AXIS_SETTINGS`` and ``TIME_MODES`` are the
``GlobalSettings`` values ``write_fbx`` writes and ``read_fbx`` interprets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from exporters.mesh import SkinnedMesh
from exporters.skeleton import Motion, Skeleton

__all__ = ["FbxScene", "AXIS_SETTINGS", "TIME_MODES", "CUSTOM_TIME_MODE", "matrix44"]

AXIS_SETTINGS = {
    "y": {"UpAxis": 1, "UpAxisSign": 1, "FrontAxis": 2, "FrontAxisSign": 1, "CoordAxis": 0, "CoordAxisSign": 1},
    "z": {"UpAxis": 2, "UpAxisSign": 1, "FrontAxis": 1, "FrontAxisSign": -1, "CoordAxis": 0, "CoordAxisSign": 1},
}
"""``GlobalSettings`` axis entries written for ``up="y"`` and ``up="z"``."""
TIME_MODES = (
    (120.0, 1), (100.0, 2), (60.0, 3), (50.0, 4), (48.0, 5), (30.0, 6), (30.0 / 1.001, 9), (25.0, 10),
    (24.0, 11), (24.0 / 1.001, 13), (96.0, 15), (72.0, 16), (60.0 / 1.001, 17), (120.0 / 1.001, 18),
)
"""(frames per second, FBX ``TimeMode`` enum) of the standard rates."""
CUSTOM_TIME_MODE = 14
"""``TimeMode`` meaning "custom": the rate is ``CustomFrameRate``."""


@dataclass(frozen=True, eq=False)
class FbxScene:
    """What ``read_fbx`` gives back.

    Attributes:
        skeleton: joints in file order (the writer's order), offsets in metres, Z up.
        motion: local rotations and root positions (metres, Z up), fps from the file.
        mesh: the skinned mesh in the rest pose, or None when the file has none.
    """

    skeleton: Skeleton
    motion: Motion
    mesh: SkinnedMesh | None = None


def matrix44(rotation: np.ndarray, translation: np.ndarray) -> np.ndarray:
    """(4, 4) homogeneous matrix acting on column vectors."""
    out = np.eye(4)
    out[:3, :3] = rotation
    out[:3, 3] = translation
    return out
