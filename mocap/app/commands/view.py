"""``mocap view``: a session in the rerun viewer, or saved as an ``.rrd`` recording."""
from __future__ import annotations

HELP = "show a session in the rerun viewer (or save an .rrd)"


def run(args) -> int:
    from ..viewer import view_session
    summary = view_session(args.session, save=args.save, connect=args.connect,
                           images=not args.no_images, image_step=args.image_step,
                           image_quality=args.image_quality)
    what = (f"{summary['cameras']} cameras, {summary['frames']} frames, "
            f"{summary['points2d']} 2D and {summary['points3d']} 3D keypoints, "
            f"{summary['meshes']} meshes, {summary['images']} video frames")
    if args.save:
        print(f"wrote {args.save} ({what})")
    else:
        print(f"logged {what}")
    for note in summary["notes"]:
        print(f"  absent: {note}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("view", help=HELP,
                       description="Log SESSION's cameras (pinhole with pose), video frames, "
                                   "2D detections, 3D keypoints and bones, and body meshes to "
                                   "rerun (optional dependency: pip install "
                                   "'mocap-studio[rerun]'). By default a viewer is started; "
                                   "--save writes a recording file instead, which "
                                   "`rerun FILE.rrd` opens later.")
    p.add_argument("session", help="session folder")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--save", metavar="FILE", default=None,
                       help="write a .rrd recording instead of starting a viewer")
    where.add_argument("--connect", metavar="URL", default=None,
                       help="send to a running viewer (e.g. rerun+http://127.0.0.1:9876/proxy)")
    p.add_argument("--no-images", action="store_true", help="do not log video frames")
    p.add_argument("--image-step", type=int, default=1,
                   help="log every N-th video frame (default: 1)")
    p.add_argument("--image-quality", type=int, default=80,
                   help="JPEG quality of logged video frames, 1-100 (default: 80)")
    p.set_defaults(func=run)
