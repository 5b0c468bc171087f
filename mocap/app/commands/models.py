"""``mocap models``: list the detector model files, or fetch them into the cache."""
from __future__ import annotations

HELP = "list or fetch the detector model files"


def run(args) -> int:
    from ...models import MODELS, cached_model, fetch_models, models_dir
    if args.action == "fetch":
        for name, path in fetch_models().items():
            print(f"{name:<22} {path}")
        return 0
    print(f"cache: {models_dir()}")
    for name, spec in MODELS.items():
        path = cached_model(name)
        state = "cached" if path is not None else "missing (run `mocap models fetch`)"
        print(f"{name:<22} {state:<10} {spec.source}:{spec.member}")
        print(f"{'':<22} {spec.description}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("models", help=HELP,
                       description="List the BlazePose model files and whether they are in the "
                                   "cache, or fetch them (`mocap models fetch`): the pinned "
                                   "mediapipe==0.10.21 wheel is downloaded once from the package "
                                   "registry with `pip download --no-deps` (never installed), "
                                   "the pinned @mediapipe/pose and @mediapipe/hands tarballs "
                                   "from the npm registry, all checked by sha256, and the "
                                   ".tflite files are unpacked into the cache "
                                   "($MOCAP_CACHE_DIR, default ~/.cache/mocap).")
    p.add_argument("action", nargs="?", default="list", choices=("list", "fetch"),
                   help="list (default) or fetch")
    p.set_defaults(func=run)
