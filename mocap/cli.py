"""Command line: ``mocap <command> [options]``.

A user's mistake prints one line (``error: ...``) and exits with status 2; no traceback.
"""
from __future__ import annotations

import argparse
import logging
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from calibration import CalibrationError
from exporters import ExportError

from .errors import MocapError

log = logging.getLogger("mocap")

USER_ERRORS = (MocapError, CalibrationError, ExportError)


def _add_simulate_args(p: argparse.ArgumentParser, default_frames: int) -> None:
    from .keypoints import format_names
    from .simulate.motions import motion_names
    from .simulate.rigs import rig_template_names
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


def _simulate(args, folder: Path) -> Path:
    from .simulate import Actor, ErrorModel, load_rig_template, simulate_take, write_session
    rig = load_rig_template(args.rig)
    offsets = [int(s) for s in args.offsets.split(",") if s.strip()] or None
    model = ErrorModel.perfect() if args.clean else ErrorModel()
    actor = Actor(motion=args.motion, height_m=args.height, seed=args.seed)
    log.info("simulating %d frames of %r seen by %d cameras of rig %r", args.frames,
             args.motion, len(rig), args.rig)
    take = simulate_take(rig, [actor], args.frames, args.fps, args.format, model,
                         seed=args.seed, camera_offsets=offsets, heatmaps=not args.no_heatmaps)
    return write_session(folder, rig, take, info={"rig": args.rig, "motion": args.motion,
                                                  "seed": args.seed})


def cmd_simulate(args) -> int:
    folder = _simulate(args, Path(args.session))
    print(f"session written to {folder}")
    return 0


def cmd_run(args) -> int:
    from .pipeline import run
    manifest = run(args.session)
    print(f"outputs in {manifest['out']} (see manifest.json)")
    return 0


def cmd_triangulate(args) -> int:
    from .session import Session
    from .triangulate import triangulate
    session = Session(Path(args.session))
    settings = session.settings()
    rig = session.rig()
    points = triangulate(session.detections(rig, settings), rig, settings.triangulate)
    session.out.mkdir(parents=True, exist_ok=True)
    path = points.save(session.out / "points3d_raw.npz")
    print(f"wrote {path}")
    return 0


def _report(session: Path, out: Path) -> str:
    from .evaluate import coverage, mpjpe_mm
    from .types import Points3D, load_npz
    gt = load_npz(session / "gt.npz", ("xyz",), "ground truth")["xyz"]
    rows = []
    for label, name in (("triangulated (raw)", "points3d_raw.npz"),
                        ("filtered", "points3d.npz")):
        p = Points3D.load(out / name)
        rows.append(f"  {label:<20} {mpjpe_mm(p.xyz, gt):8.1f} mm   "
                    f"{100 * coverage(p.xyz, gt):5.1f} % of joints")
    return "\n".join(["error against ground truth (MPJPE):"] + rows)


def cmd_demo(args) -> int:
    from .pipeline import run
    out = Path(args.out)
    session = out / "session"
    if session.exists():
        shutil.rmtree(session)
    t0 = time.perf_counter()
    _simulate(args, session)
    manifest = run(session)
    dt = time.perf_counter() - t0
    print(f"virtual studio: rig {args.rig}, motion {args.motion}, {args.frames} frames at "
          f"{args.fps:g} fps, format {args.format}  ({dt:.1f} s)")
    print(_report(session, Path(manifest["out"])))
    print(f"session: {session}")
    print(f"outputs: {manifest['out']}")
    for person in manifest["people"]:
        for f in person["files"]:
            print(f"  person {person['id']}: {Path(manifest['out']) / f}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mocap",
        description="Multi-camera markerless motion capture: calibrated cameras + 2D keypoint "
                    "detections -> 3D keypoints -> skeleton animation (BVH).",
        epilog="Start with `mocap demo`: it simulates a capture in the virtual studio, runs the "
               "whole pipeline and prints the error against the ground truth.")
    parser.add_argument("-v", "--verbose", action="store_true", help="more log output")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("demo", help="simulate a capture and run the pipeline on it",
                       description="Simulate a take in the virtual studio (no download, no "
                                   "files needed), run the pipeline and print the error "
                                   "against the ground truth in millimetres.")
    p.add_argument("--out", default="out/demo", help="output folder (default: out/demo)")
    _add_simulate_args(p, default_frames=150)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("simulate", help="write a simulated session folder",
                       description="Write a session folder (calibration.toml, OpenPose JSON "
                                   "per camera, heatmaps, session.toml and gt.npz with the "
                                   "ground truth) from the virtual studio.")
    p.add_argument("session", help="folder to write")
    _add_simulate_args(p, default_frames=150)
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("run", help="run the whole pipeline on a session folder",
                       description="Read SESSION (calibration.toml, pose/<cam>/*.json, "
                                   "session.toml), triangulate, filter, build a skeleton and "
                                   "write SESSION/out/ (points3d.npz, BVH, manifest.json).")
    p.add_argument("session", help="session folder")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("triangulate", help="triangulate the 2D detections only",
                       description="Triangulate SESSION's 2D detections and write "
                                   "SESSION/out/points3d_raw.npz.")
    p.add_argument("session", help="session folder")
    p.set_defaults(func=cmd_triangulate)
    return parser


def main(argv: "list[str] | None" = None) -> int:
    args = build_parser().parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    np.seterr(all="ignore")
    try:
        return args.func(args)
    except USER_ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
