"""Triangulation benchmark: accuracy (MPJPE against the virtual studio's ground truth) and
throughput of our algebraic, robust and volumetric methods against aniposelib's
``triangulate`` and ``triangulate_ransac``, a Pose2Sim-style exhaustive camera exclusion
(written here, after Pose2Sim 0.4's triangulation loop) and an oracle (the same weighted least
squares as ours, told which detections the simulator corrupted).

Everything runs on one CPU core (thread pools pinned to 1 before numpy and torch load), so
throughputs are comparable; slow peers run on as many frames as fit their time budget, and
the table says how many. Run:  .venv/bin/python benchmarks/triangulation.py [--quick]
"""
from __future__ import annotations

import os
import sys

# Run as a script, this folder comes first on sys.path, where other benchmarks are named like
# the packages (calibration.py); import the packages, not them.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS",
           "XLA_FLAGS"):
    os.environ.setdefault(_v, "1" if _v != "XLA_FLAGS" else
                          "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import argparse  # noqa: E402
import itertools  # noqa: E402
import logging  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from mocap.evaluate import joint_errors_mm  # noqa: E402
from mocap.settings import TriangulateSettings  # noqa: E402
from mocap.simulate import Actor, ErrorModel, load_rig_template, simulate_take  # noqa: E402
from mocap.triangulate import (triangulate, triangulate_points,  # noqa: E402
                               undistort_detections)

torch.set_num_threads(1)
log = logging.getLogger("benchmark")
MIN_CONF = 0.2
THRESHOLD_PX = 15.0


def flat(take):
    """Detections as (N, C, 2) pixels and (N, C) confidences, N = F * P * J, and the truth."""
    det = take.detections
    C = det.shape[0]
    xy = np.moveaxis(det.xy, 0, 3).reshape(-1, C, 2)
    conf = np.moveaxis(det.conf, 0, 3).reshape(-1, C).astype(float)
    return xy, conf, take.gt_xyz.reshape(-1, 3)


def corrupted(take, rig):
    """(N, C) bool: detections the simulator made outliers or put in a swapped view."""
    F, P, J = take.gt_xyz.shape[:3]
    out = np.stack([take.truth[c]["outlier"] | take.truth[c]["swapped"][..., None]
                    for c in rig.names], -1)
    return out.reshape(F * P * J, len(rig))


def mpjpe(pred, gt):
    e = joint_errors_mm(pred, gt)
    return float(np.nanmean(e)), float(np.isfinite(e).mean())


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


# ----------------------------------------------------------------------------- peers

def anipose_group(rig):
    from aniposelib.cameras import CameraGroup  # lazy: turns on jax 64-bit globally
    with tempfile.TemporaryDirectory() as tmp:
        rig.save(Path(tmp) / "calib.toml")
        return CameraGroup.load(str(Path(tmp) / "calib.toml"))


def anipose_points(xy, conf):
    """aniposelib wants (C, N, 2) with NaN for missing; detections below MIN_CONF are dropped
    as for every method here."""
    pts = np.where((conf >= MIN_CONF)[..., None], xy, np.nan)
    return np.ascontiguousarray(np.moveaxis(pts, 1, 0))


def ransac_budget(group, pts, budget_s):
    """aniposelib's ``triangulate_ransac`` (it tries every subset of cameras, 2^C per point) on
    as many points as fit the time budget: a probe on 2 points sets the rate, then one batch.
    Returns (points (n, 3), seconds of the timed calls, n)."""
    group.triangulate_ransac(pts[:, :1], progress=False)                     # warm-up
    probe, t_probe = timed(lambda: group.triangulate_ransac(pts[:, :2], progress=False)[0])
    n = int(min(pts.shape[1], max(2, budget_s / max(t_probe / 2, 1e-9))))
    if n <= 2:
        return probe, t_probe
    out, dt = timed(lambda: group.triangulate_ransac(pts[:, :n], progress=False)[0])
    return out, dt


def _dlt_svd(P, xy, w):
    """Pose2Sim's weighted DLT on one point: P (k, 3, 4), xy (k, 2) pixels undistorted, w (k,)."""
    A = np.concatenate([(xy[:, 0:1] * P[:, 2] - P[:, 0]) * w[:, None],
                        (xy[:, 1:2] * P[:, 2] - P[:, 1]) * w[:, None]])
    _, _, vt = np.linalg.svd(A)
    X = vt[-1]
    return X[:3] / X[3]


def pose2sim_exhaustive(rig, xy, conf, budget_s, min_cams=2):
    """Pose2Sim-style: triangulate with every camera; while the mean reprojection error is
    above the threshold, try every subset with one more camera excluded, keep the best.
    Per point, in Python, as Pose2Sim does. Returns (N', 3) for the first N' points that fit
    the time budget."""
    xy_n, _ = undistort_detections(rig, xy)
    K = np.stack([c.K for c in rig])
    xy_u = np.einsum("cij,ncj->nci", K[:, :2, :2], xy_n) + K[:, :2, 2]     # undistorted px
    P = rig.P
    out = []
    t0 = time.perf_counter()
    for n in range(len(xy)):
        if out and time.perf_counter() - t0 > budget_s:
            break
        cams = np.flatnonzero((conf[n] >= MIN_CONF) & np.isfinite(xy_u[n]).all(-1))
        best = (np.inf, np.full(3, np.nan))
        for k in range(len(cams), min_cams - 1, -1):
            best = (np.inf, np.full(3, np.nan))
            for sub in itertools.combinations(cams, k):
                s = list(sub)
                X = _dlt_svd(P[s], xy_u[n, s], conf[n, s])
                proj = P[s] @ np.append(X, 1.0)
                err = np.linalg.norm(proj[:, :2] / proj[:, 2:] - xy_u[n, s], axis=-1).mean()
                if err < best[0]:
                    best = (err, X)
            if best[0] <= THRESHOLD_PX:
                break
        out.append(best[1] if best[0] <= THRESHOLD_PX else np.full(3, np.nan))
    return np.array(out).reshape(-1, 3)


# ----------------------------------------------------------------------------- scenes

def scene(rig_name, frames, model, seed, heatmaps=True):
    rig = load_rig_template(rig_name)
    actor = Actor("walk" if rig_name != "dome16" else "jog_circle", seed=seed)
    take = simulate_take(rig, [actor], frames, 30.0, "body25", model, seed=seed,
                         heatmaps=heatmaps)
    return rig, take


def run_scene(label, rig, take, budget_s, slow_frames, rows, peers=True):
    xy, conf, gt = flat(take)
    N = len(xy)
    J = take.gt_xyz.shape[2]
    det = take.detections

    def add(method, pred, seconds, n_points):
        m, cov = mpjpe(pred, gt[:len(pred)])
        log.warning("%s | %s: %.2f mm, %.1f s", label, method, m, seconds)
        rows.append((label, method, m, 100 * cov, n_points / seconds, len(pred)))

    s_alg = TriangulateSettings(view_selection="all")
    # Warm-up: lens lookup maps are built once per camera (state, like aniposelib's group).
    triangulate(det, rig)
    r, dt = timed(lambda: triangulate_points(rig, xy, conf, s_alg))
    add("ours algebraic (weighted DLT)", r.xyz, dt, N)
    p, dt = timed(lambda: triangulate(det, rig, TriangulateSettings()))
    add("ours robust (+ swap repair)", p.xyz.reshape(-1, 3), dt, N)
    if det.heatmaps is not None:
        v, dt = timed(lambda: triangulate(det, rig, TriangulateSettings(method="volumetric")))
        add("ours volumetric (product)", v.xyz.reshape(-1, 3), dt, N)
    told = np.where(corrupted(take, rig), 0.0, conf)
    o, dt = timed(lambda: triangulate_points(rig, xy, told, s_alg))
    add("oracle (weighted LS, told corruptions)", o.xyz, dt, N)
    if not peers:
        return
    group = anipose_group(rig)
    pts = anipose_points(xy, conf)
    group.triangulate(pts[:, :J], progress=False)                         # jax warm-up
    a, dt = timed(lambda: group.triangulate(pts, progress=False))
    add("aniposelib triangulate", a, dt, N)
    n_slow = min(N, slow_frames * J)
    ar, dt = ransac_budget(group, pts[:, :n_slow], budget_s)
    add("aniposelib triangulate_ransac", ar, dt, len(ar))
    ps, dt = timed(lambda: pose2sim_exhaustive(rig, xy[:n_slow], conf[:n_slow], budget_s))
    add("Pose2Sim-style exhaustive exclusion", ps, dt, len(ps))


def throughput_rows(rows, quick):
    """Joints per second of the batched algebraic path on 1M joints, one core."""
    rig = load_rig_template("studio4")
    rng = np.random.default_rng(0)
    N = 200_000 if quick else 1_000_000
    X = rng.uniform([-0.8, -0.8, 0.0], [0.8, 0.8, 1.9], (N, 3))
    xy = np.moveaxis(rig.project(X), 0, 1)
    conf = rng.uniform(0.3, 1.0, (N, len(rig)))
    xy_n, jac = undistort_detections(rig, xy)
    s_all = TriangulateSettings(view_selection="all")
    best = min(timed(lambda: triangulate_points(rig, xy, conf, s_all, xy_n, jac))[1]
               for _ in range(3))
    rows.append(("1M random joints, 4 cams", "ours algebraic numpy, normalised in",
                 float("nan"), float("nan"), N / best, 0))
    for label, s in (("algebraic numpy", TriangulateSettings(view_selection="all")),
                     ("algebraic torch-cpu", TriangulateSettings(view_selection="all",
                                                                backend="torch", device="cpu")),
                     ("robust numpy", TriangulateSettings())):
        best = min(timed(lambda: triangulate_points(rig, xy, conf, s))[1] for _ in range(3))
        rows.append(("1M random joints, 4 cams", f"ours {label}, pixels in", float("nan"),
                     float("nan"), N / best, 0))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer frames (a smoke run)")
    ap.add_argument("--throughput-only", action="store_true",
                    help="only the 1M-joint throughput rows")
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR, format="%(message)s")
    log.setLevel(logging.WARNING)
    frames = 30 if args.quick else 90
    budget = 5.0 if args.quick else 20.0
    slow_frames = 8 if args.quick else 24
    bench = ErrorModel(outlier_rate=0.05, swap_rate=0.03)
    rows: list = []
    scenes = (("studio4", "4 cams"), ("lab8", "8 cams"), ("dome16", "16 cams"))
    for rig_name, label in () if args.throughput_only else scenes:
        rig, take = scene(rig_name, frames, bench, seed=11)
        run_scene(f"{label}, outliers+swaps", rig, take, budget, slow_frames, rows)
    if not args.throughput_only:
        ambiguous = ErrorModel(outlier_rate=0.15, swap_rate=0.0)
        rig, take = scene("studio4", frames, ambiguous, seed=12)
        run_scene("4 cams, two-peak heatmaps", rig, take, budget, slow_frames, rows, peers=False)
    throughput_rows(rows, args.quick)
    print(f"{'scene':<28} {'method':<40} {'MPJPE mm':>9} {'found %':>8} {'joints/s':>11} "
          f"{'joints':>7}")
    for sc, method, m, cov, jps, fr in rows:
        mm = "" if np.isnan(m) else f"{m:9.2f}"
        cv = "" if np.isnan(cov) else f"{cov:8.1f}"
        print(f"{sc:<28} {method:<40} {mm:>9} {cv:>8} {jps:11.0f} {fr if fr else '':>7}")
    for sc, method, m, cov, jps, fr in rows:
        if method.startswith("ours robust") and sc.startswith("16 cams"):
            print(f"\n16 cameras, robust path: {jps / 25:.0f} frames/s (25 joints per frame)")
    print("\nMPJPE over the joints each method returned ('found %' of the ground-truth joints);"
          " joints: how many joints a method was run on (slow peers: what fit their time budget).")


if __name__ == "__main__":
    main()
