"""Board calibration: ours against aniposelib on the same rendered board views.

Run:  .venv/bin/python benchmarks/calibration.py [--size 800x600] [--shared 20] [--close 8]

Scene (seeded): four cameras on a 90-degree arc of radius 2.5 m, 1.6 m high, each with its own
focal length (600-630 px for 640 px width, scaled with ``--size``), principal point off the
image centre by up to 9 px, and a wide-angle lens (k1 -0.18 to -0.25, k2, p1, p2, k3). A 5 x 7
ChArUco board (100 mm squares, DICT_4X4_50) is rendered through every camera
(:mod:`calibration.render`: exact lens model, 2x supersampling, blur 0.6 px, noise 2 grey
levels, contrast changes, four occluded views per camera): ``--shared`` poses facing the whole
arc, then ``--close`` poses near each camera (tilted, reaching the image corners).

Both methods get the same images and find the board themselves (aniposelib with its own
``CharucoBoard.detect_image``, then ``CameraGroup.calibrate_rows``: the path of its
``calibrate_videos``; ours with :func:`calibration.detection.detect_views` then
:func:`calibration.calibrate.calibrate_rig`). Measured against the truth, after the rigid
transform (no scale: the board gives it) that best maps each result's camera poses onto the
true ones:

* camera centres (mm), rotations (degrees), focal lengths (%, fx and fy), principal points (px);
* projection error (px): every board corner of every pose, at its true 3D position, projected
  through the estimated camera vs the true one (RMS over cameras and corners; intrinsics and
  extrinsics together);
* wall time of detection and of calibration (one process, BLAS on one thread), and the ratio.

aniposelib is imported lazily (``pip install aniposelib``, the ``peers`` extra).
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import contextlib  # noqa: E402
import io  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from calibration import Camera, Rig  # noqa: E402
from calibration.boards import board_from_dict  # noqa: E402
from calibration.calibrate import calibrate_rig  # noqa: E402
from calibration.detection import detect_views  # noqa: E402
from calibration.extrinsics import mean_rotation, rotation_angle_deg  # noqa: E402
from calibration.render import RenderStyle, random_board_poses, render_take  # noqa: E402
from calibration.world import transform_rig  # noqa: E402

# The board and lenses of the calibration tests' rendered arc: one definition for both.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "calibration"))
from calib_scenes import ARC_DISTS as DISTS, BOARD  # noqa: E402


def arc_rig(size_wh) -> Rig:
    w, h = size_wh
    s = w / 640.0
    cams = []
    for i, a in enumerate(np.radians(np.linspace(-45.0, 45.0, 4))):
        f = (600.0 + 10 * i) * s
        K = np.array([[f, 0, (w - 1) / 2 + 3 * i * s], [0, f + 2 * s, (h - 1) / 2 - 2 * i * s], [0, 0, 1.0]])
        eye = (2.5 * np.sin(a), -2.5 * np.cos(a), 1.6)
        cams.append(Camera.look_at(f"cam{i + 1}", size_wh, K, DISTS[i], eye, (0.0, 0.0, 1.0)))
    return Rig(tuple(cams))


def board_poses(rig, spec, n_shared, n_close, seed):
    rng = np.random.default_rng(seed)
    poses = [random_board_poses(rig, spec, n_shared, (0.0, 0.0, 1.0), (0.5, 0.3, 0.3), tilt_deg=30, rng=rng)]
    for cam in rig:
        target = cam.center + 1.3 * cam.R_cam_from_world[2]
        poses.append(random_board_poses(Rig((cam,)), spec, n_close, target, (0.35, 0.25, 0.1),
                                        tilt_deg=45, rng=rng))
    return np.concatenate(poses)


def align(est: Rig, truth: Rig) -> Rig:
    R = mean_rotation(np.stack([b.R_cam_from_world.T @ a.R_cam_from_world for a, b in zip(est, truth)]))
    t = np.mean([b.center - R @ a.center for a, b in zip(est, truth)], axis=0)
    T = np.eye(4)
    T[:3, :3], T[:3, 3] = R, t
    return transform_rig(est, T)


def accuracy(est: Rig, truth: Rig, spec, poses) -> dict:
    al = align(est, truth)
    X = np.concatenate([spec.object_points @ T[:3, :3].T + T[:3, 3] for T in poses])
    proj = []
    for a, b in zip(al, truth):
        p_true, p_est = b.project(X), a.project(X)
        w, h = b.size_wh
        inside = np.all(np.isfinite(p_true), 1) & (p_true[:, 0] >= 0) & (p_true[:, 0] < w) \
            & (p_true[:, 1] >= 0) & (p_true[:, 1] < h)
        proj.append(np.sum((p_est[inside] - p_true[inside]) ** 2, axis=1))
    return dict(
        centre_mm=np.array([1000 * np.linalg.norm(a.center - b.center) for a, b in zip(al, truth)]),
        rot_deg=np.array([rotation_angle_deg(a.R_cam_from_world, b.R_cam_from_world) for a, b in zip(al, truth)]),
        focal_pct=np.array([100 * np.abs(a.K[[0, 1], [0, 1]] / b.K[[0, 1], [0, 1]] - 1).max() for a, b in zip(al, truth)]),
        pp_px=np.array([np.abs(a.K[:2, 2] - b.K[:2, 2]).max() for a, b in zip(al, truth)]),
        proj_px=float(np.sqrt(np.mean(np.concatenate(proj)))),
    )


def run_ours(rig, spec, take):
    t0 = time.perf_counter()
    views = [detect_views(enumerate(take.images[c]), spec, cam.name, "rendered") for c, cam in enumerate(rig)]
    t1 = time.perf_counter()
    result = calibrate_rig(views, spec)
    t2 = time.perf_counter()
    return result.rig, t1 - t0, t2 - t1


def run_aniposelib(rig, spec, take):
    from aniposelib.boards import CharucoBoard
    from aniposelib.cameras import CameraGroup

    board = CharucoBoard(spec.squares_x, spec.squares_y, spec.square_length_m,
                         spec.marker_length_m, marker_bits=4, dict_size=50)
    t0 = time.perf_counter()
    all_rows = []
    for c in range(len(rig)):
        rows = []
        for f, img in enumerate(take.images[c]):
            corners, ids = board.detect_image(img)
            if corners is not None and len(corners) > 0:
                rows.append({"framenum": (0, f), "corners": corners, "ids": ids})
        all_rows.append(rows)
    t1 = time.perf_counter()
    group = CameraGroup.from_names(list(rig.names))
    for cam, truth in zip(group.cameras, rig):
        cam.set_size(truth.size_wh)
    with contextlib.redirect_stdout(io.StringIO()):
        group.calibrate_rows(all_rows, board, init_intrinsics=True, init_extrinsics=True, verbose=False)
    t2 = time.perf_counter()
    cams = []
    for cam, truth in zip(group.cameras, rig):
        d = np.asarray(cam.get_distortions(), dtype=float).ravel()
        d = np.r_[d, np.zeros(max(0, 5 - d.size))][:5]
        K = np.asarray(cam.get_camera_matrix(), dtype=float)
        K[0, 1] = 0.0
        cams.append(Camera.from_rvec(truth.name, truth.size_wh, K, d, np.ravel(cam.get_rotation()),
                                     np.ravel(cam.get_translation())))
    return Rig(tuple(cams)), t1 - t0, t2 - t1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", default="800x600", help="image size WxH (default 800x600)")
    ap.add_argument("--shared", type=int, default=20, help="board poses facing the whole arc")
    ap.add_argument("--close", type=int, default=8, help="board poses near each camera")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    size = tuple(int(v) for v in args.size.lower().split("x"))
    rig = arc_rig(size)
    spec = board_from_dict(dict(BOARD))
    poses = board_poses(rig, spec, args.shared, args.close, args.seed)
    style = RenderStyle(blur_sigma_px=0.6, noise_std=2.0, contrast=(0.6, 1.0))
    occluded = {(c, f): RenderStyle(blur_sigma_px=0.6, noise_std=2.0, occluders=1)
                for c in range(len(rig)) for f in range(0, args.shared, 5)}
    t = time.perf_counter()
    take = render_take(rig, spec, poses, style, seed=args.seed + 2, styles=occluded)
    print(f"rendered {len(poses)} board poses x {len(rig)} cameras at {size[0]}x{size[1]} "
          f"in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    rows = []
    for name, fn in (("ours", run_ours), ("aniposelib 0.8", run_aniposelib)):
        try:
            est, t_det, t_cal = fn(rig, spec, take)
        except ImportError as e:
            print(f"{name}: skipped ({e})", file=sys.stderr)
            continue
        rows.append((name, accuracy(est, rig, spec, poses), t_det, t_cal))
    print()
    print(f"Board calibration, 4 cameras {size[0]}x{size[1]}, {len(poses)} board poses "
          f"({args.shared} shared + {args.close} per camera), rendered with distortion, blur, "
          f"noise and occlusion; errors after rigid alignment to the truth (max over cameras)")
    head = (f"{'method':<16}{'centre mm':>10}{'rot deg':>9}{'focal %':>9}{'pp px':>8}"
            f"{'proj px':>9}{'detect s':>10}{'calib s':>9}{'calib x':>9}")
    print(head)
    print("-" * len(head))
    base = rows[0][3] if rows else 1.0
    for name, acc, t_det, t_cal in rows:
        print(f"{name:<16}{acc['centre_mm'].max():10.2f}{acc['rot_deg'].max():9.3f}"
              f"{acc['focal_pct'].max():9.3f}{acc['pp_px'].max():8.2f}{acc['proj_px']:9.3f}"
              f"{t_det:10.2f}{t_cal:9.2f}{t_cal / base:9.2f}")
    print("\ncalib x: calibration time relative to ours (same process, one BLAS thread). "
          "aniposelib refines one focal length and two distortion terms with the principal "
          "point fixed at the image centre.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
