"""A studio walk whose feet do not slide (``walk_planted``), through triangulation and
filtering, shared by the foot contact and foot locking tests (built once per session)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
import tempfile

import numpy as np

from mocap.app.pipeline import run
from mocap.app.studio import write_session
from mocap.simulate import Actor, ErrorModel, load_rig_template, simulate_take
from mocap.types import Points3D


@lru_cache(maxsize=None)
def planted_walk(seed: int = 4, frames: int = 75) -> tuple[np.ndarray, np.ndarray, tuple, float]:
    """(pipeline keypoints (F, J, 3), true keypoints (F, J, 3), joint names, fps) of one
    person walking through the studio (body25, the simulated detector's noise)."""
    return studio_keypoints("walk_planted", seed, frames)


def studio_keypoints(motion: str, seed: int, frames: int, folder: Path | None = None
                     ) -> tuple[np.ndarray, np.ndarray, tuple, float]:
    """One person doing ``motion`` in the studio (4 cameras, body25, the simulated detector's
    noise), through ``mocap run`` without body fitting (in ``folder``, else a temporary one):
    (pipeline keypoints (F, J, 3), true keypoints (F, J, 3), joint names, fps)."""
    rig = load_rig_template("studio4")
    take = simulate_take(rig, [Actor(motion, seed=seed)], frames, 30.0, "body25", ErrorModel(),
                         seed=3, heatmaps=False)
    folder = folder or Path(tempfile.mkdtemp(prefix="anim_take"))
    root = write_session(folder / f"{motion}{seed}", rig, take)
    with open(root / "session.toml", "a") as fh:
        fh.write('\n[export]\nformats = ["trc"]\n[fit]\nenabled = false\n')
    run(root)
    points = Points3D.load(root / "out" / "points3d.npz")
    return points.xyz[:, 0], take.gt_xyz[:, 0], points.joint_names, float(points.fps)
