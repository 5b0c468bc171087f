"""``mocap sync``: frame offsets between a session's cameras, from keypoint motion."""
from __future__ import annotations

from pathlib import Path


def run(args) -> int:
    import dataclasses

    from ...detect import session_detections
    from ..session import Session
    from ...sync import synchronise
    session = Session(Path(args.session))
    settings = session.settings()
    if args.max_offset is not None:
        settings = settings.replace(sync=dataclasses.replace(
            settings.sync, max_offset_frames=args.max_offset))
    settings = settings.replace(sync=dataclasses.replace(settings.sync, enabled=True))
    rig = session.rig()
    det = session_detections(session, rig, settings)
    _, result = synchronise(det, settings.sync, report=session.out / "sync.json")
    print(result.table())
    print(f"frame f of camera c shows the take's frame f + offset; wrote "
          f"{session.out / 'sync.json'}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("sync", help="estimate frame offsets between cameras",
                       description="Estimate every camera's frame offset from the motion of "
                                   "its 2D keypoints (pooled cross-correlation of vertical "
                                   "joint speeds over camera pairs), print them with their "
                                   "evidence and write SESSION/out/sync.json. `mocap run` "
                                   "applies the trusted ones ([sync] in session.toml).")
    p.add_argument("session", help="session folder")
    p.add_argument("--max-offset", type=int, default=None,
                   help="largest offset searched, frames (default: [sync] max_offset_frames)")
    p.set_defaults(func=run)
