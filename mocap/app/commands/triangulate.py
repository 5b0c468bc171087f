"""``mocap triangulate``: 2D detections -> 3D keypoints (and a TRC per person), alone."""
from __future__ import annotations

import dataclasses
from pathlib import Path


def run(args) -> int:
    import numpy as np

    from exporters.trc import write_trc

    from ...keypoints import get_format
    from ..pipeline import filter_points
    from ..session import Session
    from ...detect import session_detections
    from ...track import identify_people
    from ...triangulate import triangulate
    session = Session(Path(args.session))
    settings = session.settings()
    tri = settings.triangulate
    if args.method:
        tri = dataclasses.replace(tri, method=args.method)
    rig = session.rig()
    det = session_detections(session, rig, settings)
    assoc = settings.associate
    if args.main_person:
        assoc = dataclasses.replace(assoc, mode="main_subject")
    det, _ = identify_people(det, rig, assoc)      # P axis = identity, as in `mocap run`
    raw = triangulate(det, rig, tri)
    points = raw if args.no_filter else filter_points(raw, settings.filter, rig)
    session.out.mkdir(parents=True, exist_ok=True)
    written = [raw.save(session.out / "points3d_raw.npz"),
               points.save(session.out / "points3d.npz")]
    names = get_format(points.format).native_names
    for p in range(points.xyz.shape[1]):
        if np.isfinite(points.xyz[:, p]).all(-1).any():
            written.append(write_trc(session.out / f"person{p}.trc", names, points.xyz[:, p],
                                     points.fps))
    done = np.isfinite(raw.xyz).all(-1)
    print(f"triangulated ({tri.method}) {int(done.sum())} of {done.size} joints, median "
          f"reprojection error {float(np.nanmedian(raw.reproj_err_px)):.2f} px")
    for path in written:
        print(f"wrote {path}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("triangulate", help="triangulate the 2D detections only",
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
