"""Body fitting: our whole-sequence fit against a frame-by-frame SMPLify-style fit, on studio
takes of the body model itself (Anny), so that the truth is known for keypoints, joint
rotations and shape.

Run:  .venv/bin/python benchmarks/fitting.py [--frames 150] [--speed-frames 1000]
                                              [--peer-every 10] [--threads 1]

Each take: the virtual studio (rig ``studio4``, the default detector error model, BODY_25)
films Anny moving through a motion; the detections are triangulated and filtered as ``mocap
run`` does; then both fitters see the same filtered keypoints and, with the weight of ``[fit]
reprojection_weight`` (default settings), the same 2D detections.

* ours (``mocap.fit.fit_sequence``): one shape for the take, pose and translation per frame,
  all frames optimised together, with temporal smoothness.
* peer: frame-by-frame SMPLify-style fitting with the same losses (robust keypoints, pose
  prior, joint limits, shape prior) and the same stages, each frame alone (its own shape, no
  temporal term), as SMPLify and its video variants run per image; to bound the run time it
  fits every ``--peer-every``-th frame, and ours is scored on those same frames too.

Measured against the truth: keypoint MPJPE (mm), joint rotation error (mean geodesic angle
over the fitted joints, root included, degrees), knee/hip/elbow flexion RMS (degrees, from
joint positions), height error (rest mesh, mm; the peer: the mean of its per-frame heights).
Speed: frames per second of a ``--speed-frames`` walk on one torch thread, wall clock and per
CPU second of the process (the second is what an idle core would give; on a shared machine
the wall clock is slower), with the peer's rate measured in the same run.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from mocap.body import keypoint_layer, load_body_model, rest_height  # noqa: E402
from mocap.body.metrics import (flexion_rms_deg, keypoint_mpjpe_mm,  # noqa: E402
                                rotation_error_deg)
from mocap.fit import DEFAULT_STAGES, fit_sequence, prepare_data, views_from  # noqa: E402
from mocap.filter import filter_points  # noqa: E402
from mocap.settings import Settings  # noqa: E402
from mocap.simulate import ErrorModel, load_rig_template  # noqa: E402
from mocap.simulate.bodymodel import BodyActor, simulate_body_take  # noqa: E402
from mocap.triangulate import triangulate  # noqa: E402

FPS = 30.0
FMT = "body25"
MOTIONS = ("walk", "jog_circle", "squat", "jumping_jacks", "turn", "bend_and_reach")
PEER_STAGES = tuple(replace(s, weights={k: v for k, v in s.weights.items() if k != "smooth"})
                    for s in DEFAULT_STAGES)


def studio_take(model, motion: str, frames: int, seed: int):
    """(BodyTake, filtered Points3D, rig) of one take."""
    rig = load_rig_template("studio4")
    bt = simulate_body_take(rig, model, [BodyActor(motion, seed=seed)], frames, FPS, FMT,
                            ErrorModel(), seed=seed + 100)
    s = Settings()
    points = filter_points(triangulate(bt.take.detections, rig, s.triangulate), s.filter, rig)
    return bt, points, rig


def views_and_weights(layer, bt, rig):
    """The 2D views and extra loss weights ``mocap run`` gives the fit (default settings)."""
    w = Settings().fit.reprojection_weight
    if not w:
        return None, None
    return (views_from(bt.take.detections, rig, 0, FMT, layer.device, layer.dtype),
            {"reprojection": w})


def frame_views(views, f: int):
    """The views of frame f alone (the per-frame peer)."""
    return None if views is None else replace(views, xy=views.xy[:, f:f + 1],
                                              conf=views.conf[:, f:f + 1])


def score(model, bt, frames, keypoints, joints, rotations, heights) -> dict:
    take = bt.take
    gt_R = np.concatenate([take.gt_root_R[frames, 0, None], take.gt_local_R[frames, 0]], 1)
    flex = flexion_rms_deg(model, joints, rotations[:, 0], take.gt_joints[frames, 0],
                           take.gt_root_R[frames, 0])
    return {"mpjpe": keypoint_mpjpe_mm(keypoints, take.gt_xyz[frames, 0]),
            "rot": float(rotation_error_deg(rotations, gt_R).mean()), **flex,
            "height": float(np.mean(np.abs(np.asarray(heights) - bt.heights_m[0]))) * 1000}


def fit_ours(layer, points, views=None, extra=None):
    data = prepare_data(layer, points.xyz[:, 0], points.conf[:, 0], FPS, views)
    t0, c0 = time.perf_counter(), time.process_time()
    res = fit_sequence(layer, data, extra_weights=extra)
    return res, time.perf_counter() - t0, time.process_time() - c0


def fit_peer(layer, points, frames, views=None, extra=None):
    """Frame-by-frame: each frame its own problem (F = 1), same losses minus smoothness."""
    kp, joints, rots, heights = [], [], [], []
    t0, c0 = time.perf_counter(), time.process_time()
    for f in frames:
        data = prepare_data(layer, points.xyz[f:f + 1, 0], points.conf[f:f + 1, 0], FPS,
                            frame_views(views, f))
        r = fit_sequence(layer, data, stages=PEER_STAGES, extra_weights=extra)
        kp.append(r.keypoints[0])
        joints.append(r.joints[0])
        rots.append(r.rotations[0])
        heights.append(rest_height(layer.model, r.betas))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return (np.stack(kp), np.stack(joints), np.stack(rots), heights), wall, cpu


def row(take, method, n, s, fps) -> str:
    return (f"| {take:<14} | {method:<10} | {n:>5} | {s['mpjpe']:6.1f} | {s['rot']:5.2f} | "
            f"{s['knee']:5.2f} | {s['hip']:5.2f} | {s['elbow']:5.2f} | {s['height']:6.1f} | "
            f"{fps} |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=150, help="frames per accuracy take")
    ap.add_argument("--speed-frames", type=int, default=1000, help="frames of the speed take")
    ap.add_argument("--peer-every", type=int, default=10, help="the peer fits every n-th frame")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--motions", default=",".join(MOTIONS))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    load0 = os.getloadavg()[0]
    model = load_body_model("anny")
    layer = keypoint_layer(model, FMT)
    head = ("| take           | method     | frames | MPJPE mm | rot deg | knee | hip  | elbow | "
            "height mm | frames/s |")
    lines = [head.replace("frames |", "frames |", 1),
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    totals = {"ours": [], "peer": []}
    for motion in args.motions.split(","):
        # the seed follows the motion, so that --motions runs reproduce the full table's rows
        seed = MOTIONS.index(motion) + 1 if motion in MOTIONS else len(MOTIONS) + 1
        bt, points, rig = studio_take(model, motion, args.frames, seed=seed)
        views, extra = views_and_weights(layer, bt, rig)
        gt = bt.take.gt_xyz[:, 0]
        res, wall, _ = fit_ours(layer, points, views, extra)
        every = np.arange(0, args.frames, args.peer_every)
        peer, p_wall, _ = fit_peer(layer, points, every, views, extra)
        h = rest_height(model, res.betas)
        ours_all = score(model, bt, slice(None), res.keypoints, res.joints, res.rotations, [h])
        ours_sub = score(model, bt, every, res.keypoints[every], res.joints[every],
                         res.rotations[every], [h])
        peer_sub = score(model, bt, every, *peer)
        lines.append(f"| {motion:<14} | input      | {args.frames:>5} | "
                     f"{keypoint_mpjpe_mm(points.xyz[:, 0], gt):6.1f} | triangulated + filtered "
                     f"keypoints | | | | | |")
        lines.append(row(motion, "ours", args.frames, ours_all, f"{args.frames / wall:6.1f}"))
        lines.append(row(motion, "ours", len(every), ours_sub, ""))
        lines.append(row(motion, "per-frame", len(every), peer_sub,
                         f"{len(every) / p_wall:6.2f}"))
        totals["ours"].append(ours_all)
        totals["peer"].append(peer_sub)
        print(f"  {motion}: done", file=sys.stderr, flush=True)
    for method, rows in totals.items():
        mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
        lines.append(row("mean", method, 0, mean, "").replace("|     0 |", "|       |"))
    # speed: a long walk, both fitters in the same run
    bt, points, rig = studio_take(model, "walk", args.speed_frames, seed=99)
    views, extra = views_and_weights(layer, bt, rig)
    res, wall, cpu = fit_ours(layer, points, views, extra)
    sub = np.arange(0, args.speed_frames, max(1, args.speed_frames // 30))
    _, p_wall, p_cpu = fit_peer(layer, points, sub, views, extra)
    ours_fps, peer_fps = args.speed_frames / wall, len(sub) / p_wall
    speed = [
        f"speed, {args.speed_frames}-frame walk, {args.threads} torch thread(s), "
        f"load average {load0:.1f} -> {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores:",
        f"  ours      {wall:6.1f} s wall = {ours_fps:6.1f} frames/s; "
        f"{cpu:6.1f} CPU s = {args.speed_frames / cpu:6.1f} frames per CPU second",
        f"  per-frame {p_wall:6.1f} s wall for {len(sub)} frames = {peer_fps:6.2f} frames/s; "
        f"{len(sub) / p_cpu:6.2f} frames per CPU second",
        f"  ratio ours / per-frame: {ours_fps / peer_fps:5.1f}x (wall), "
        f"{(args.speed_frames / cpu) / (len(sub) / p_cpu):5.1f}x (CPU)",
        f"  accuracy of the long walk (ours): MPJPE "
        f"{keypoint_mpjpe_mm(res.keypoints, bt.take.gt_xyz[:, 0]):.1f} mm"]
    print("\n".join(lines))
    print()
    print("\n".join(speed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
