"""``mocap triangulate``: 2D detections -> 3D keypoints, alone."""
from __future__ import annotations

from pathlib import Path


def run(args) -> int:
    from ..session import Session
    from ..triangulate import triangulate
    session = Session(Path(args.session))
    settings = session.settings()
    rig = session.rig()
    points = triangulate(session.detections(rig, settings), rig, settings.triangulate)
    session.out.mkdir(parents=True, exist_ok=True)
    path = points.save(session.out / "points3d_raw.npz")
    print(f"wrote {path}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("triangulate", help="triangulate the 2D detections only",
                       description="Triangulate SESSION's 2D detections and write "
                                   "SESSION/out/points3d_raw.npz.")
    p.add_argument("session", help="session folder")
    p.set_defaults(func=run)
