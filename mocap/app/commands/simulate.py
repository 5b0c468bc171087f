"""``mocap simulate``: write a session folder from the virtual studio."""
from __future__ import annotations

import argparse
from pathlib import Path

HELP = "write a simulated session folder"


def add_simulate_args(p: argparse.ArgumentParser, default_frames: int) -> None:
    """Options shared by ``simulate`` and ``demo``."""
    # the simulator (and its body model, torch): only for these two commands' parsers
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


def studio_take(args):
    """The :class:`mocap.app.studio.StudioTake` the arguments describe.

    Raises:
        SimulationError: ``--offsets`` that are not comma-separated integers.
    """
    from ...errors import SimulationError
    from ..studio import StudioTake
    try:
        offsets = tuple(int(s) for s in args.offsets.split(",") if s.strip()) or None
    except ValueError:
        raise SimulationError(f"--offsets: expected comma-separated integers, found "
                              f"{args.offsets!r}") from None
    return StudioTake(rig=args.rig, motion=args.motion, frames=args.frames, fps=args.fps,
                      format=args.format, height_m=args.height, seed=args.seed, offsets=offsets,
                      heatmaps=not args.no_heatmaps, clean=args.clean)


def render_spec(args):
    """The :class:`mocap.app.render_session.RenderSpec` of ``--render``'s arguments."""
    from ..render_session import RenderSpec
    return RenderSpec(rig=args.rig, motion=args.motion, frames=args.frames, fps=args.fps,
                      format=args.format, seed=args.seed, actors=args.actors,
                      width_px=args.width, engine=args.engine, samples=args.samples)


def run(args) -> int:
    if getattr(args, "studio_day", 0) and not getattr(args, "render", False):
        from ...errors import SimulationError
        raise SimulationError("--studio-day: expected --render with it, found it alone")
    if getattr(args, "render", False):
        from ..render_session import render_session, render_studio_day
        if args.studio_day:
            folder = render_studio_day(render_spec(args), Path(args.session), args.studio_day)
            print(f"studio day written to {folder}; calibrate it: mocap calibrate {folder}")
            return 0
        folder = render_session(render_spec(args), Path(args.session))
        print(f"rendered session written to {folder}")
        return 0
    from ..studio import simulate_session
    folder = simulate_session(studio_take(args), Path(args.session))
    print(f"session written to {folder}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("simulate", help=HELP,
                       description="Write a session folder (calibration.toml, OpenPose JSON "
                                   "per camera, heatmaps, session.toml and gt.npz with the "
                                   "ground truth) from the virtual studio.")
    p.add_argument("session", help="folder to write")
    add_simulate_args(p, default_frames=150)
    r = p.add_argument_group("rendered video (Blender, in .venv-blender: make setup-blender)")
    r.add_argument("--render", action="store_true",
                   help="render videos/<cam>.mp4 of body-model actors instead of writing 2D "
                        "detections (the actors' shapes come from --seed, not --height)")
    r.add_argument("--engine", default="workbench", choices=("workbench", "cycles"),
                   help="Blender renderer (default: workbench, fast; cycles: path traced)")
    r.add_argument("--samples", type=int, default=16, help="Cycles samples (default: 16)")
    r.add_argument("--width", type=int, default=480,
                   help="image width in pixels, height in proportion (default: 480)")
    r.add_argument("--actors", type=int, default=1,
                   help="actors (2: walking across each other's path; up to 5, a crowd; "
                        "default: 1)")
    r.add_argument("--studio-day", type=int, default=0, metavar="FRAMES",
                   help="with --render: also render a ChArUco board carried through the "
                        "scene (FRAMES views per camera) into calibration/, for `mocap "
                        "calibrate`; the true rig goes to calibration_truth.toml")
    p.set_defaults(func=run)
