"""Board calibration: ours against aniposelib on the same rendered board views.

Run:  .venv/bin/python benchmarks/calibration.py [--size 800x600] [--shared 20] [--close 8]
            [--pose2sim | --pose2sim-only]

Scene (seeded): four cameras on a 90-degree arc of radius 2.5 m, 1.6 m high, each with its own
focal length (600-630 px for 640 px width, scaled with ``--size``), principal point off the
image centre by up to 9 px, and a wide-angle lens (k1 -0.18 to -0.25, k2, p1, p2, k3). A 5 x 7
ChArUco board (100 mm squares, DICT_4X4_50) is rendered through every camera
(:mod:`calibration.render`: exact lens model, 2x supersampling, blur 0.6 px, noise 2 grey
levels, contrast changes, four occluded views per camera): ``--shared`` poses facing the whole
arc, then ``--close`` poses near each camera (tilted, reaching the image corners).

Both methods get the same images and find the board themselves (aniposelib with its own
``CharucoBoard.detect_image``, then ``CameraGroup.calibrate_rows``: the path of its
``calibrate_videos``; ours with :func:`calibration.boards.detect_views` then
:func:`calibration.calibrate.calibrate_rig`). Measured against the truth, after the rigid
transform (no scale: the board gives it) that best maps each result's camera poses onto the
true ones:

* camera centres (mm), rotations (degrees), focal lengths (%, fx and fy), principal points (px);
* projection error (px): every board corner of every pose, at its true 3D position, projected
  through the estimated camera vs the true one (RMS over cameras and corners; intrinsics and
  extrinsics together);
* wall time of detection and of calibration (one process, BLAS on one thread), and the ratio.

aniposelib is imported lazily (``pip install aniposelib``, the ``peers`` extra).

``--pose2sim`` adds (``--pose2sim-only``: runs alone) a table on real images: the Pose2Sim
demo's checkerboard views (pose2sim 0.10.49 wheel, fetched into the cache by
:func:`mocap.datasets.pose2sim_demo`; 4 x 7 inner corners, 60 mm squares, 6-7 views per
camera) against the Qualisys calibration shipped beside them (``Calib.qca.txt``). Per camera:
our intrinsics (:func:`calibration.calibrate.intrinsics_only`, k3 at 0), how far the board
reached, the focal lengths against the file's, both principal points with our standard errors,
and the RMS reprojection error of the views with (a) our calibration, free; (b) the file's
principal point imposed, focal, lens and board poses refitted; (c) the image centre imposed,
the same refit; (d) the file's K and lens as they are, board poses only; and the F statistic
of (b) against (a) (nested least squares, 2 constraints).
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
from calibration.boards import detect_views  # noqa: E402
from calibration.extrinsics import mean_rotation, rotation_angle_deg  # noqa: E402
from calibration.intrinsics import board_poses as pnp_board_poses  # noqa: E402
from calibration.intrinsics import radial_reach, refit_with_fixed_principal_point  # noqa: E402
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


def f_statistic(restricted, free) -> float:
    """F statistic of a nested least-squares restriction: ``restricted`` and ``free`` are
    :class:`calibration.intrinsics.PinholeRefit` of the same residuals, the first with
    ``free.n_params - restricted.n_params`` parameters held fixed.
    F = ((RSS_r - RSS_f) / q) / (RSS_f / (n_residuals - n_params_f)); under the restriction
    it follows F(q, n_residuals - n_params_f)."""
    q = free.n_params - restricted.n_params
    dof = free.n_residuals - free.n_params
    return float(((restricted.rss_px2 - free.rss_px2) / q) / (free.rss_px2 / dof))


def pose2sim_principal_points(version: str = "0.10.49") -> list[dict]:
    """The Pose2Sim demo's checkerboard views against its Qualisys file, per camera.

    Returns one dict per camera: ``name``; ``views`` (int, views fitted); ``reach`` (radial
    reach of the corners, 0-1); ``focal_pct`` (2,) our fx, fy over the file's, minus 1, in %;
    ``pp_ours``, ``pp_file`` (2,) pixels; ``pp_std`` (2,) our standard errors, pixels;
    ``rms_free``, ``rms_file_pp``, ``rms_centre``, ``rms_file`` pixels, cases (a)-(d) of the
    module docstring; ``f_file_pp`` (F of (b) against (a)); ``dof`` (residual degrees of
    freedom of (a)).
    """
    from mocap.datasets import pose2sim_demo

    from calibration.boards import find_board
    from calibration.calibrate import intrinsics_only
    from calibration.boards import detect_source
    from calibration.io.qualisys import read_qualisys

    root = pose2sim_demo(version) / "Demo_SinglePerson/calibration"
    spec = find_board("pose2sim_checkerboard_4x7")
    rows = []
    for i, ref in enumerate(read_qualisys(root / "Calib.qca.txt"), start=1):
        views = detect_source(root / f"intrinsics/int_cam0{i}_img", spec, ref.name)
        cam, _ = intrinsics_only(views, spec)
        w, h = ref.size_wh
        free = refit_with_fixed_principal_point(cam, views, spec, None)
        file_pp = refit_with_fixed_principal_point(cam, views, spec, ref.K[:2, 2])
        centre = refit_with_fixed_principal_point(cam, views, spec, ((w - 1) / 2, (h - 1) / 2))
        _, err = pnp_board_poses(ref, views, spec)
        ok = np.isfinite(err)
        rms_file = float(np.sqrt(np.sum(views.counts[ok] * err[ok] ** 2) / np.sum(views.counts[ok])))
        rows.append(dict(
            name=ref.name, views=int(free.used.size), reach=radial_reach(views.xy, views.size_wh),
            focal_pct=100 * (free.camera.K[[0, 1], [0, 1]] / ref.K[[0, 1], [0, 1]] - 1),
            pp_ours=free.camera.K[:2, 2], pp_std=free.std_px[2:4], pp_file=ref.K[:2, 2],
            rms_free=free.rms_px, rms_file_pp=file_pp.rms_px, rms_centre=centre.rms_px,
            rms_file=rms_file, f_file_pp=f_statistic(file_pp, free),
            dof=free.n_residuals - free.n_params,
        ))
    return rows


def print_pose2sim(rows: list[dict]) -> None:
    from scipy.stats import f as f_dist

    print()
    print("Pose2Sim demo (0.10.49): checkerboard intrinsics (k1 k2 p1 p2, k3 at 0) against the "
          "Qualisys file shipped beside them; RMS reprojection (px) of the views with (a) ours, "
          "free, (b) the file's principal point imposed, (c) the image centre imposed (focal, "
          "lens and board poses refitted), (d) the file's K and lens as they are (board poses only)")
    head = (f"{'camera':<8}{'views':>6}{'reach %':>8}{'focal % (x, y)':>16}"
            f"{'pp ours (± sd) px':>26}{'pp file px':>16}"
            f"{'(a) free':>9}{'(b) file pp':>12}{'(c) centre':>11}{'(d) file':>9}{'F (b/a)':>9}")
    print(head)
    print("-" * len(head))
    for r in rows:
        ours = (f"{r['pp_ours'][0]:.1f}±{r['pp_std'][0]:.1f}, "
                f"{r['pp_ours'][1]:.1f}±{r['pp_std'][1]:.1f}")
        print(f"{r['name']:<8}{r['views']:6d}{100 * r['reach']:8.0f}"
              f"{r['focal_pct'][0]:+8.2f}{r['focal_pct'][1]:+8.2f}"
              f"{ours:>26}{r['pp_file'][0]:>8.1f}{r['pp_file'][1]:>8.1f}"
              f"{r['rms_free']:9.3f}{r['rms_file_pp']:12.3f}{r['rms_centre']:11.3f}"
              f"{r['rms_file']:9.3f}{r['f_file_pp']:9.1f}")
    dof = min(r["dof"] for r in rows) if rows else 1
    print(f"\nF (b/a): the file's principal point as a restriction of (a) (2 constraints); "
          f"F(2, {dof}) exceeds {f_dist.ppf(0.99, 2, dof):.2f} with probability 1 % if the "
          f"file's principal point were right. sd: standard errors of (a) "
          f"(cv2.calibrateCameraExtended).")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", default="800x600", help="image size WxH (default 800x600)")
    ap.add_argument("--shared", type=int, default=20, help="board poses facing the whole arc")
    ap.add_argument("--close", type=int, default=8, help="board poses near each camera")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--pose2sim", action="store_true",
                    help="also the Pose2Sim demo's checkerboard intrinsics against its Qualisys file "
                         "(fetches the pose2sim 0.10.49 wheel into the cache once)")
    ap.add_argument("--pose2sim-only", action="store_true",
                    help="only the Pose2Sim demo table (no rendered rig)")
    args = ap.parse_args()
    if args.pose2sim_only:
        print_pose2sim(pose2sim_principal_points())
        return 0
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
    if args.pose2sim:
        print_pose2sim(pose2sim_principal_points())
    return 0


if __name__ == "__main__":
    sys.exit(main())
