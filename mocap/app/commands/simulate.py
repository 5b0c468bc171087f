"""``mocap simulate``: write a session folder from the virtual studio."""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger("mocap")


def add_simulate_args(p: argparse.ArgumentParser, default_frames: int) -> None:
    """Options shared by ``simulate`` and ``demo``."""
    from ...keypoints import format_names
    from ...simulate.motions import motion_names
    from ...simulate.rigs import rig_template_names
    p.add_argument("--rig", default="studio4",
                   help=f"rig template name ({', '.join(rig_template_names())}) or a template "
                        f"file (default: studio4)")
    p.add_argument("--motion", default="walk", choices=motion_names(),
                   help="ground-truth motion (default: walk)")
    p.add_argument("--frames", type=int, default=default_frames,
                   help=f"number of frames (default: {default_frames})")
    p.add_argument("--fps", type=float, default=30.0, help="frame rate (default: 30)")
    p.add_argument("--format", default="body25", choices=format_names(),
                   help="keypoint format the simulated detector reports (default: body25)")
    p.add_argument("--height", type=float, default=1.75, help="actor height, metres")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--offsets", default="",
                   help="per-camera frame offsets, comma separated (cameras running late)")
    p.add_argument("--no-heatmaps", action="store_true", help="do not render heatmaps")
    p.add_argument("--clean", action="store_true",
                   help="a perfect detector: no noise, outliers, swaps or missing frames")


def simulate_session(args, folder: Path) -> Path:
    """Simulate the take the arguments describe and write it as a session folder."""
    from ...errors import SimulationError
    from ...simulate import Actor, ErrorModel, load_rig_template, simulate_take, write_session
    rig = load_rig_template(args.rig)
    try:
        offsets = [int(s) for s in args.offsets.split(",") if s.strip()] or None
    except ValueError:
        raise SimulationError(f"--offsets: expected comma-separated integers, found "
                              f"{args.offsets!r}") from None
    model = ErrorModel.perfect() if args.clean else ErrorModel()
    actor = Actor(motion=args.motion, height_m=args.height, seed=args.seed)
    log.info("simulating %d frames of %r seen by %d cameras of rig %r", args.frames,
             args.motion, len(rig), args.rig)
    take = simulate_take(rig, [actor], args.frames, args.fps, args.format, model,
                         seed=args.seed, camera_offsets=offsets, heatmaps=not args.no_heatmaps)
    return write_session(folder, rig, take, info={"rig": str(args.rig), "motion": args.motion,
                                                  "seed": args.seed})


def run(args) -> int:
    folder = simulate_session(args, Path(args.session))
    print(f"session written to {folder}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("simulate", help="write a simulated session folder",
                       description="Write a session folder (calibration.toml, OpenPose JSON "
                                   "per camera, heatmaps, session.toml and gt.npz with the "
                                   "ground truth) from the virtual studio.")
    p.add_argument("session", help="folder to write")
    add_simulate_args(p, default_frames=150)
    p.set_defaults(func=run)
