"""Pixels with ground truth: a rendered take (``mocap.simulate.render``: the Anny body
rendered by Blender through the studio's cameras, lenses applied) run from video, every stage
scored against the truth, ours side by side with the pipeline a user assembles from peers.

Per take, one table:

- 2D: the detector stage (the session's default model, BlazePose Heavy with the mirrored pass,
  or ``--model``) against the projected truth, px and % of the
  actor's image height, visible vs occluded keypoints (visibility: ray cast in Blender);
- 3D: MPJPE raw (all 33 BlazePose keypoints), PA-MPJPE (per frame, similarity-aligned),
  body MPJPE (shoulders, elbows, wrists, hips, knees, ankles), the same after filtering, and
  the RMS error of knee, hip, elbow and shoulder flexion (``mocap.angles``), degrees;
- seconds per stage;
- per keypoint: the detector's median 2D error and bias (its median 2D offset per camera: a
  bias close to the error means a constant offset, i.e. the truth placed elsewhere than where
  the detector means the point; a small one means noise) and each method's 3D error;
- studio day (``--studio-day``): the calibration against the true rig, then the capture
  through it: keypoints, the fitted body (joints and keypoints) and the BVH and TRC files
  read back, against the truth.

A cached take's ``gt.npz`` is recomputed on every run (``refresh_truth``: no Blender), so the
scores follow the current keypoint definitions.

Methods: ours algebraic (weighted DLT, every view), robust (view selection + swap repair),
volumetric (from the detector's real heatmaps), each filtered by our filter stage; the peers
(``benchmarks/pixels_peer.py``): our per-frame detections triangulated by aniposelib's
``triangulate`` and ``triangulate_ransac``, and the peer pipeline of issue 16 on its own 2D
(BlazePose Full, one pass per frame, on the region around the truth's box, then aniposelib's
``triangulate``; its 2D scored in a second detector table), each then through a zero-phase
4th-order Butterworth low-pass at 6 Hz as Pose2Sim filters; two ratio lines: ours over each.
The actor's face is painted (eyes, brows, lips; ``--plain-face``: the plain skin of takes
rendered before). Needs ``.venv-blender`` (``make setup-blender``). Run:

    nice -n 10 .venv/bin/python benchmarks/pixels.py [--engine cycles] [--frames 60] ...
"""
from __future__ import annotations

import os
import sys

sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]
sys.path.append(os.path.dirname(os.path.abspath(__file__)))   # last: calibration.py here

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import shutil  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from calibration.world import similarity_from_points  # noqa: E402
from mocap.angles import joint_angles  # noqa: E402
from mocap.app.detections import detect_session  # noqa: E402
from mocap.app.render_session import RenderSpec, cached_render, refresh_truth  # noqa: E402
from mocap.app.session import Session  # noqa: E402
from mocap.datasets import cache_dir  # noqa: E402
from mocap.filter import butterworth_zero_phase, filter_points  # noqa: E402
from mocap.keypoints import get_format  # noqa: E402
from mocap.triangulate import triangulate  # noqa: E402
from pixels_peer import blazepose_on_truth_boxes, peer_points  # noqa: E402  (benchmarks/)

log = logging.getLogger("benchmark")
FMT = "blazepose33"
BODY12 = ("left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
          "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
          "right_ankle")
ANGLES = ("knee", "hip", "elbow", "shoulder")


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def make_session(spec: RenderSpec) -> tuple[Path, float]:
    """The rendered session (made once per spec, kept in the cache) and the render seconds."""
    return cached_render(spec, cache_dir() / "bench" / "pixels")


def pa_mpjpe_mm(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean per-frame error after the best similarity (F, J, 3) -> (F, J, 3), mm."""
    errs = []
    for p, g in zip(pred, gt):
        ok = np.isfinite(p).all(1) & np.isfinite(g).all(1)
        if ok.sum() < 4:
            continue
        T, s = similarity_from_points(p[ok], g[ok])
        q = s * p[ok] @ T[:3, :3].T + T[:3, 3]
        errs.append(np.linalg.norm(q - g[ok], axis=1))
    return 1000 * float(np.mean(np.concatenate(errs)))


def angle_rms(pred: np.ndarray, gt: np.ndarray, names) -> dict:
    """RMS flexion error per joint kind (both sides), degrees."""
    a, b = joint_angles(pred, names), joint_angles(gt, names)
    out = {}
    for kind in ANGLES:
        d = np.concatenate([a[f"{s}_{kind}_flexion"] - b[f"{s}_{kind}_flexion"]
                            for s in ("left", "right")])
        out[kind] = float(np.sqrt(np.nanmean(d ** 2)))
    return out


def scores(xyz: np.ndarray, gt: np.ndarray, names) -> dict:
    """xyz, gt: (F, J, 3) metres."""
    e = np.linalg.norm(xyz - gt, axis=-1) * 1000
    body = [names.index(n) for n in BODY12]
    return {"mpjpe": float(np.nanmean(e)), "pa": pa_mpjpe_mm(xyz, gt),
            "body": float(np.nanmean(e[:, body])), "cover": float(np.isfinite(e).mean()),
            **angle_rms(xyz, gt, names)}


def detector_rows(det, truth: dict) -> list:
    """2D error rows: all keypoints and the body 12, visible and occluded."""
    names = get_format(FMT).joint_names
    xy_t, vis = truth[f"xy_{FMT}"][:, :, 0], truth[f"visible_{FMT}"][:, :, 0]
    e = np.linalg.norm(det.xy[:, :, 0] - xy_t, axis=-1)                    # (C, F, K)
    ys = xy_t[..., 1]
    height = np.nanmax(ys, -1) - np.nanmin(ys, -1)                          # (C, F) px
    pct = 100 * e / height[..., None]
    body = np.zeros(len(names), bool)
    body[[names.index(n) for n in BODY12]] = True
    rows = []
    for label, sel in (("all 33", np.ones_like(body)), ("body 12", body)):
        for vlabel, v in (("visible", vis), ("occluded", ~vis)):
            m = v & sel[None, None]
            rows.append((label, vlabel, int(m.sum()), float(np.nanmean(e[m])),
                         float(np.nanmedian(e[m])), float(np.nanmean(pct[m])),
                         float(np.isnan(e[m]).mean() * 100)))
    return rows


def keypoint_rows(det, truth: dict, points: dict) -> list:
    """Per keypoint: the detector's 2D error on visible views (median px), its bias (the
    median 2D offset per camera, length averaged over the cameras, px: close to the median
    error when the offset is the same in every frame, i.e. the truth is defined elsewhere
    than where the detector means the point; small when the error is noise), and the 3D error
    (mean, mm) of each method in ``points`` (label -> (F, K, 3) metres)."""
    names = get_format(FMT).joint_names
    xy_t, vis = truth[f"xy_{FMT}"][:, :, 0], truth[f"visible_{FMT}"][:, :, 0]
    d = np.where(vis[..., None], det.xy[:, :, 0] - xy_t, np.nan)           # (C, F, K, 2)
    with warnings.catch_warnings():             # a keypoint a camera never sees: NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        err = np.nanmedian(np.linalg.norm(d, axis=-1).reshape(-1, len(names)), 0)
        bias = np.nanmean(np.linalg.norm(np.nanmedian(d, axis=1), axis=-1), 0)  # (K,)
    gt = truth[f"xyz_{FMT}"][:, 0]
    e3 = {label: 1000 * np.nanmean(np.linalg.norm(xyz - gt, axis=-1), 0)
          for label, xyz in points.items()}
    return [(n, err[k], bias[k], [e3[label][k] for label in points])
            for k, n in enumerate(names)]


def print_keypoint_table(rows: list, labels) -> None:
    print("\n| keypoint | 2D median error px | 2D bias px | "
          + " | ".join(f"{lab} 3D mm" for lab in labels) + " |")
    print("| --- | ---: | ---: | " + " | ".join("---:" for _ in labels) + " |")
    for n, err, bias, e3 in rows:
        print(f"| {n} | {err:.2f} | {bias:.2f} | " + " | ".join(f"{v:.1f}" for v in e3) + " |")


def fitted_keypoints(points, det, rig, settings) -> np.ndarray:
    """The fit stage (``[fit]``: Anny, the reprojection term on the detections) on filtered
    keypoints: the fitted body's keypoints (F, K, 3), metres. Beware: the rendered actor is
    an Anny body too, so the fit's shape space holds the truth's shape exactly."""
    from mocap.fit import fit_points3d
    from mocap.app.bodies import body_model_for
    return fit_points3d(points, settings.fit, body_model_for(settings.fit), det,
                        rig)[0].body.keypoints


def method_rows(rig, det, truth, settings, fps) -> tuple[list, dict]:
    """3D rows for ours and the peers; seconds per method."""
    from mocap.settings import TriangulateSettings
    names = list(get_format(FMT).joint_names)
    gt = truth[f"xyz_{FMT}"][:, 0]
    rows, secs, points = [], {}, {}
    ours = {"ours algebraic": TriangulateSettings(view_selection="all"),
            "ours robust": TriangulateSettings(),
            "ours volumetric": TriangulateSettings(method="volumetric")}
    filtered = {}
    for label, ts in ours.items():
        pts, dt = timed(lambda: triangulate(det, rig, ts))
        filt, dtf = timed(lambda: filter_points(pts, settings.filter, rig))
        secs[label] = dt
        secs[label + " + filter"] = dtf
        points[label], filtered[label] = pts.xyz[:, 0], filt
        rows.append((label, scores(pts.xyz[:, 0], gt, names),
                     scores(filt.xyz[:, 0], gt, names)))
    for label in ("ours robust", "ours volumetric"):
        kp, dt = timed(lambda: fitted_keypoints(filtered[label], det, rig, settings))
        secs[label + " + filter + fit"] = dt
        points[label + " + fit"] = kp
        rows.append((label + " + fit (body keypoints)", scores(kp, gt, names),
                     scores(kp, gt, names)))
    # [fit] parts_once: each rigid part (the face's 11 points, a hand, a foot) counted once
    once = replace(settings, fit=replace(settings.fit, parts_once=True))
    label = "ours volumetric + fit, parts once"
    kp, dt = timed(lambda: fitted_keypoints(filtered["ours volumetric"], det, rig, once))
    secs[label] = dt
    points[label] = kp
    rows.append((label + " (body keypoints)", scores(kp, gt, names), scores(kp, gt, names)))
    for label, ransac in (("aniposelib triangulate", False),
                          ("aniposelib triangulate_ransac", True)):
        raw, dt = timed(lambda: peer_points(rig, det.xy[:, :, 0], det.conf[:, :, 0], ransac))
        filt, dtf = timed(lambda: butterworth_zero_phase(raw, 6.0, fps, order=4))
        secs[label] = dt
        secs[label + " + Butterworth 6 Hz"] = dtf
        points[label] = raw
        rows.append((label, scores(raw, gt, names), scores(filt, gt, names)))
    return rows, secs, points


PEER = "peer: BlazePose Full on truth boxes + aniposelib triangulate"


def peer_method(root: Path, rig, truth: dict, fps: float) -> tuple:
    """The peer of issue 16 (``pixels_peer``): its 2D (a detections-like object for
    :func:`detector_rows`), its row, seconds and 3D points (F, K, 3)."""
    from types import SimpleNamespace
    xy_t = truth[f"xy_{FMT}"][:, :, 0]
    (xy, conf), t_det = timed(lambda: blazepose_on_truth_boxes(root, rig, xy_t, xy_t.shape[1]))
    raw, dt = timed(lambda: peer_points(rig, xy, conf, ransac=False))
    filt = butterworth_zero_phase(raw, 6.0, fps, order=4)
    gt, names = truth[f"xyz_{FMT}"][:, 0], list(get_format(FMT).joint_names)
    det = SimpleNamespace(xy=xy[:, :, None], conf=conf[:, :, None])
    secs = {"peer: detect (BlazePose Full on truth boxes, 1 thread)": t_det,
            "peer: aniposelib triangulate": dt}
    return det, (PEER, scores(raw, gt, names), scores(filt, gt, names)), secs, raw


def print_ratios(rows: list) -> None:
    """Our MPJPE (raw, all keypoints) over each peer's: aniposelib triangulate on our
    detections, and the peer pipeline on its own 2D."""
    mpjpe = dict((label, r["mpjpe"]) for label, r, _ in rows)
    for peer, name in (("aniposelib triangulate", "aniposelib triangulate's (our detections)"),
                       (PEER, "the peer pipeline's (BlazePose Full on truth boxes + "
                              "aniposelib triangulate)")):
        if peer in mpjpe:
            print(f"\nMPJPE raw over {name}: " + ", ".join(
                f"{label} {v / mpjpe[peer]:.2f} x" for label, v in mpjpe.items()
                if label.startswith("ours")))


def print_detector_table(detector: str, det_rows: list) -> None:
    print(f"\n| detector ({detector}) | joints | n | mean px | median px | % of height | missed % |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for label, v, n, m, med, pct, miss in det_rows:
        print(f"| {label} | {v} | {n} | {m:.2f} | {med:.2f} | {pct:.2f} | {miss:.1f} |")


def print_tables(title, det_rows, rows, secs, detector: str) -> None:
    print(f"\n## {title}")
    print_detector_table(detector, det_rows)
    print("\n(angle errors after filtering)\n")
    print("| method | MPJPE raw mm | PA-MPJPE mm | body mm | MPJPE filtered mm | body filtered mm "
          "| knee RMS deg | hip RMS deg | elbow RMS deg | shoulder RMS deg | reconstructed % |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, r, f in rows:
        print(f"| {label} | {r['mpjpe']:.1f} | {r['pa']:.1f} | {r['body']:.1f} | {f['mpjpe']:.1f} "
              f"| {f['body']:.1f} | {f['knee']:.2f} | {f['hip']:.2f} | {f['elbow']:.2f} "
              f"| {f['shoulder']:.2f} | {100 * r['cover']:.1f} |")
    print("\n| stage | seconds |\n| --- | ---: |")
    for k, v in secs.items():
        print(f"| {k} | {v:.2f} |")


def crossing_table(root: Path, truth: dict) -> None:
    """`mocap run` (association, tracking, triangulation, filter) on a take of several
    actors: per actor, the frames it is in view (body keypoints visible in two or more
    cameras), those where a reconstructed person lies within 100 mm of it (body MPJPE, people
    matched per frame by the Hungarian method), identity switches (the matched person changes
    between consecutive reconstructed frames), and its body MPJPE."""
    from scipy.optimize import linear_sum_assignment

    from mocap.app.pipeline import run
    from mocap.types import Points3D
    # the per-camera detection files know the video and the settings, not the code: redo
    shutil.rmtree(root / "out" / "detect", ignore_errors=True)
    text = (root / "session.toml").read_text()
    if "[fit]" not in text:
        (root / "session.toml").write_text(text + '\n[fit]\nenabled = false\n\n[export]\n'
                                           'formats = ["trc"]\n')
    _, dt = timed(lambda: run(root, force=True))   # every stage with this code (the stage
    names = list(get_format(FMT).joint_names)       # records do not know the code changed)
    body = [names.index(n) for n in BODY12]
    gt = truth[f"xyz_{FMT}"][:, :, body]                                   # (F, A, 12, 3)
    in_view = (truth[f"visible_{FMT}"][..., body].sum(-1) >= 4).sum(0) >= 2   # (F, A)
    pred = Points3D.load(root / "out" / "points3d.npz").xyz[:, :, body]    # (F, Q, 12, 3)
    F, A = in_view.shape
    match = np.full((F, A), -1)
    err = np.full((F, A), np.nan)
    for f in range(F):
        cost = np.nanmean(np.linalg.norm(gt[f][:, None] - pred[f][None], axis=-1), -1)
        cost = np.where(np.isfinite(cost), cost, 1e3)
        rows, cols = linear_sum_assignment(cost)
        for a, q in zip(rows, cols):
            if cost[a, q] < 0.1:
                match[f, a], err[f, a] = q, cost[a, q]
    print(f"\n| actor | frames in view | reconstructed % | identity switches | body MPJPE mm |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for a in range(A):
        m = match[:, a][in_view[:, a]]
        ok = m[m >= 0]
        switches = int((ok[1:] != ok[:-1]).sum())
        print(f"| {a} | {int(in_view[:, a].sum())} | {100 * (m >= 0).mean():.1f} | {switches} "
              f"| {1000 * np.nanmean(err[:, a]):.1f} |")
    both = in_view.all(1)
    print(f"\nframes with every actor in view: {int(both.sum())}; every actor reconstructed in "
          f"{100 * (match[both] >= 0).all(1).mean():.1f} % of them; people reconstructed: "
          f"{pred.shape[1]}; `mocap run` took {dt:.1f} s")
    sync = json.loads((root / "out" / "sync.json").read_text())
    print(f"sync: offsets applied {sync['offsets']}, estimated {sync['estimated']} "
          f"(the cameras are synchronous: 0 is true)")


def studio_day_table(root: Path) -> None:
    """`mocap calibrate` on the rendered board, scored against the true rig after the best
    similarity (camera centres), then the capture run through that calibration, its
    keypoints mapped back by the same similarity and scored."""
    from calibration import Rig
    from calibration.rotations import rotmat_to_rotvec
    from mocap.app.cli import main as mocap_main
    from mocap.app.pipeline import run
    from mocap.types import Points3D
    truth = Rig.load(root / "calibration_truth.toml")
    _, t_cal = timed(lambda: mocap_main(["calibrate", str(root)]))
    est = Rig.load(root / "calibration.toml")
    ce = np.stack([c.center for c in est])
    ct = np.stack([c.center for c in truth])
    T, scale = similarity_from_points(ce, ct)
    R = T[:3, :3]
    print("\n| camera | centre error mm | rotation error deg | focal error % |")
    print("| --- | ---: | ---: | ---: |")
    for a, b, x in zip(est, truth, ce):
        c_err = 1000 * np.linalg.norm(scale * R @ x + T[:3, 3] - b.center)
        # world_from_cam of the estimate, mapped into the true world
        R_world = R @ a.R_cam_from_world.T
        r_err = np.degrees(np.linalg.norm(rotmat_to_rotvec(b.R_cam_from_world @ R_world)))
        f_err = 100 * (a.K[0, 0] / b.K[0, 0] - 1)
        print(f"| {a.name} | {c_err:.1f} | {r_err:.3f} | {f_err:+.2f} |")
    print(f"\nscale of the calibrated rig against the truth: {scale:.5f}; "
          f"`mocap calibrate` took {t_cal:.1f} s")
    text = (root / "session.toml").read_text().split("\n[fit]")[0].rstrip()
    (root / "session.toml").write_text(text + '\n\n[fit]\nenabled = true\n\n[export]\n'
                                       'formats = ["bvh", "trc"]\n')
    _, t_run = timed(lambda: run(root, force=True))
    print(f"\n`mocap run` (detect to export, the fit included) took {t_run:.1f} s\n")
    capture_rows(root, lambda xyz: scale * xyz @ R.T + T[:3, 3])


def capture_rows(root: Path, to_truth) -> None:
    """The capture of a studio day scored through its calibration: keypoints raw and
    filtered, the fitted body (its joints and its keypoints), and the files written (BVH
    joints read back, TRC markers read back); ``to_truth`` maps (..., 3) points of the
    calibrated world into the true one (the similarity between the rigs)."""
    from exporters.bvh import read_bvh
    from exporters.trc import read_trc
    from mocap.body.anny_model import ANNY_CANONICAL
    from mocap.body.motion import BodyMotion
    from mocap.types import Points3D
    gt = dict(np.load(root / "gt.npz"))
    names = list(get_format(FMT).joint_names)
    truth_kp = gt[f"xyz_{FMT}"][:, 0]
    canon = [ANNY_CANONICAL[j] for j in gt["fitted_joints"]]
    truth_joints = gt["joints"][:, 0]                                       # (F, Jb, 3)
    out = root / "out"
    print("| output | MPJPE mm | body mm | PA-MPJPE mm | knee RMS deg | hip RMS deg |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    body = BodyMotion.load(out / "person0" / "body.npz")
    kp_rows = [("keypoints raw", Points3D.load(out / "points3d_raw.npz").xyz[:, 0]),
               ("keypoints filtered", Points3D.load(out / "points3d.npz").xyz[:, 0]),
               ("fitted body: its keypoints", body.keypoints)]
    trc = read_trc(out / "person0.trc")
    order = [list(trc.marker_names).index(n) for n in get_format(FMT).native_names]
    kp_rows.append(("TRC markers (read back)", trc.xyz[:, order]))
    for label, xyz in kp_rows:
        sc = scores(to_truth(xyz), truth_kp, names)
        print(f"| {label} | {sc['mpjpe']:.1f} | {sc['body']:.1f} | {sc['pa']:.1f} "
              f"| {sc['knee']:.2f} | {sc['hip']:.2f} |")
    skel, motion = read_bvh(out / "person0.bvh")
    bvh = motion.positions(skel)
    joint_rows = [("fitted body: its joints", to_truth(body.joints), canon)]
    on = [skel.joint_names.index(c) for c in canon if c in skel.joint_names]
    joint_rows.append(("BVH joints (read back, feet locked)", to_truth(bvh[:, on]),
                       [c for c in canon if c in skel.joint_names]))
    for label, xyz, have in joint_rows:
        t = truth_joints[:, [canon.index(c) for c in have]]
        e = 1000 * np.linalg.norm(xyz - t, axis=-1)
        print(f"| {label} ({len(have)} joints) | {np.nanmean(e):.1f} | | "
              f"{pa_mpjpe_mm(xyz, t):.1f} | | |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rig", default="studio4")
    ap.add_argument("--motion", default="walk")
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--width", type=int, default=480)
    ap.add_argument("--engine", default="cycles", choices=("workbench", "cycles"))
    ap.add_argument("--samples", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model", default="", choices=("", "heavy", "full", "lite"),
                    help="BlazePose landmark model (default: the session's, heavy)")
    ap.add_argument("--no-flip", action="store_true", help="no mirrored second pass")
    ap.add_argument("--plain-face", action="store_true",
                    help="the actor's face unpainted (plain skin: no eyes, brows or lips), "
                         "as takes were rendered before")
    ap.add_argument("--studio-day", type=int, default=0, metavar="FRAMES",
                    help="also render a board carried through the scene (FRAMES views), "
                         "calibrate from it and score the rig and the capture")
    ap.add_argument("--actors", type=int, default=1,
                    help="2: two actors crossing (scored through `mocap run`)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    spec = RenderSpec(rig=args.rig, motion=args.motion, frames=args.frames, format=FMT,
                      seed=args.seed, actors=args.actors, width_px=args.width,
                      engine=args.engine, samples=args.samples, face=not args.plain_face)
    if args.studio_day:
        from mocap.app.render_session import render_studio_day
        root = cache_dir() / "bench" / "pixels" / f"day-{args.width}-{args.frames}-{args.studio_day}"
        if not (root / "calibration_truth.toml").is_file():
            render_studio_day(spec, root, args.studio_day)
        else:
            refresh_truth(root)
            if not (root / "calibration" / "floor").is_dir():      # a day rendered before
                from mocap.app.render_session import write_floor_board_images
                from mocap.simulate import load_rig_template
                from mocap.simulate.render import scale_rig
                write_floor_board_images(root, scale_rig(load_rig_template(args.rig),
                                                         args.width), spec)
        print(f"\n## studio day: {args.rig}, {args.width} px, {args.studio_day} board views, "
              f"{args.frames} capture frames, {args.engine}")
        studio_day_table(root)
        return
    root, t_render = make_session(spec)
    if args.actors > 1:
        print(f"\n## {args.actors} actors crossing: {args.rig}, {args.width} px, {args.frames} "
              f"frames, {args.engine} (render {t_render:.0f} s)")
        crossing_table(root, dict(np.load(root / "gt.npz")))
        return
    session = Session(root)
    rig, settings = session.rig(), session.settings()
    detect = replace(settings.detect, workers=1, **({"model": args.model} if args.model else {}),
                     **({"flip": False} if args.no_flip else {}))
    settings = replace(settings, detect=detect)
    detector = f"BlazePose {detect.model or 'heavy'}" + (" + mirrored pass" if detect.flip else "")
    det, t_det = timed(lambda: detect_session(root, rig.names, settings, workers=1, rig=rig))
    truth = dict(np.load(root / "gt.npz"))
    rows, secs, points = method_rows(rig, det, truth, settings, spec.fps)
    peer_det, peer_row, peer_secs, points[PEER] = peer_method(root, rig, truth, spec.fps)
    rows.append(peer_row)
    secs = {"render (Blender; nan: cached)": t_render, f"detect ({detector}, 1 worker)": t_det,
            **secs, **peer_secs}
    title = (f"{args.rig}, {len(rig)} cameras at {args.width} px, {args.motion}, "
             f"{args.frames} frames at {spec.fps:g} fps, {args.engine}"
             + (f" {args.samples} spp" if args.engine == "cycles" else "")
             + (", plain face" if args.plain_face else ", painted face"))
    print_tables(title, detector_rows(det, truth), rows, secs, detector)
    print_detector_table("peer: BlazePose Full on truth boxes, no mirrored pass",
                         detector_rows(peer_det, truth))
    print_ratios(rows)
    print_keypoint_table(keypoint_rows(det, truth, points), list(points))


if __name__ == "__main__":
    main()
