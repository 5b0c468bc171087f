"""The Pose2Sim demos run as a user runs them: videos + calibration in a session, `mocap run`.

Single person (``--demo single``): the 4 videos of the pose2sim==0.10.49 SinglePerson demo with
the Qualisys calibration of the same take (pose2sim==0.4.15), one session per BlazePose landmark
model (``[detect] model``; every other setting its default, except ``[fit] enabled = false``:
the body fit does not change ``out/points3d.npz``, which is what is measured). Printed per
model: the median and 90th percentile distance of our 3D keypoints to the demo's reference
``Balancing_for_IK.trc`` after a similarity alignment (the joints both formats share), the
share of frames reconstructed, and the detector's frames/s on camera 1 (one runtime thread,
ROI tracking, heatmaps kept) with its ratio to Full measured in the same run.

The reference was triangulated (by Pose2Sim) from the OpenPose JSON shipped with it, whose frame
f is frame f + 1 of the 0.10.49 videos: our 2D keypoints sit closest to OpenPose's at that lag
in all four cameras (measured with Heavy and Full; :func:`openpose_lag`, printed per model
as a check, "2D lag"), so the 3D comparison pairs reference frame f with our frame
f + :data:`REFERENCE_LAG`. The lag comes from the 2D keypoints against the JSON, never from
the 3D error.

Multi person (``--demo multi``): the MultiPerson demo's 4 videos and its calibration with no
settings at all. Printed per identity: frames reconstructed, the share of the frames
where the person is visible that this identity covers (people are matched to identities by
the identity that holds most of their frames), and the SD of the bone lengths (mm, median
over bones).

Sessions live in ``--workdir`` (default ``<cache>/bench/pose2sim``) and are kept: a rerun
skips the detection stage when its inputs and settings are unchanged (``mocap.app.stages``).

    .venv/bin/python benchmarks/pose2sim.py [--demo single|multi] [--models heavy,full,lite]
        [--speed-frames 30] [--set triangulate.min_conf=0.3 ...]
"""
from __future__ import annotations

import argparse
import logging
import shutil
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from calibration.world import similarity_from_points  # noqa: E402
from exporters.trc import read_trc  # noqa: E402
from mocap.app.pipeline import run as run_pipeline  # noqa: E402
from mocap.datasets import cache_dir, pose2sim_demo  # noqa: E402
from mocap.detect.backends import make_backend  # noqa: E402
from mocap.detect.types import BackendSpec  # noqa: E402
from mocap.detect.video import FrameReader, probe_source  # noqa: E402
from mocap.keypoints import get_format  # noqa: E402
from mocap.io.openpose import read_openpose_folder  # noqa: E402
from mocap.types import Detections2D, Points3D  # noqa: E402

MODELS = ("heavy", "full", "lite")
#: Frame of the 0.10.49 videos that shows frame 0 of the 0.4.15 reference (see above).
REFERENCE_LAG = 1


def make_session(root: Path, demo: str, toml: str) -> Path:
    """A session folder: the demo's calibration, its videos (links) and ``session.toml``."""
    videos = pose2sim_demo("0.10.49") / f"Demo_{demo}" / "videos"
    root.mkdir(parents=True, exist_ok=True)
    # Both demos ship the same Qualisys .qca.txt; 0.4.15 ships it converted (Calib_qualisys.toml,
    # the same cameras to 1e-15: tests/mocap/test_datasets_pose2sim_calibration.py).
    calib = pose2sim_demo("0.4.15") / "Demo" / "calibration" / "Calib_qualisys.toml"
    target = root / "calibration.toml"
    if not target.is_file():
        shutil.copy(calib, target)
    (root / "videos").mkdir(exist_ok=True)
    for i in range(1, 5):
        link = root / "videos" / f"cam_0{i}.mp4"
        if not link.exists():
            link.symlink_to(videos / f"cam0{i}.mp4")
    (root / "session.toml").write_text(toml)
    return root


def settings_toml(tables: dict) -> str:
    """``{table: {key: value}}`` -> TOML text (values written with ``repr``, strings quoted)."""
    out = []
    for table, keys in tables.items():
        out.append(f"[{table}]")
        out += [f"{k} = {v!r}" if not isinstance(v, bool) else f"{k} = {str(v).lower()}"
                for k, v in keys.items()]
    return "\n".join(out) + "\n"


def overrides(pairs: list[str]) -> dict:
    """``table.key=value`` strings -> ``{table: {key: value}}`` (numbers and booleans parsed)."""
    out: dict = {}
    for pair in pairs:
        key, value = pair.split("=", 1)
        table, name = key.split(".", 1)
        v: object = value
        if value in ("true", "false"):
            v = value == "true"
        else:
            try:
                v = int(value)
            except ValueError:
                try:
                    v = float(value)
                except ValueError:
                    pass
        out.setdefault(table, {})[name] = v
    return out


def openpose_lag(det: Detections2D, lags=range(-3, 4)) -> int:
    """The video frame that shows the reference's frame 0: the lag at which our 2D keypoints
    (person 0) are closest to the demo's OpenPose JSON (median pixel distance over the joints
    both formats share, pooled over cameras; the nearest OpenPose person each frame)."""
    old = pose2sim_demo("0.4.15") / "Demo" / "pose"
    b25b, ours_fmt = get_format("body25b"), get_format(det.format)
    shared = [n for n in b25b.joint_names if n in ours_fmt.joint_names]
    oi = [ours_fmt.joint_names.index(n) for n in shared]
    pi = [b25b.joint_names.index(n) for n in shared]
    cost = np.zeros(len(lags))
    for c in range(det.shape[0]):
        op = read_openpose_folder(old / f"cam{c + 1}_json", "body25b")[0][:, :, pi]
        ours = det.xy[c, :, 0][:, oi]
        F = min(len(op), len(ours))
        for i, lag in enumerate(lags):
            a, b = ours[max(0, lag):F + min(0, lag)], op[max(0, -lag):F - max(0, lag)]
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                d = np.nanmedian(np.linalg.norm(b - a[:, None], axis=-1), -1)   # (F, P)
                cost[i] += np.nanmedian(np.nanmin(d, -1))
    return int(list(lags)[int(np.argmin(cost))])


def reference_error(points: Points3D, lag: int = 0) -> tuple[float, float, float]:
    """Median and p90 distance (m) to the reference .trc after a similarity alignment
    (reference frame f against our frame f + lag), and the share of (frame, joint) pairs
    reconstructed."""
    trc = read_trc(pose2sim_demo("0.4.15") / "Demo" / "opensim" / "Balancing_for_IK.trc",
                   up="file")
    ref = trc.xyz[..., [2, 0, 1]]            # the .trc's axes are (y, z, x) of the calibration
    body25, ours_fmt = get_format("body25"), get_format(points.format)
    pairs = [(m, ours_fmt.joint_names.index(body25.joint_names[body25.index(n)]))
             for m, n in enumerate(trc.marker_names)
             if n in body25.native_names and body25.joint_names[body25.index(n)] in
             ours_fmt.joint_names]
    person = int(np.argmax(np.isfinite(points.xyz[..., 0]).sum((0, 2))))   # the actor: the
    xyz = points.xyz[max(0, lag):, person]              # identity seen most (not a bystander)
    ref = ref[max(0, -lag):]
    F = min(len(ref), len(xyz))
    ours = np.stack([xyz[:F, j] for _, j in pairs], 1)
    theirs = np.stack([ref[:F, m] for m, _ in pairs], 1)
    ok = np.isfinite(ours).all(-1) & np.isfinite(theirs).all(-1)
    T, s = similarity_from_points(ours[ok], theirs[ok])
    aligned = s * ours @ T[:3, :3].T + T[:3, 3]
    err = np.linalg.norm(aligned - theirs, axis=-1)[ok]
    return float(np.median(err)), float(np.percentile(err, 90)), float(ok.mean())


def frames_per_second(model: str, frames: int) -> float:
    """The detector's frames/s on the first frames of camera 1 (after 3 warm-up frames)."""
    info = probe_source(pose2sim_demo("0.10.49") / "Demo_SinglePerson" / "videos" / "cam01.mp4",
                        "cam01")
    spec = BackendSpec(landmark_model=model)
    backend = make_backend(spec)
    with FrameReader(info, 3) as warm:
        for _, rgb in warm:
            backend.process(rgb)
    backend = make_backend(spec)
    t0 = time.perf_counter()
    with FrameReader(info, frames) as reader:
        for _, rgb in reader:
            backend.process(rgb)
    return frames / (time.perf_counter() - t0)


def single(args, extra: dict) -> None:
    rows = []
    for model in args.models.split(","):
        tables = {"detect": {"model": model}, "fit": {"enabled": False}}
        for table, keys in extra.items():
            tables.setdefault(table, {}).update(keys)
        root = make_session(args.workdir / f"single_{model}", "SinglePerson",
                            settings_toml(tables))
        run_pipeline(root)
        lag = openpose_lag(Detections2D.load(root / "out" / "detections.npz"))
        med, p90, share = reference_error(Points3D.load(root / "out" / "points3d.npz"),
                                          REFERENCE_LAG)
        fps = frames_per_second(model, args.speed_frames) if args.speed_frames else np.nan
        rows.append((model, med, p90, share, fps, lag))
    full = {r[0]: r[4] for r in rows}.get("full", np.nan)
    print(f"\nPose2Sim SinglePerson demo, 4 cameras x 100 frames, `mocap run` "
          f"({', '.join(args.set) or 'default settings'}); reference: Balancing_for_IK.trc")
    print(f"{'model':<8}{'median mm':>11}{'p90 mm':>9}{'found':>8}{'frames/s':>10}"
          f"{'vs full':>9}{'2D lag':>8}")
    for model, med, p90, share, fps, lag in rows:
        print(f"{model:<8}{1000 * med:>11.1f}{1000 * p90:>9.1f}{100 * share:>7.0f}%"
              f"{fps:>10.1f}{fps / full:>8.2f}x{lag:>+8d}")
    print(f"reference frame f against video frame f + {REFERENCE_LAG}; 2D lag: the same "
          "measured from each model's 2D keypoints against the demo's OpenPose JSON")


def bone_sds(points: Points3D) -> list[tuple[float, str]]:
    """Per person: (SD over the take of each bone's length (m), the bone), largest first."""
    fmt = get_format(points.format)
    out = []
    for p in range(points.xyz.shape[1]):
        sds = []
        for a, b in fmt.bone_indices:
            length = np.linalg.norm(points.xyz[:, p, a] - points.xyz[:, p, b], axis=-1)
            length = length[np.isfinite(length)]
            if len(length) > 10:
                sds.append((float(np.std(length)),
                            f"{fmt.joint_names[a]}-{fmt.joint_names[b]}"))
        out.append(sorted(sds, reverse=True))
    return out


def identity_table(points: Points3D, raw: Points3D) -> list[tuple]:
    """Per identity: frames with a body (half its joints or more); the median SD of its bone
    lengths (m) after the filter and before it (``raw``); the largest after, and that bone."""
    present = np.isfinite(points.xyz).all(-1).mean(-1) >= 0.5            # (F, P)
    rows = []
    for p, (after, before) in enumerate(zip(bone_sds(points), bone_sds(raw))):
        med = lambda v: float(np.median([x for x, _ in v])) if v else np.nan  # noqa: E731
        worst = after[0] if after else (np.nan, "")
        rows.append((p, int(present[:, p].sum()), med(after), med(before)) + worst)
    return rows


def multi(args, extra: dict) -> None:
    root = make_session(args.workdir / "multi", "MultiPerson", settings_toml(extra))
    run_pipeline(root)
    pts = Points3D.load(root / "out" / "points3d.npz")
    det = Detections2D.load(root / "out" / "detections.npz")
    seen = (np.isfinite(det.xy[..., 0]).mean(-1) >= 0.5).sum(2)          # (C, F) people
    two = int(((seen >= 2).sum(0) >= 2).sum())
    F = pts.xyz.shape[0]
    print(f"\nPose2Sim MultiPerson demo, 4 cameras x {F} frames, `mocap run` "
          f"({', '.join(args.set) or 'no settings'}); people detected per camera (most in a "
          f"frame): {seen.max(1).tolist()}; frames where 2 or more cameras see 2 people: {two}")
    print(f"{'identity':<10}{'frames':>8}{'share':>7}{'bone SD mm':>12}{'before filter':>15}"
          f"{'largest':>9}  bone")
    raw = Points3D.load(root / "out" / "points3d_raw.npz")
    for p, n, sd, sd_raw, worst, bone in identity_table(pts, raw):
        print(f"{p:<10}{n:>8}{100 * n / F:>6.0f}%{1000 * sd:>12.1f}{1000 * sd_raw:>15.1f}"
              f"{1000 * worst:>9.1f}  {bone}")
    print("bone SD: median over the format's bones of each length's SD over the take "
          "(out/points3d.npz, whose limb lengths [filter] bone_lengths holds constant; before "
          "filter: out/points3d_raw.npz)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--demo", choices=("single", "multi"), default="single")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--speed-frames", type=int, default=30,
                    help="frames timed per model (0: no timing)")
    ap.add_argument("--set", action="append", default=[], metavar="TABLE.KEY=VALUE",
                    help="a setting for every session (repeatable)")
    ap.add_argument("--workdir", type=Path, default=cache_dir() / "bench" / "pose2sim")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    (single if args.demo == "single" else multi)(args, overrides(args.set))


if __name__ == "__main__":
    main()
