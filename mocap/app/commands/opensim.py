"""``mocap opensim``: OpenSim scaling and inverse kinematics of each person."""
from __future__ import annotations

HELP = "scale an OpenSim model to each person and solve inverse kinematics (joint angles)"


def run(args) -> int:
    from ..opensim import opensim_session
    changes = {k: getattr(args, k) for k in ("mass_kg", "workers", "markers")
               if getattr(args, k) is not None}
    entries, out = opensim_session(args.session, changes)
    for e in entries:
        info = e["opensim"]
        print(f"  person {e['id']}: {out / info['motion']} ({info['solved_frames']} frames, "
              f"markers from the {info.get('marker_source', 'keypoints')}, median marker RMS "
              f"{1000 * info['median_marker_rms_m']:.1f} mm), model {out / info['model']}")
    print(f"listed in {out / 'manifest.json'}")
    return 0


def register(sub) -> None:
    p = sub.add_parser(
        "opensim", help=HELP,
        description="Read SESSION/out/points3d.npz (the filtered 3D keypoints of `mocap run`) "
                    "and each person's fitted body (out/person<N>/body.npz); with [opensim] "
                    "markers = \"body\" (the default) place virtual markers on the body and "
                    "scale Pose2Sim's model to it, with \"keypoints\" make the markers from "
                    "the keypoints with Pose2Sim's marker set and scale the model from the "
                    "frames where the person stands upright (OpenSim's ScaleTool); then solve "
                    "inverse kinematics over every frame the person is seen in "
                    "(InverseKinematicsTool), one process per person. Writes out/person<N>/scaled.osim, ik.mot (coordinates in degrees), "
                    "markers.trc and ik_marker_errors.csv, listed in out/manifest.json. Needs "
                    "the opensim package (pip install opensim==4.6).")
    p.add_argument("session", help="session folder")
    p.add_argument("--mass", dest="mass_kg", type=float, default=None,
                   help="body mass of the scaled models, kg (default [opensim] mass_kg)")
    p.add_argument("--workers", type=int, default=None,
                   help="processes solving people in parallel (default: one per person)")
    p.add_argument("--markers", choices=("body", "keypoints"), default=None,
                   help="virtual markers on the fitted body (out/person<N>/body.npz) or the "
                        "keypoints as Pose2Sim's markers (default [opensim] markers)")
    p.set_defaults(func=run)
