"""``mocap sync``: frame offsets between a session's cameras, from keypoint motion."""
from __future__ import annotations

HELP = "estimate frame offsets between cameras"


def run(args) -> int:
    from ..steps import sync_session
    result, path = sync_session(args.session, args.max_offset)
    print(result.table())
    print(f"frame f of camera c shows the take's frame f + offset; wrote {path}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("sync", help=HELP,
                       description="Estimate every camera's frame offset from the motion of "
                                   "its 2D keypoints (pooled cross-correlation of vertical "
                                   "joint speeds over camera pairs), print them with their "
                                   "evidence and write SESSION/out/sync.json. `mocap run` "
                                   "applies the trusted ones ([sync] in session.toml).")
    p.add_argument("session", help="session folder")
    p.add_argument("--max-offset", type=int, default=None,
                   help="largest offset searched, frames (default: [sync] max_offset_frames)")
    p.set_defaults(func=run)
