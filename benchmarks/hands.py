"""Finger keypoints with ground truth: a rendered take (``mocap.simulate.render``, the Anny
body through the studio's cameras, lenses applied) run through our detector with
``[detect] hands = true`` (BlazePose plus MediaPipe's hand landmark model on crops from the
body's wrist, index and pinky points), triangulated, and scored against the truth of
the whole-body format ``blazepose75`` (Anny's finger joints and fingertips,
:mod:`mocap.body.hand_keypoints`).

One table per take:

- 2D: the hand points against the projected truth, px, visible points (ray cast in Blender)
  and how many were missed;
- 3D: median / mean / p90 error of the 42 hand points (and of the fingertips, the finger
  joints, the hand wrists), in frames where both hands are visible in three or more views
  (a hand counts as visible in a view when at least 15 of its 21 points are), for our
  algebraic triangulation (every view, weighted DLT), the robust one (view selection) and
  the volumetric one (the body's heatmaps, Gaussians around the hand points), raw and
  filtered;
- 2D: the hand model on each hand's crop as it is, mirrored (points mirrored back) and the
  two averaged (does it read left hands as well as right ones?), and the model's handedness
  against the side the body gives each crop;
- CPU seconds (``time.process_time``: not inflated by other jobs on a shared machine, as wall
  time is): detection with and without hands on the same frames, in this process, least of
  ``--runs`` alternating runs (the cost of hands; cameras x frames / CPU seconds), and each
  landmark model alone per call.

Needs ``.venv-blender`` (``make setup-blender``). Run:

    nice -n 10 .venv/bin/python benchmarks/hands.py [--width 960] [--frames 12] ...
"""
from __future__ import annotations

import os
import sys

sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

import argparse  # noqa: E402
import logging  # noqa: E402
import shutil  # noqa: E402
import time  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from mocap.app.detections import detect_session  # noqa: E402
from mocap.app.render_session import RenderSpec, cached_render  # noqa: E402
from mocap.app.session import Session  # noqa: E402
from mocap.datasets import cache_dir  # noqa: E402
from mocap.filter import filter_points  # noqa: E402
from mocap.keypoints import get_format  # noqa: E402
from mocap.settings import TriangulateSettings  # noqa: E402
from mocap.triangulate import triangulate  # noqa: E402

log = logging.getLogger("benchmark")
FMT = "blazepose75"
BODY = 33
#: A hand is visible in a view when at least this many of its 21 points are.
MIN_POINTS_SEEN = 15
MIN_VIEWS = 3


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def make_session(spec: RenderSpec) -> tuple[Path, float]:
    """The rendered session (made once per spec, kept in the cache) and the render seconds."""
    return cached_render(spec, cache_dir() / "bench" / "hands")


def hands_seen(visible: np.ndarray) -> np.ndarray:
    """(F,) bool: frames where both hands are seen in at least ``MIN_VIEWS`` views.

    Args:
        visible: (C, F, 75) bool, the truth's visibility of the whole-body points.
    """
    both = np.ones(visible.shape[1], bool)
    for h in range(2):
        pts = visible[:, :, BODY + 21 * h: BODY + 21 * (h + 1)].sum(-1)      # (C, F)
        both &= (pts >= MIN_POINTS_SEEN).sum(0) >= MIN_VIEWS
    return both


def point_groups() -> dict:
    """Label -> indices of the whole-body format's hand points."""
    names = get_format(FMT).joint_names
    hand = list(range(BODY, BODY + 42))
    return {"all 42 hand points": hand,
            "fingertips (10)": [i for i in hand if names[i].endswith("_tip")],
            "finger joints (30)": [i for i in hand if not names[i].endswith(("_tip",
                                                                             "hand_wrist"))],
            "hand wrists (2)": [i for i in hand if names[i].endswith("hand_wrist")],
            "body wrists (2)": [names.index("left_wrist"), names.index("right_wrist")]}


def error_stats(e: np.ndarray) -> tuple:
    """n, median, mean, p90 of finite errors (any shape), NaN share %."""
    f = e[np.isfinite(e)]
    if not f.size:
        return 0, np.nan, np.nan, np.nan, 100.0
    return (f.size, float(np.median(f)), float(f.mean()), float(np.percentile(f, 90)),
            100.0 * float(np.isnan(e).mean()))


def detector_rows(det, truth: dict) -> list:
    """2D error of the hand points (visible in the truth), px."""
    xy_t, vis = truth[f"xy_{FMT}"][:, :, 0], truth[f"visible_{FMT}"][:, :, 0]
    e = np.linalg.norm(det.xy[:, :, 0] - xy_t, axis=-1)                      # (C, F, 75)
    rows = []
    for label, idx in point_groups().items():
        m = np.zeros(e.shape, bool)
        m[..., idx] = True
        m &= vis
        rows.append((label, *error_stats(np.where(m, e, np.nan)[m])))
    return rows


def method_rows(det, rig, truth, settings, frames: np.ndarray) -> list:
    """3D error rows (mm) per method, raw and filtered, over ``frames`` (F,) bool."""
    gt = truth[f"xyz_{FMT}"][:, 0]
    rows = []
    for label, ts in (("ours algebraic (all views)", TriangulateSettings(view_selection="all")),
                      ("ours robust", TriangulateSettings()),
                      ("ours volumetric (heatmaps; the hands' are Gaussians)",
                       TriangulateSettings(method="volumetric"))):
        pts = triangulate(det, rig, ts)
        filt = filter_points(pts, settings.filter, rig)
        for stage, p in (("raw", pts), ("filtered", filt)):
            e = 1000 * np.linalg.norm(p.xyz[:, 0] - gt, axis=-1)[frames]    # (F', 75)
            for glabel, idx in point_groups().items():
                rows.append((label, stage, glabel, *error_stats(e[:, idx])))
    return rows


def detect_timed(root: Path, rig, settings, hands: bool):
    """Detections of the session (1 worker: in this process; fresh: the cached camera files
    removed) and the CPU seconds this process spent on them (every thread: decoding, models;
    unlike wall time, not inflated by other jobs on a shared machine)."""
    s = replace(settings, detect=replace(settings.detect, workers=1, hands=hands))
    shutil.rmtree(root / "out", ignore_errors=True)
    t0 = time.process_time()
    det = detect_session(root, rig.names, s, workers=1, rig=rig)
    return det, time.process_time() - t0


def detection_seconds(root: Path, rig, settings, runs: int) -> tuple:
    """Detections with hands, and the least CPU seconds of ``runs`` detection runs without
    and with hands, alternating (one worker, the same frames; model loading included)."""
    secs = {False: [], True: []}
    det = None
    for _ in range(runs):
        for hands in (False, True):
            out, dt = detect_timed(root, rig, settings, hands)
            secs[hands].append(dt)
            det = out if hands else det
    return det, min(secs[False]), min(secs[True])


def mirrored_crop(landmarker, rgb: np.ndarray, roi) -> np.ndarray:
    """(21, 2) image pixels: the hand model on the crop of ``roi`` mirrored left-right (a left
    hand then looks like a right one), its points mirrored back."""
    from mocap.detect.geometry import image_from_crop_edge
    from mocap.detect.hands import HAND_INPUT_PX, hand_crop
    xy, _, _ = landmarker.on_crop(np.ascontiguousarray(hand_crop(rgb, roi)[:, ::-1]))
    xy[:, 0] = HAND_INPUT_PX - xy[:, 0]
    return image_from_crop_edge(roi, HAND_INPUT_PX, xy)


def mirror_rows(root: Path, det, truth: dict) -> list:
    """2D error (px) of the hand model on each hand's refined region (hands with at least
    ``MIN_POINTS_SEEN`` visible points), the crop as it is, mirrored, and the two averaged:
    whether the model reads left hands as well as right ones."""
    from mocap.detect.hands import (HandLandmarker, body_hand_points, hand_roi_from_landmarks,
                                    hand_roi_from_pose)
    from mocap.detect.video import FrameReader, probe_source
    from mocap.models import model_path
    model = HandLandmarker(model_path("hand_landmark_full"))
    xy_t, vis = truth[f"xy_{FMT}"][:, :, 0], truth[f"visible_{FMT}"][:, :, 0]
    errs = {"as it is": [], "mirrored": [], "both averaged": []}
    sides = {"left": [], "right": []}                 # (P(right), median px) per hand
    for c, cam in enumerate(det.camera_names):
        video = next((root / "videos").glob(f"{cam}.*"))
        with FrameReader(probe_source(video, cam), det.xy.shape[1]) as frames:
            for f, rgb in frames:
                for h, side in enumerate(("left", "right")):
                    sl = slice(BODY + 21 * h, BODY + 21 * (h + 1))
                    v = vis[c, f, sl]
                    roi = hand_roi_from_pose(*body_hand_points(det.xy[c, f, 0, :BODY], side))
                    if v.sum() < MIN_POINTS_SEEN or roi is None:
                        continue
                    roi = hand_roi_from_landmarks(model(rgb, roi).xy)
                    answer = model(rgb, roi)
                    plain, mirrored = answer.xy, mirrored_crop(model, rgb, roi)
                    sides[side].append((answer.right, float(np.median(np.linalg.norm(
                        plain - xy_t[c, f, sl], axis=-1)[v]))))
                    for k, xy in zip(errs, (plain, mirrored, 0.5 * (plain + mirrored))):
                        errs[k].append(np.linalg.norm(xy - xy_t[c, f, sl], axis=-1)[v])
    return [(k, *error_stats(np.concatenate(v))) for k, v in errs.items()], sides


def print_handedness(sides: dict) -> None:
    """The model's handedness against the side the body gives each crop."""
    print("\n| crop of the body's | hands | median P(right) | wrong side % | wrong side, points "
          "within 3 px % |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for side, vals in sides.items():
        p, e = np.array(vals).T
        wrong = (p < 0.5) if side == "right" else (p > 0.5)
        print(f"| {side} wrist | {len(p)} | {np.median(p):.2f} | {100 * wrong.mean():.1f} "
              f"| {100 * (wrong & (e < 3.0)).mean():.1f} |")


def model_milliseconds(rounds: int = 5, calls: int = 10) -> dict:
    """CPU milliseconds per call, one runtime thread, least of ``rounds`` alternating rounds:
    the hand model on one crop, and BlazePose Heavy's landmark model on one region (the
    peer, measured in the same run)."""
    from mocap.detect.blazepose import PoseLandmarker
    from mocap.detect.geometry import Roi
    from mocap.detect.hands import HandLandmarker, hand_crop
    from mocap.models import model_path
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (540, 960, 3), dtype=np.uint8)
    roi = Roi((480.0, 270.0), 300.0, 0.3)
    hand = HandLandmarker(model_path("hand_landmark_full"))
    pose = PoseLandmarker(model_path("pose_landmark_heavy"), flip=False)
    jobs = {"hand landmark model, one crop": lambda: hand.on_crop(hand_crop(rgb, roi)),
            "BlazePose Heavy landmark model, one region (no flip)": lambda: pose(rgb, roi)}
    best = {k: np.inf for k in jobs}
    for _ in range(rounds):
        for k, job in jobs.items():
            job()
            t0 = time.process_time()
            for _ in range(calls):
                job()
            best[k] = min(best[k], 1000 * (time.process_time() - t0) / calls)
    return best


def print_tables(title, det_rows, rows, secs, seen: np.ndarray) -> None:
    print(f"\n## {title}\n")
    print(f"frames where both hands are seen in >= {MIN_VIEWS} views: {int(seen.sum())} of "
          f"{len(seen)}\n")
    print("| 2D, visible points | n | median px | mean px | p90 px | missed % |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for label, n, med, mean, p90, miss in det_rows:
        print(f"| {label} | {n} | {med:.2f} | {mean:.2f} | {p90:.2f} | {miss:.1f} |")
    print("\n| 3D method | stage | points | n | median mm | mean mm | p90 mm | missing % |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for label, stage, glabel, n, med, mean, p90, miss in rows:
        print(f"| {label} | {stage} | {glabel} | {n} | {med:.1f} | {mean:.1f} | {p90:.1f} "
              f"| {miss:.1f} |")
    print("\n| detection (1 worker, same frames, least of the runs) | CPU seconds | camera frames "
          "per CPU second |")
    print("| --- | ---: | ---: |")
    for k, (v, fps) in secs.items():
        print(f"| {k} | {v:.2f} | {fps:.2f} |")
    (t_body, _), (t_hands, _) = secs.values()
    print(f"\nhands cost {t_hands / t_body:.2f} x the CPU time of the body alone")
    print("\n| model (1 thread, least of 5 rounds) | CPU ms per call |\n| --- | ---: |")
    for k, ms in model_milliseconds().items():
        print(f"| {k} | {ms:.1f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rig", default="studio4")
    ap.add_argument("--motion", default="walk")
    ap.add_argument("--frames", type=int, default=12)
    ap.add_argument("--width", type=int, default=960)
    ap.add_argument("--engine", default="cycles", choices=("workbench", "cycles"))
    ap.add_argument("--samples", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--runs", type=int, default=2, help="detection runs each, fastest kept")
    ap.add_argument("--render-only", action="store_true", help="make the take and stop")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    spec = RenderSpec(rig=args.rig, motion=args.motion, frames=args.frames, format=FMT,
                      seed=args.seed, width_px=args.width, engine=args.engine,
                      samples=args.samples)
    root, t_render = make_session(spec)
    print(f"rendered take: {root} (render {t_render:.0f} s; nan: cached)")
    if args.render_only:
        return
    session = Session(root)
    rig, settings = session.rig(), session.settings()
    truth = dict(np.load(root / "gt.npz"))
    det, t_body, t_hands = detection_seconds(root, rig, settings, args.runs)
    C, F = det.xy.shape[:2]
    seen = hands_seen(truth[f"visible_{FMT}"][:, :, 0])
    secs = {"body only (BlazePose Heavy + flip)": (t_body, C * F / t_body),
            "body + hands (3 hand-model passes per hand)": (t_hands, C * F / t_hands)}
    title = (f"{args.rig}, {len(rig)} cameras at {args.width} px, {args.motion}, "
             f"{args.frames} frames, {args.engine}"
             + (f" {args.samples} spp" if args.engine == "cycles" else ""))
    print_tables(title, detector_rows(det, truth),
                 method_rows(det, rig, truth, settings, seen), secs, seen)
    print("\n| hand crop (refined region, every hand seen) | n | median px | mean px | p90 px |")
    print("| --- | ---: | ---: | ---: | ---: |")
    mirror, sides = mirror_rows(root, det, truth)
    for label, n, med, mean, p90, _ in mirror:
        print(f"| {label} | {n} | {med:.2f} | {mean:.2f} | {p90:.2f} |")
    print_handedness(sides)


if __name__ == "__main__":
    main()
