"""``mocap fit``: a body model fitted to each person's 3D keypoints, alone."""
from __future__ import annotations

HELP = "fit a body model (Anny, SMPL) to the 3D keypoints"


def run(args) -> int:
    from ..steps import fit_session
    changes = {k: v for k, v in (("body", args.body), ("model_path", args.model_path),
                                 ("gender", args.gender), ("meshes", args.meshes),
                                 ("mesh_every", args.mesh_every),
                                 ("iteration_scale", args.iteration_scale),
                                 ("reprojection_weight", args.reprojection),
                                 ("device", args.device)) if v is not None}
    if args.model_path is not None and args.body is None:
        changes["body"] = "smpl"
    entries, out = fit_session(args.session, changes)
    for e in entries:
        last = e["stages"][-1]["losses"]
        print(f"person {e['id']}: {out / e['body']}  height {e['height_m']:.3f} m, "
              f"{e['meshes']} meshes; final losses "
              + ", ".join(f"{k} {v:.3g}" for k, v in last.items()))
    if not entries:
        print("no person was seen; nothing fitted")
    return 0


def register(sub) -> None:
    p = sub.add_parser("fit", help=HELP,
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
