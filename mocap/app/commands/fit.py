"""``mocap fit``: a body model fitted to each person's 3D keypoints, alone."""
from __future__ import annotations

import dataclasses
from pathlib import Path


def _points(session, settings):
    """The filtered 3D keypoints: ``out/points3d.npz``, else ``out/points3d_raw.npz`` filtered
    now with the session's ``[filter]`` settings."""
    from ...errors import SessionError
    from ..pipeline import filter_points
    from ...types import Points3D
    path = session.out / "points3d.npz"
    if path.is_file():
        return Points3D.load(path)
    raw = session.out / "points3d_raw.npz"
    if raw.is_file():
        return filter_points(Points3D.load(raw), settings.filter, session.rig())
    raise SessionError(f"{path}: not found; expected the 3D keypoints (run `mocap run` or "
                       f"`mocap triangulate` first)")


def _detections(session, settings, points):
    """(detections, rig) for the reprojection term, slot p of every view the skeleton person
    p's 3D keypoints project onto; (None, None), with a warning, when there are none."""
    import logging

    from ...errors import MocapError
    from ..pipeline import detections_for_fit
    try:
        rig = session.rig()
        return detections_for_fit(session, rig, settings, points), rig
    except MocapError as e:
        logging.getLogger(__name__).warning("fitting without the 2D reprojection term: %s", e)
        return None, None


def _update_manifest(session, entries: list) -> None:
    """Add the fitted bodies to ``out/manifest.json`` (people matched by id)."""
    import json
    path = session.out / "manifest.json"
    doc = json.loads(path.read_text()) if path.is_file() else {}
    people = {p.get("id"): dict(p) for p in doc.get("people", [])}
    for e in entries:
        old = people.get(e["id"], {"id": e["id"], "files": []})
        files = [f for f in old.get("files", []) if f != e["body"]] + [e["body"]]
        people[e["id"]] = {**old, **e, "files": files}
    ordered = [people[k] for k in sorted(people, key=lambda k: (k is None, k))]
    session.write_manifest(doc.get("artifacts", {"points3d": "points3d.npz"}), ordered)


def run(args) -> int:
    from ...fit import check_fit_settings, fit_people
    from ..session import Session
    session = Session(Path(args.session))
    settings = session.settings()
    changes = {k: v for k, v in (("body", args.body), ("model_path", args.model_path),
                                 ("gender", args.gender), ("meshes", args.meshes),
                                 ("mesh_every", args.mesh_every),
                                 ("iteration_scale", args.iteration_scale),
                                 ("reprojection_weight", args.reprojection),
                                 ("device", args.device)) if v is not None}
    if args.model_path is not None and args.body is None:
        changes["body"] = "smpl"
    fit = dataclasses.replace(settings.fit, **changes)
    check_fit_settings(fit)
    points = _points(session, settings)
    det = rig = None
    if fit.reprojection_weight > 0:
        det, rig = _detections(session, settings, points)
    entries, _ = fit_people(points, fit, session.out, session.root, det, rig)
    _update_manifest(session, entries)
    for e in entries:
        last = e["stages"][-1]["losses"]
        print(f"person {e['id']}: {session.out / e['body']}  height {e['height_m']:.3f} m, "
              f"{e['meshes']} meshes; final losses "
              + ", ".join(f"{k} {v:.3g}" for k, v in last.items()))
    if not entries:
        print("no person was seen; nothing fitted")
    return 0


def register(sub) -> None:
    p = sub.add_parser("fit", help="fit a body model (Anny, SMPL) to the 3D keypoints",
                       description="Fit a body model to each person's filtered 3D keypoints "
                                   "(SESSION/out/points3d.npz) and write "
                                   "SESSION/out/person<p>/body.npz (AMASS layout). Anny needs "
                                   "no files; SMPL, SMPL-H and SMPL-X need --model-path.")
    p.add_argument("session", help="session folder")
    p.add_argument("--body", choices=("anny", "smpl", "smplh", "smplx"), default=None,
                   help="body model (default: [fit] body, anny; smpl when --model-path is "
                        "given)")
    p.add_argument("--model-path", default=None,
                   help="folder (or file) with the SMPL-family model files "
                        "(<dir>/smpl/SMPL_NEUTRAL.pkl...), from https://smpl.is.tue.mpg.de")
    p.add_argument("--gender", choices=("neutral", "male", "female"), default=None,
                   help="SMPL-family model gender (default: neutral)")
    p.add_argument("--meshes", choices=("ply", "obj"), default=None,
                   help="also write one mesh per frame to out/person<p>/meshes/")
    p.add_argument("--mesh-every", type=int, default=None,
                   help="write the mesh of every n-th frame (default: 1)")
    p.add_argument("--iteration-scale", type=float, default=None,
                   help="multiply every stage's iteration budget (default: 1)")
    p.add_argument("--reprojection", type=float, default=None,
                   help="weight of the 2D reprojection term against the detections (default: "
                        "0, off)")
    p.add_argument("--device", default=None, help="auto (default), cpu or cuda")
    p.set_defaults(func=run)
