"""``mocap detect``: 2D keypoints (and heatmaps) from a session's videos."""
from __future__ import annotations

HELP = "detect 2D keypoints and heatmaps in a session's videos"


def run(args) -> int:
    from ..steps import detect_videos
    changes = {k: v for k, v in (("backend", args.backend), ("model", args.model),
                                 ("model_format", args.model_format),
                                 ("max_people", args.max_people)) if v is not None}
    if args.no_heatmaps:
        changes["heatmaps"] = False
    det, path = detect_videos(args.session, changes, workers=args.workers,
                              chunk_frames=args.chunk_frames)
    C, F, P, J = det.shape
    seen = det.conf.any(-1).any(-1).sum(-1)
    print(f"{C} cameras x {F} frames at {det.fps:g} fps, {J} joints ({det.format}), "
          f"heatmaps {'kept' if det.heatmaps is not None else 'not kept'}")
    for name, n in zip(det.camera_names, seen):
        print(f"  {name:<14} person found in {n:4d} of {F} frames")
    print(f"wrote {path}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("detect", help=HELP,
                       description="Run the person detector and pose model on "
                                   "SESSION/videos/<camera>.<ext> (or image folders "
                                   "videos/<camera>/), one worker process per camera, and write "
                                   "SESSION/out/detections.npz. Settings come from [detect] in "
                                   "session.toml; the options below override them.")
    p.add_argument("session", help="session folder")
    p.add_argument("--backend", choices=("blazepose", "onnx"), default=None,
                   help="detector (default: [detect] backend, blazepose)")
    p.add_argument("--model", default=None, help="ONNX model file (backend onnx)")
    p.add_argument("--model-format", default=None,
                   help="keypoint format of the ONNX model (e.g. coco17, halpe26)")
    p.add_argument("--max-people", type=int, default=None, help="people per camera")
    p.add_argument("--workers", type=int, default=None,
                   help="parallel processes (default: [detect] workers; 0 = one per camera)")
    p.add_argument("--no-heatmaps", action="store_true", help="keep keypoints only")
    p.add_argument("--chunk-frames", type=int, default=None,
                   help="frames per checkpoint of a camera: a killed run redoes at most this "
                        "many per camera (default 900; the detections do not depend on it)")
    p.set_defaults(func=run)
