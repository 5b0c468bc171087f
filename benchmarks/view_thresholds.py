"""Robust view selection with a fixed pixel threshold against one that follows the person's
size in each view (``[triangulate] reproj_threshold_frac``), on the same detections.

Rows, each with ``reproj_threshold_frac = 0`` (the fixed ``reproj_threshold_px`` = 15 px
alone) and the default (the larger of 15 px and that fraction of the person's size):

- simulated studio (truth): a walk with 5 % outliers and 3 % swapped views (as
  ``benchmarks/triangulation.py``) through studio4 and lab8, at the templates' resolution
  (a person about 600 and 750 px tall) and with the same cameras at half and twice as
  many pixels per side (the simulated detector's noise is a fraction of the person's height
  in pixels, so the scene is the same one), with the simulator's noise (SD 0.4 % of the
  height) and, at the templates' resolution, with BlazePose Heavy's (1.1 %: :data:`JITTERS`);
  error of the triangulated points (robust path, swap repair, temporal check), mean and
  median mm, share of the joints found;
- rendered studio (truth, ``--render``: the cached take of ``benchmarks/pixels.py`` with the
  same options; detections cached): 33 BlazePose keypoints, MPJPE raw and filtered, body 12;
- Pose2Sim SinglePerson demo (``--pose2sim``: the session ``benchmarks/pose2sim.py`` made,
  detections cached; run it once first): median and p90 distance to the reference .trc after a
  similarity alignment, as that benchmark measures it (its ``reference_error``); and the share
  of (frame, marker) points triangulated from 2, 3 and 4 cameras.

    nice -n 10 .venv/bin/python benchmarks/view_thresholds.py [--frames 90]
        [--render --width 480 --frames-render 30 --engine cycles]
        [--pose2sim --workdir <cache>/bench/pose2sim]
"""
from __future__ import annotations

import os
import sys

sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import logging  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from mocap.datasets import cache_dir  # noqa: E402
from mocap.filter import filter_points  # noqa: E402
from mocap.settings import TriangulateSettings  # noqa: E402
from mocap.simulate import Actor, ErrorModel, load_rig_template, simulate_take  # noqa: E402
from mocap.simulate.render import scale_rig  # noqa: E402
from mocap.triangulate import triangulate  # noqa: E402

FIXED = TriangulateSettings(reproj_threshold_frac=0.0)
PER_VIEW = TriangulateSettings()
METHODS = ((f"fixed {FIXED.reproj_threshold_px:g} px", FIXED),
           (f"per view ({PER_VIEW.reproj_threshold_frac:g} of size, >= "
            f"{PER_VIEW.reproj_threshold_px:g} px)", PER_VIEW))


#: The simulated detector's noise (SD, fraction of the person's height): the simulator's
#: default, and BlazePose Heavy's on the rendered studio (mean 2D error 1.35 % of the
#: height, :mod:`benchmarks.pixels`; SD = mean / 1.25 for 2D Gaussian noise).
JITTERS = (0.004, 0.011)


def simulated_rows(frames: int) -> list:
    rows = []
    scenes = [(name, k, JITTERS[0]) for name in ("studio4", "lab8") for k in (0.5, 1.0, 2.0)]
    scenes += [(name, 1.0, JITTERS[1]) for name in ("studio4", "lab8")]
    for name, k, jitter in scenes:
        model = ErrorModel(jitter_frac=jitter, outlier_rate=0.05, swap_rate=0.03)
        base = load_rig_template(name)
        rig = scale_rig(base, round(base[0].size_wh[0] * k))
        take = simulate_take(rig, [Actor("walk", seed=11)], frames, 30.0, "body25", model,
                             seed=11, heatmaps=False)
        xy = take.detections.xy[:, :, 0]
        person = np.nanmedian(np.nanmax(xy[..., 1], -1) - np.nanmin(xy[..., 1], -1))
        for label, s in METHODS:
            p = triangulate(take.detections, rig, s)
            e = np.linalg.norm(p.xyz - take.gt_xyz, axis=-1) * 1000
            rows.append((f"{name} x{k:g} ({rig[0].size_wh[0]} px, person {person:.0f} px), "
                         f"noise {100 * jitter:.1f} %", label, np.nanmean(e), np.nanmedian(e),
                         100 * np.isfinite(e).mean()))
    return rows


def rendered_rows(args) -> list:
    from mocap.app.detections import detect_session
    from mocap.app.render_session import RenderSpec, cached_render
    from mocap.app.session import Session
    spec = RenderSpec(rig="studio4", motion="walk", frames=args.frames_render,
                      format="blazepose33", seed=0, actors=1, width_px=args.width,
                      engine=args.engine, samples=args.samples)
    root, _ = cached_render(spec, cache_dir() / "bench" / "pixels")
    session = Session(root)
    rig, settings = session.rig(), session.settings()
    settings = dataclasses.replace(settings, detect=dataclasses.replace(settings.detect,
                                                                        workers=1))
    det = detect_session(root, rig.names, settings, workers=1, rig=rig)
    gt = dict(np.load(root / "gt.npz"))["xyz_blazepose33"][:, 0]
    names = list(det.keypoint_format.joint_names)
    body = [names.index(f"{side}_{j}") for side in ("left", "right")
            for j in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")]
    rows = []
    for label, s in METHODS:
        raw = triangulate(det, rig, s)
        filt = filter_points(raw, settings.filter, rig)
        e = np.linalg.norm(raw.xyz[:, 0] - gt, axis=-1) * 1000
        ef = np.linalg.norm(filt.xyz[:, 0] - gt, axis=-1) * 1000
        rows.append((f"rendered studio4, {args.width} px, {args.engine}", label,
                     np.nanmean(e), np.nanmean(ef), np.nanmean(ef[:, body]),
                     100 * np.isfinite(e).mean()))
    return rows


def pose2sim_rows(args) -> list:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from pose2sim import REFERENCE_LAG, reference_error
    from mocap.app.detections import session_detections
    from mocap.app.session import Session
    from mocap.associate import identify_people
    root = args.workdir / "single_heavy"
    if not (root / "out" / "detections.npz").is_file():
        print(f"no {root / 'out' / 'detections.npz'}: run benchmarks/pose2sim.py first")
        return []
    session = Session(root)
    settings, rig = session.settings(), session.rig()
    det, _ = identify_people(session_detections(session, rig, settings), rig, settings.associate)
    rows = []
    for label, s in METHODS:
        raw = triangulate(det, rig, s)
        filt = filter_points(raw, settings.filter, rig)
        med, p90, share = reference_error(filt, REFERENCE_LAG)
        used = raw.views_used[:, 0].sum(-1)[np.isfinite(raw.xyz[:, 0, :, 0])]
        views = [100 * float((used == n).mean()) for n in (2, 3, 4)]
        rows.append((label, 1000 * med, 1000 * p90, 100 * share, *views))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=90, help="simulated frames per take")
    ap.add_argument("--render", action="store_true", help="also the cached rendered take")
    ap.add_argument("--width", type=int, default=480)
    ap.add_argument("--frames-render", type=int, default=30)
    ap.add_argument("--engine", default="cycles", choices=("workbench", "cycles"))
    ap.add_argument("--samples", type=int, default=8)
    ap.add_argument("--pose2sim", action="store_true", help="also the Pose2Sim demo")
    ap.add_argument("--workdir", type=Path, default=cache_dir() / "bench" / "pose2sim")
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    warnings.simplefilter("ignore", RuntimeWarning)
    print(f"\n{'simulated walk, outliers + swaps':<56}{'method':<34}{'mean mm':>9}"
          f"{'median mm':>11}{'found %':>9}")
    for scene, label, mean, med, found in simulated_rows(args.frames):
        print(f"{scene:<56}{label:<34}{mean:>9.2f}{med:>11.2f}{found:>9.1f}")
    if args.render:
        print(f"\n{'rendered take (truth)':<40}{'method':<34}{'raw mm':>8}{'filtered':>10}"
              f"{'body 12':>9}{'found %':>9}")
        for scene, label, raw, filt, body, found in rendered_rows(args):
            print(f"{scene:<40}{label:<34}{raw:>8.2f}{filt:>10.2f}{body:>9.2f}{found:>9.1f}")
    if args.pose2sim:
        rows = pose2sim_rows(args)
        print(f"\n{'Pose2Sim SinglePerson (Heavy, default)':<40}{'median mm':>10}{'p90 mm':>8}"
              f"{'found %':>9}{'2 views %':>10}{'3 views %':>10}{'4 views %':>10}")
        for label, med, p90, found, v2, v3, v4 in rows:
            print(f"{label:<40}{med:>10.2f}{p90:>8.1f}{found:>9.1f}{v2:>10.1f}{v3:>10.1f}"
                  f"{v4:>10.1f}")
        print("distance to Balancing_for_IK.trc after a similarity alignment, filtered "
              "keypoints (benchmarks/pose2sim.py's measure); views: the cameras each "
              "triangulated point rests on")


if __name__ == "__main__":
    main()
