"""``mocap triangulate``: 2D detections -> 3D keypoints (and a TRC per person), alone."""
from __future__ import annotations

HELP = "triangulate the 2D detections only"


def run(args) -> int:
    import numpy as np

    from ..triangulation import triangulate_session
    done = triangulate_session(args.session, args.method, args.main_person,
                               filtered=not args.no_filter)
    ok = np.isfinite(done.raw.xyz).all(-1)
    print(f"triangulated ({done.method}) {int(ok.sum())} of {ok.size} joints, median "
          f"reprojection error {float(np.nanmedian(done.raw.reproj_err_px)):.2f} px")
    for path in done.written:
        print(f"wrote {path}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("triangulate", help=HELP,
                       description="Associate and triangulate SESSION's 2D detections "
                                   "([associate] and [triangulate] settings). Writes "
                                   "SESSION/out/points3d_raw.npz (the triangulation, with "
                                   "views used and reprojection errors), points3d.npz (after "
                                   "the [filter] settings, as `mocap run` does) and "
                                   "person<p>.trc (OpenSim markers, metres, Y up).")
    p.add_argument("session", help="session folder")
    p.add_argument("--method", choices=("algebraic", "volumetric"), default=None,
                   help="triangulation method (default: [triangulate] method of session.toml, "
                        "else algebraic); volumetric needs heatmaps/<cam>.npz")
    p.add_argument("--main-person", action="store_true",
                   help="triangulate only the main subject (the person seen by most cameras "
                        "near the middle of the volume), as [associate] mode = "
                        "\"main_subject\" does")
    p.add_argument("--no-filter", action="store_true",
                   help="write the raw triangulation as points3d.npz and the TRC, unfiltered")
    p.set_defaults(func=run)
