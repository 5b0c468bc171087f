"""``mocap demo``: simulate a capture in the virtual studio and run the pipeline on it."""
from __future__ import annotations

import shutil
import time
from pathlib import Path

from .simulate import add_simulate_args, studio_take

HELP = "simulate a capture and run the pipeline on it"


def accuracy_report(session: Path, out: Path) -> str:
    """Lines comparing the pipeline's 3D keypoints with the session's ground truth."""
    from ..studio import accuracy
    rows = [f"  {label:<20} {mpjpe:8.1f} mm   {100 * seen:5.1f} % of joints"
            for label, mpjpe, seen in accuracy(session, out)]
    return "\n".join(["error against ground truth (MPJPE):"] + rows)


def run(args) -> int:
    from ..pipeline import run as run_pipeline
    from ..studio import simulate_session
    out = Path(args.out)
    session = out / "session"
    take = studio_take(args)
    if session.exists():
        shutil.rmtree(session)
    t0 = time.perf_counter()
    simulate_session(take, session)
    manifest = run_pipeline(session)
    dt = time.perf_counter() - t0
    print(f"virtual studio: rig {args.rig}, motion {args.motion}, {args.frames} frames at "
          f"{args.fps:g} fps, format {args.format}  ({dt:.1f} s)")
    print(accuracy_report(session, Path(manifest["out"])))
    print(f"session: {session}")
    print(f"outputs: {manifest['out']}")
    for person in manifest["people"]:
        for f in person["files"]:
            print(f"  person {person['id']}: {Path(manifest['out']) / f}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("demo", help=HELP,
                       description="Simulate a take in the virtual studio (no download, no "
                                   "files needed), run the pipeline and print the error "
                                   "against the ground truth in millimetres.")
    p.add_argument("--out", default="out/demo", help="output folder (default: out/demo)")
    add_simulate_args(p, default_frames=150)
    p.set_defaults(func=run)
