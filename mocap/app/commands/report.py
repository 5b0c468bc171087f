"""``mocap report``: the session's HTML report (plots, calibration, overlays)."""
from __future__ import annotations

HELP = "write the session's HTML report"


def run(args) -> int:
    from ..report import write_report
    path = write_report(args.session, args.out, overlay_frames=args.frames,
                        overlay_width_px=args.width)
    print(f"report written to {path}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("report", help=HELP,
                       description="Write SESSION/out/report.html: one self-contained page "
                                   "(no script, no external address) with the reprojection "
                                   "error per camera and joint, views per joint, bone-length "
                                   "stability, joint angles, trajectories, the calibration, "
                                   "and the result drawn back on every camera. Artifacts that "
                                   "are absent are named in the page.")
    p.add_argument("session", help="session folder")
    p.add_argument("--out", default=None, help="where to write (default: SESSION/out/report.html)")
    p.add_argument("--frames", type=int, default=4,
                   help="frames in the overlay contact sheet (default: 4)")
    p.add_argument("--width", type=int, default=320,
                   help="width of each overlay thumbnail in pixels (default: 320)")
    p.set_defaults(func=run)
