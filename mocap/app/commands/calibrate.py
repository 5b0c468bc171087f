"""``mocap calibrate SESSION``: board videos or images -> ``SESSION/calibration.toml``.

The calibration from boards is :mod:`mocap.app.calibrate_board`. After a capture, two options
adjust the session's calibration from its people instead (no board, see
:mod:`mocap.app.calibrate_people`): ``--refine-from-people`` refines every camera's pose by a
bundle adjustment on the 2D keypoints and prints the per-camera reprojection error before and
after; ``--level-from-person`` levels the floor from a person standing upright. Given both,
the refinement runs first. ``--from-people`` finds every camera's pose from a person walking
through the volume, with no board and no prior poses (the intrinsics from the session's
calibration file, else from each camera's own board images in ``calibration/<camera>/``, or
estimated with ``--estimate-intrinsics`` or when there are neither; metric scale from
``--height-m`` or ``[calibration] person_height_m``).
"""
from __future__ import annotations

import sys
import time

HELP = ("calibrate the cameras from board videos or images (or adjust a calibration from a "
        "capture's people)")


class Progress:
    """One status line per camera on stderr (rewritten in place on a terminal)."""

    def __init__(self, camera: str):
        self.camera = camera
        self.tty = sys.stderr.isatty()
        self.last = -1

    def __call__(self, done: int, total: int) -> None:
        pct = int(100 * done / total) if total else -1
        if self.tty:
            tail = f"{done}/{total}" if total else f"{done}"
            print(f"\r  detecting the board: {self.camera:<12} {tail} frames", end="",
                  file=sys.stderr, flush=True)
        elif pct >= 0 and pct // 25 > self.last // 25:
            self.last = pct
            print(f"  detecting the board: {self.camera:<12} {pct:3d} %", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.tty:
            print(file=sys.stderr, flush=True)


def refine_table(rig, result) -> str:
    """Per-camera reprojection error before and after the refinement from people."""
    from ...people_calibration import rms
    lines = [f"{'camera':<14}{'before px':>10}{'after px':>10}"]
    for name, b, a in zip(rig.names, result.error_before_px, result.error_after_px):
        lines.append(f"{name:<14}{b:10.3f}{a:10.3f}")
    lines.append(f"{'all (RMS)':<14}{rms(result.error_before_px):10.3f}"
                 f"{rms(result.error_after_px):10.3f}")
    return "\n".join(lines)


def run_after_capture(args) -> int:
    """``--refine-from-people`` and/or ``--level-from-person``: the session's calibration
    adjusted from its capture, written back with a backup of the previous file."""
    from ..calibrate_people import Adjustment
    adjust = Adjustment.open(args.session)
    if args.refine_from_people:
        print(f"refining {len(adjust.rig)} cameras from the people's 2D keypoints ...",
              file=sys.stderr)
        result = adjust.refine()
        print(f"refined from {result.points_used} keypoints (board scale kept: the adjustment's "
              f"scale {result.scale:.5f} undone)\n{refine_table(adjust.rig, result)}")
    if args.level_from_person:
        print("levelling the floor from a standing person ...", file=sys.stderr)
        print(adjust.level())
    saved = adjust.save()
    print(f"wrote {saved.target}" + (f" (previous calibration kept as {saved.backup})"
                                     if saved.backup else ""))
    print(f"report: {saved.report}")
    if saved.stale_results:
        print("note: results already in out/ used the previous calibration: run `mocap run` "
              "(or `mocap triangulate`) again")
    return 0


def from_people_table(cal) -> str:
    """Per-camera centre (metres) and reprojection error after the calibration from people."""
    sd = cal.refined.focal_sd_px if cal.focal_sweep is not None else None
    lines = [f"{'camera':<14}{'x m':>8}{'y m':>8}{'z m':>8}{'error px':>10}"
             + (f"{'focal px':>10}{'+- px':>7}{'k1':>8}" if sd is not None else "")]
    for i, (cam, e) in enumerate(zip(cal.rig, cal.refined.error_after_px)):
        x, y, z = cam.center
        lines.append(f"{cam.name:<14}{x:8.3f}{y:8.3f}{z:8.3f}{e:10.3f}"
                     + (f"{cam.K[0, 0]:10.1f}{sd[i]:7.1f}{cam.dist[0]:8.3f}" if sd is not None else ""))
    return "\n".join(lines)


def image_size(text: str) -> "tuple[int, int]":
    """``WIDTHxHEIGHT`` (pixels) -> (width, height)."""
    import argparse
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT in pixels, e.g. 1920x1080, "
                                         f"found {text!r}") from None
    if w <= 0 or h <= 0:
        raise argparse.ArgumentTypeError(f"expected positive WIDTHxHEIGHT, found {text!r}")
    return w, h


def run_from_people(args) -> int:
    """``--from-people``: the cameras found from a person walking through the volume."""
    from ..calibrate_people import calibrate_session_from_people
    print("calibrating the cameras from the people of the capture (no board) ...",
          file=sys.stderr)
    cal, saved, height = calibrate_session_from_people(args.session, args.height_m,
                                                       args.estimate_intrinsics, args.image_size)
    if cal.focal_sweep is not None:
        print("intrinsics estimated: focal length (+- one standard deviation) and k1 per "
              "camera, principal point at the image centre")
    print(f"cameras found from {cal.refined.points_used} keypoints; scale from a height of "
          f"{height:.3f} m (+- {100 * cal.scale_uncertainty:.1f} %); Z up from the feet, origin "
          f"under the person, X along {cal.rig[0].name}'s view"
          f"\n{from_people_table(cal)}")
    print(f"wrote {saved.target}" + (f" (previous calibration kept as {saved.backup})"
                                     if saved.backup else ""))
    print(f"report: {saved.report}")
    return 0


def run(args) -> int:
    if getattr(args, "from_people", False):
        return run_from_people(args)
    if args.refine_from_people or args.level_from_person:
        return run_after_capture(args)
    from ..calibrate_board import board_inputs, calibrate_session, detect_camera, detection_step
    t0 = time.perf_counter()
    inputs = board_inputs(args.session)
    print(f"calibrating {len(inputs.names)} cameras {inputs.names} with a "
          f"{inputs.spec.describe()}", file=sys.stderr)
    step = detection_step(inputs)
    views = []
    for name in inputs.names:
        progress = Progress(name)
        try:
            v = detect_camera(inputs, name, step, progress)
        finally:
            progress.close()
        print(f"  {name}: board in {len(v)} of {v.frames_read} frames"
              + (f" ({len(v.rejected_blurry)} blurred views dropped)" if v.rejected_blurry else ""),
              file=sys.stderr)
        views.append(v)
    print("  bundle adjustment ...", file=sys.stderr)
    report, target = calibrate_session(inputs, views, t0)
    print(report["text"], end="")
    print(f"wrote {target}")
    print(f"report: {inputs.session.out / 'calibration'}")
    return 0


def register(sub) -> None:
    p = sub.add_parser(
        "calibrate", help=HELP,
        description="Find the board (session.toml [calibration.board]) in "
                    "SESSION/calibration/<cam>.<video> or SESSION/calibration/<cam>/ images, "
                    "estimate every camera's intrinsics and pose (bundle adjusted, metres, Z up "
                    "when the board was seen on the floor), write SESSION/calibration.toml and a "
                    "report in SESSION/out/calibration/. After a capture, --refine-from-people "
                    "and --level-from-person adjust the existing SESSION/calibration.toml from "
                    "the people instead (no board needed); the previous file is kept as "
                    "SESSION/calibration.backup<N>.toml.")
    p.add_argument("session", help="session folder")
    p.add_argument("--refine-from-people", action="store_true",
                   help="refine the cameras' poses by bundle adjustment on the capture's 2D "
                        "keypoints (pose/ or videos/, as `mocap triangulate` reads them), "
                        "keeping the board's scale and world frame; prints the per-camera "
                        "reprojection error before and after")
    p.add_argument("--level-from-person", action="store_true",
                   help="level the floor from a person standing upright in the capture (Z up, "
                        "origin on the floor under the person, metres kept), from "
                        "out/points3d.npz or the 2D detections; best when the person turns "
                        "around on the spot (a standing body leans a degree or two forward)")
    p.add_argument("--from-people", action="store_true",
                   help="find every camera's pose with no board from a person walking through "
                        "the whole volume for 20-30 s (the intrinsics from SESSION's calibration "
                        "file, its poses ignored, else from each camera's board images in "
                        "SESSION/calibration/<camera>/): metric scale from the person's height, Z up "
                        "from the feet, origin under the person, X along the first camera's view")
    p.add_argument("--height-m", type=float, default=None, metavar="METRES",
                   help="with --from-people: the walking person's standing height (default: "
                        "[calibration] person_height_m in session.toml)")
    p.add_argument("--estimate-intrinsics", action="store_true",
                   help="with --from-people: the lenses are unknown: estimate each camera's "
                        "focal length (and k1, principal point at the image centre) from the "
                        "person too; implied when SESSION has no calibration file nor board "
                        "images")
    p.add_argument("--image-size", type=image_size, default=None, metavar="WIDTHxHEIGHT",
                   help="with --from-people and no calibration file: every camera's image size "
                        "in pixels (default: each camera's video in SESSION/videos/)")
    p.set_defaults(func=run)
