"""Biomechanics: joint-angle errors of OpenSim IK from our keypoints and of our body-fit
angles, on studio takes of the body model (Anny), whose true joint rotations are known.

Run:  .venv/bin/python benchmarks/biomechanics.py [--frames 90] [--motions walk,jog_circle,squat]
                                                  [--speed-frames 300]

Each take: the virtual studio (rig ``studio4``, the default detector error model, BODY_25)
films Anny; the detections are triangulated and filtered as ``mocap run`` does. Then:

* IK (ours): ``mocap.opensim.solve_people`` on the filtered keypoints: Pose2Sim's model and
  BODY_25 marker set, scaled from the upright frames, OpenSim's InverseKinematicsTool.
* IK (body): ``[opensim] markers = "body"``: virtual markers on our fitted body
  (``mocap.opensim.virtual``: six on the pelvis, three or four per limb segment), the model
  scaled to the body with its joint centres on the body's and its markers placed from the
  body's neutral pose (``mocap.opensim.placement``), then the same InverseKinematicsTool.
* body fit: ``mocap.fit.fit_sequence`` (default settings, with the 2D views as ``mocap run``),
  angles by ``mocap.body.joint_angles.isb_angles_deg``.
* IK (Pose2Sim): Pose2Sim's own triangulation and Butterworth filtering
  (``benchmarks/pose2sim_peer.py``: run from the pinned ``pose2sim==0.10.49`` wheel on the
  same 2D detections), then the same IK as ours, so that the two IK rows differ only in the
  keypoints.

Truth: the ISB angles of the true rotations (``isb_angles_deg`` of ``gt_root_R``,
``gt_local_R``), the same function the body-fit angles go through. OpenSim's coordinates are
defined on another skeleton, so the IK angles are compared after a static calibration, as a
lab references its angles to a standing trial: the same person (same shape) stands still in
the studio (motion ``stand``, noise-free keypoints; for IK (body) the virtual markers of the
true standing body), IK runs on it, and each coordinate's mean difference to the truth there
is its offset. The IK (body) offsets are printed too: OpenSim's zero is the body's neutral
pose there, so they are near zero. Signs: OpenSim's ``hip_flexion``,
``hip_adduction``, ``knee_angle`` and ``ankle_angle`` are positive in flexion, adduction,
knee flexion and dorsiflexion, as ours.

Errors (degrees), both sides pooled: RMS and max over frames, and range-of-motion error (the
mean over sides of |ROM measured - ROM true|). Speed: seconds of scaling and IK per 1,000
frames (OpenSim's tools, one person, one process), with the body fit's seconds per 1,000 frames measured in
the same run.
"""
from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from mocap.body import fitted_rotations, keypoint_layer, load_body_model  # noqa: E402
from mocap.body.joint_angles import isb_angles_deg  # noqa: E402
from mocap.filter import filter_points  # noqa: E402
from mocap.fit import fit_sequence, prepare_data, views_from  # noqa: E402
from mocap.opensim import read_sto, solve_people  # noqa: E402
from mocap.opensim.virtual import virtual_markers  # noqa: E402
from mocap.settings import Settings  # noqa: E402
from mocap.simulate import ErrorModel, load_rig_template  # noqa: E402
from mocap.simulate.bodymodel import (BodyActor, animate_body, body_keypoints,  # noqa: E402
                                      simulate_body_take)
from mocap.triangulate import triangulate  # noqa: E402
from pose2sim_peer import pose2sim_keypoints  # noqa: E402  (benchmarks/, on sys.path[0])

FPS = 30.0
FMT = "body25"
MOTIONS = ("walk", "jog_circle", "squat")
#: (label, our (joint, axis), OpenSim coordinate without its side suffix)
ANGLES = (("hip flexion", ("hip", "flexion"), "hip_flexion"),
          ("knee flexion", ("knee", "flexion"), "knee_angle"),
          ("ankle flexion", ("ankle", "flexion"), "ankle_angle"),
          ("hip adduction", ("hip", "adduction"), "hip_adduction"))
SIDES = (("left", "l"), ("right", "r"))


def studio_take(model, motion: str, frames: int, seed: int):
    """(BodyTake, filtered Points3D, rig) of one take, as ``mocap run`` makes them."""
    rig = load_rig_template("studio4")
    bt = simulate_body_take(rig, model, [BodyActor(motion, seed=seed)], frames, FPS, FMT,
                            ErrorModel(), seed=seed + 100)
    s = Settings()
    points = filter_points(triangulate(bt.take.detections, rig, s.triangulate), s.filter, rig)
    return bt, points, rig


def ik_angles(xyz: np.ndarray, folder: Path, virtual=None) -> dict:
    """{(label, side): (F,) degrees (NaN where not solved)} of IK on ``xyz`` (F, K, 3), or
    on the virtual markers ``virtual`` of a body."""
    solve_people(xyz[:, None], FMT, FPS, folder, Settings().opensim,
                 None if virtual is None else {0: virtual})
    _, labels, v = read_sto(folder / "person0" / "ik.mot")
    frames = np.rint(v[:, 0] * FPS).astype(int)
    out = {}
    for label, _, coord in ANGLES:
        for side, s in SIDES:
            a = np.full(len(xyz), np.nan)
            a[frames] = v[:, labels.index(f"{coord}_{s}")]
            out[(label, side)] = a
    return out


def truth_angles(model, root_R: np.ndarray, local_R: np.ndarray) -> dict:
    """{(label, side): (F,) degrees} of the true rotations."""
    ang = isb_angles_deg(model, root_R, local_R)
    return {(label, side): ang[(j, side, ax)] for label, (j, ax), _ in ANGLES
            for side, _ in SIDES}


def body_ik_angles(model, betas, rotations, transl, folder: Path) -> dict:
    """{(label, side): (F,) degrees} of IK on the virtual markers of a posed body."""
    vm = virtual_markers(model, betas, rotations, transl)
    return ik_angles(np.zeros((len(transl), 25, 3)), folder, vm)


def static_offsets(model, seed: int, folder: Path, body: bool = False) -> dict:
    """{(label, side): degrees} IK minus truth, mean over a noise-free standing trial of the
    same person (the static calibration, see the module docstring); ``body``: IK on the
    standing body's virtual markers."""
    anim = animate_body(model, BodyActor("stand", seed=seed), 30, FPS)
    if body:
        ik = body_ik_angles(model, anim["betas"], anim["rotations"], anim["transl"], folder)
    else:
        ik = ik_angles(body_keypoints(model, anim, FMT), folder)
    truth = truth_angles(model, anim["rotations"][:, 0], anim["rotations"][:, 1:])
    return {k: float(np.nanmean(ik[k] - truth[k])) for k in ik}


def body_fit_angles(model, bt, points, rig) -> tuple[dict, float, object]:
    """{(label, side): (F,) degrees} of our body fit, its seconds and the fit."""
    layer = keypoint_layer(model, FMT)
    w = Settings().fit.reprojection_weight
    views = views_from(bt.take.detections, rig, 0, FMT, layer.device, layer.dtype) if w else None
    data = prepare_data(layer, points.xyz[:, 0], points.conf[:, 0], FPS, views)
    t0 = time.perf_counter()
    res = fit_sequence(layer, data, extra_weights={"reprojection": w} if w else None)
    seconds = time.perf_counter() - t0
    return truth_angles(model, res.rotations[:, 0], res.rotations[:, 1:]), seconds, res


def errors(est: dict, truth: dict, label: str) -> tuple[float, float, float]:
    """(RMS, max, ROM error) degrees of one angle, both sides pooled."""
    d = np.concatenate([est[(label, s)] - truth[(label, s)] for s, _ in SIDES])
    d = d[np.isfinite(d)]
    rom = [abs(np.nanmax(est[(label, s)]) - np.nanmin(est[(label, s)])
               - (truth[(label, s)].max() - truth[(label, s)].min())) for s, _ in SIDES]
    return float(np.sqrt(np.mean(d ** 2))), float(np.abs(d).max()), float(np.mean(rom))


def take_rows(model, motion: str, frames: int, seed: int, work: Path) -> tuple[list, dict]:
    """The table rows of one take, and {method: {label: [rms]}} for the summary."""
    bt, points, rig = studio_take(model, motion, frames, seed)
    truth = truth_angles(model, bt.take.gt_root_R[:, 0], bt.take.gt_local_R[:, 0])
    offsets = static_offsets(model, seed, work / f"{motion}-static")
    ik = ik_angles(points.xyz[:, 0], work / f"{motion}-ik")
    ik = {k: v - offsets[k] for k, v in ik.items()}
    p2s_xyz = pose2sim_keypoints(bt.take.detections, rig, work / f"{motion}-pose2sim-project")
    p2s = ik_angles(p2s_xyz, work / f"{motion}-pose2sim-ik")
    p2s = {k: v - offsets[k] for k, v in p2s.items()}
    fit, _, res = body_fit_angles(model, bt, points, rig)
    body_offsets = static_offsets(model, seed, work / f"{motion}-static-body", body=True)
    bik = body_ik_angles(model, res.betas, res.rotations, res.transl, work / f"{motion}-bik")
    bik = {k: v - body_offsets[k] for k, v in bik.items()}
    print(f"{motion}: IK (body) static offsets (deg): " + ", ".join(
        f"{label} {side} {body_offsets[(label, side)]:+.2f}" for label, _, _ in ANGLES
        for side, _ in SIDES), flush=True)
    rows, pooled = [], {}
    for method, est in (("IK (ours)", ik), ("IK (body)", bik), ("IK (Pose2Sim)", p2s),
                        ("body fit", fit)):
        for label, _, _ in ANGLES:
            rms, mx, rom = errors(est, truth, label)
            pooled.setdefault(method, {}).setdefault(label, []).append(rms)
            rows.append(f"| {motion:<10} | {method:<13} | {label:<13} | {rms:5.2f} | {mx:5.2f} | "
                        f"{rom:5.2f} |")
    return rows, pooled


def speed(model, frames: int, work: Path) -> tuple[float, float, float]:
    """Seconds per 1,000 frames of IK from the keypoints, of the body fit and of IK from the
    body's virtual markers (markers, scaling and IK), on one walk."""
    bt, points, rig = studio_take(model, "walk", frames, 7)
    t0 = time.perf_counter()
    solve_people(points.xyz[:, :1], FMT, FPS, work / "speed", Settings().opensim)
    ik_s = time.perf_counter() - t0
    _, fit_s, res = body_fit_angles(model, bt, points, rig)
    t0 = time.perf_counter()
    body_ik_angles(model, res.betas, res.rotations, res.transl, work / "speed-body")
    body_s = time.perf_counter() - t0
    return 1000 * ik_s / frames, 1000 * fit_s / frames, 1000 * body_s / frames


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=90, help="frames per accuracy take")
    ap.add_argument("--speed-frames", type=int, default=300, help="frames of the speed take")
    ap.add_argument("--motions", default=",".join(MOTIONS))
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    model = load_body_model("anny")
    lines = ["| take       | method        | angle         | RMS deg | max deg | ROM err deg |",
             "|---|---|---|---:|---:|---:|"]
    pooled: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        for k, motion in enumerate(args.motions.split(",")):
            rows, p = take_rows(model, motion, args.frames, k + 1, Path(tmp))
            lines += rows
            for method, d in p.items():
                for label, v in d.items():
                    pooled.setdefault(method, {}).setdefault(label, []).extend(v)
            print("\n".join(rows), flush=True)
        ik_per_k, fit_per_k, body_per_k = speed(model, args.speed_frames, Path(tmp))
    lines.append("|---|---|---|---:|---:|---:|")
    for method, d in pooled.items():
        for label, v in d.items():
            lines.append(f"| all (mean) | {method:<13} | {label:<13} | {np.mean(v):5.2f} |   |   |")
    print()
    print("\n".join(lines))
    print(f"\nIK: {ik_per_k:.1f} s per 1000 frames (scaling and IK, OpenSim tools, one person); "
          f"body fit: {fit_per_k:.1f} s per 1000 frames; ratio fit/IK {fit_per_k / ik_per_k:.2f}; "
          f"IK (body): {body_per_k:.1f} s per 1000 frames (ratio to IK from keypoints "
          f"{body_per_k / ik_per_k:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
