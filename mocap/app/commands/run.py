"""``mocap run``: the whole pipeline on a session folder."""
from __future__ import annotations

HELP = "run the whole pipeline on a session folder"


def run(args) -> int:
    from ..pipeline import run as run_pipeline
    manifest = run_pipeline(args.session, force=args.force)
    print(f"outputs in {manifest['out']} (see manifest.json)")
    return 0


def register(sub) -> None:
    p = sub.add_parser("run", help=HELP,
                       description="Read SESSION (calibration.toml, pose/<cam>/*.json, "
                                   "session.toml), triangulate, filter, build a skeleton and "
                                   "write SESSION/out/ (points3d.npz, BVH, manifest.json).")
    p.add_argument("session", help="session folder")
    p.add_argument("--force", action="store_true",
                   help="redo every stage (by default stages whose inputs and settings are "
                        "unchanged since the last run are skipped)")
    p.set_defaults(func=run)
