"""``mocap export``: the 3D keypoints of a session -> BVH, FBX, TRC, C3D, AMASS-style .npz."""
from __future__ import annotations

from pathlib import Path

HELP = "write BVH, FBX, TRC, C3D and AMASS-style .npz files of each person"


def run(args) -> int:
    from ..steps import export_session
    changes = {}
    if args.format is not None:
        changes["formats"] = tuple(f.strip().lower() for f in args.format.split(",") if f.strip())
    for key in ("up_axis", "units", "naming", "mesh", "rest_pose", "in_place", "foot_lock", "root_motion"):
        if getattr(args, key) is not None:
            changes[key] = getattr(args, key)
    manifest = export_session(args.session, changes)
    out = Path(manifest["out"])
    for person in manifest["people"]:
        for name in person.get("files", []):
            print(f"  person {person['id']}: {out / name}")
    print(f"listed in {out / 'manifest.json'}")
    return 0


def register(sub) -> None:
    from exporters.naming import preset_names   # the exporters: only for this command's parser
    p = sub.add_parser(
        "export", help=HELP,
        description="Read SESSION/out/points3d.npz (written by `mocap run`), build each person's "
                    "skeleton and write the files named by --format (default: [export] formats "
                    "of session.toml) to SESSION/out/, listing them in out/manifest.json. BVH and "
                    "FBX are in metres, Y up: Blender's default import puts them back at the "
                    "capture's coordinates, Z up, in metres. TRC is OpenSim's (metres, Y up), C3D "
                    "is Z up in millimetres. A person's fitted body (out/person<N>/body.npz) "
                    "is used only when it was fitted to the current out/points3d.npz; a body "
                    "fitted to older keypoints stops the export with a one-line error (run "
                    "`mocap fit` again, or delete the body file to export from the keypoints).")
    p.add_argument("session", help="session folder")
    p.add_argument("--format", default=None,
                   help="comma-separated formats among bvh,fbx,trc,c3d,npz (default: session.toml)")
    p.add_argument("--up", dest="up_axis", choices=("y", "z"), default=None,
                   help="up axis of BVH and FBX files (default y)")
    p.add_argument("--units", choices=("m", "cm", "mm"), default=None,
                   help="units of BVH and FBX files (default m)")
    p.add_argument("--naming", choices=preset_names(), default=None,
                   help="bone names (default canonical; mixamo, unreal, metahuman, blender, smpl)")
    p.add_argument("--mesh", choices=("body", "boxes", "none"), default=None,
                   help="mesh in the FBX: body (a fitted body's, default), boxes (a skinned box per "
                        "bone) or none")
    p.add_argument("--rest-pose", dest="rest_pose", choices=("auto", "neutral", "t", "a"), default=None,
                   help="rest pose of BVH and FBX skeletons (default auto: the naming preset's; "
                        "T for mixamo, blender, smpl; A for unreal, metahuman)")
    p.add_argument("--in-place", dest="in_place", action="store_true", default=None,
                   help="BVH and FBX: the hips stay over the origin")
    p.add_argument("--root-motion", dest="root_motion", choices=("hips", "root"), default=None,
                   help="BVH and FBX: motion over the floor on the hips (default) or on a root bone at the floor")
    p.add_argument("--no-foot-lock", dest="foot_lock", action="store_false", default=None,
                   help="BVH and FBX: the measured feet, not pinned during foot contacts")
    p.set_defaults(func=run)
