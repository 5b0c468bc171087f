"""``mocap calibrate SESSION``: board videos or images -> ``SESSION/calibration.toml``.

Reads ``SESSION/calibration/<cam>.<video>`` files or ``SESSION/calibration/<cam>/`` image
folders (and optionally ``SESSION/calibration/floor/<cam>.<image>``: the board lying on the
floor, which sets the world frame), the board from ``session.toml [calibration.board]`` (or
``board_file``), and writes the calibrated rig (anipose TOML, metres, atomically) and a report
in ``SESSION/out/calibration/``: ``report.json``, ``report.txt`` (per-camera reprojection error
and image coverage) and ``camera_poses.png``.

After a capture, two options adjust the session's calibration from its people instead (no
board): ``--refine-from-people`` refines every camera's pose by a bundle adjustment on the 2D
keypoints (the same loaders and association as ``mocap triangulate``; the board's scale and
world frame are kept) and prints the per-camera reprojection error before and after;
``--level-from-person`` levels the floor from a person standing upright (Z up, the origin on
the floor under the person, metres kept), from ``out/points3d.npz`` when it is newer than the
calibration, else from the 2D detections triangulated. Given both, the refinement runs first.
The new ``calibration.toml`` is written atomically; the previous one is kept as
``calibration.backup<N>.toml`` (named in the output), and ``out/calibration/adjust_report.json``
records what was done.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import math
import sys
import time
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

FLOOR_FOLDER = "floor"


class _Progress:
    """One status line per camera on stderr (rewritten in place on a terminal)."""

    def __init__(self, camera: str):
        self.camera = camera
        self.tty = sys.stderr.isatty()
        self.last = -1

    def __call__(self, done: int, total: int) -> None:
        pct = int(100 * done / total) if total else -1
        if self.tty:
            tail = f"{done}/{total}" if total else f"{done}"
            print(f"\r  detecting the board: {self.camera:<12} {tail} frames", end="",
                  file=sys.stderr, flush=True)
        elif pct >= 0 and pct // 25 > self.last // 25:
            self.last = pct
            print(f"  detecting the board: {self.camera:<12} {pct:3d} %", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.tty:
            print(file=sys.stderr, flush=True)


def board_spec(settings, root: Path):
    """The board of the session: ``board_file`` when set, else ``[calibration.board]``."""
    from calibration.boards import CHECKERBOARD, board_from_dict, find_board

    if settings.board_file:
        p = Path(settings.board_file)
        cand = root / p
        return find_board(cand if cand.is_file() else settings.board_file)
    table = dataclasses.asdict(settings.board)
    if table["kind"] == CHECKERBOARD:
        table["marker_length_m"] = 0.0
    return board_from_dict(table, f"{root / 'session.toml'} [calibration.board]")


def camera_order(found: dict, wanted: tuple, folder: Path) -> list[str]:
    """Camera names in rig order: ``wanted`` when given (every one must be there)."""
    from ...errors import SessionError

    if not wanted:
        return list(found)
    missing = [c for c in wanted if c not in found]
    if missing:
        raise SessionError(f"{folder}: expected calibration inputs for cameras {list(wanted)} "
                           f"([calibration] cameras), found none for {missing}; found {list(found)}")
    return list(wanted)


def frame_step(sources: dict, max_frames: int) -> int:
    """One sampling step for every video: the shortest video yields ``max_frames`` frames."""
    from calibration.detection import video_frame_count

    counts = [video_frame_count(p) for p in sources.values() if p.is_file()]
    counts = [n for n in counts if n > 0]
    if not counts or max_frames <= 0:
        return 1
    return max(1, math.ceil(min(counts) / max_frames))


def detect_all(sources: dict, names: list[str], spec, settings) -> list:
    """Board views of every camera, with progress."""
    from calibration.detection import detect_source, require_board
    from calibration.intrinsics import MIN_INTRINSIC_VIEWS

    step = frame_step({n: sources[n] for n in names}, settings.max_frames_per_camera)
    views = []
    for name in names:
        progress = _Progress(name)
        try:
            v = detect_source(sources[name], spec, name, step, settings.max_blur_px, progress)
        finally:
            progress.close()
        require_board(v, spec, MIN_INTRINSIC_VIEWS)
        print(f"  {name}: board in {len(v)} of {v.frames_read} frames"
              + (f" ({len(v.rejected_blurry)} blurred views dropped)" if v.rejected_blurry else ""),
              file=sys.stderr)
        views.append(v)
    return views


def align_world(rig, result, spec, settings, folder: Path):
    """Put the rig on the floor: the floor frame, the floor images, or leave it (with a note)."""
    from calibration.boards import detect_corners
    from calibration.detection import IMAGE_EXTENSIONS, natural_key
    from calibration.world import align_to_floor_board, locate_board
    from ...errors import SessionError
    import cv2

    if settings.floor_frame >= 0:
        pose = result.board_poses.get(settings.floor_frame)
        if pose is None:
            near = sorted(result.board_poses, key=lambda f: abs(f - settings.floor_frame))[:5]
            raise SessionError(
                f"[calibration] floor_frame: expected a frame where the board was found, found "
                f"no board pose at frame {settings.floor_frame}; nearest frames with one: {near}")
        rig, _ = align_to_floor_board(rig, pose)
        return rig, f"board on the floor at frame {settings.floor_frame}"
    floor = folder / FLOOR_FOLDER
    if floor.is_dir():
        corners = {}
        files = sorted((f for f in floor.iterdir() if f.suffix.lower() in IMAGE_EXTENSIONS),
                       key=lambda f: natural_key(f.name))
        for f in files:
            if f.stem not in rig.names:
                raise SessionError(f"{f}: expected an image named after a camera {list(rig.names)}, "
                                   f"found {f.stem!r}")
            img = cv2.imread(str(f), cv2.IMREAD_GRAYSCALE)
            c = None if img is None else detect_corners(img, spec)
            if c is not None:
                xy = np.full((spec.num_corners, 2), np.nan)
                xy[c.ids] = c.xy
                corners[f.stem] = xy
        if not corners:
            raise SessionError(f"{floor}: expected the board in at least one floor image, found it "
                               f"in none of {[f.name for f in files]}")
        rig, _ = align_to_floor_board(rig, locate_board(rig, corners, spec))
        return rig, f"board on the floor ({', '.join(corners)})"
    log.warning("no floor board (set [calibration] floor_frame or add calibration/floor/ "
                "images, or after a capture run `mocap calibrate SESSION --level-from-person`): "
                "the world frame is camera %s's, not levelled", rig.names[0])
    return rig, f"camera {rig.names[0]} (not levelled: no floor board)"


def write_report(out: Path, rig, result, views, spec, world: str, seconds: float) -> dict:
    """``report.json``, ``report.txt`` and ``camera_poses.png`` in ``out``."""
    from calibration.plot import plot_rig
    from exporters._atomic import atomic_write

    out.mkdir(parents=True, exist_ok=True)
    per_cam = []
    for c, (cam, v) in enumerate(zip(rig, views)):
        per_cam.append({
            "name": cam.name,
            "reprojection_error_px": float(result.bundle.error_px_per_camera[c]),
            "coverage_percent": round(100 * result.coverage[c].fraction, 1),
            "views_used": int(result.views_used[c]),
            "frames_read": int(v.frames_read),
            "blurred_views_dropped": len(v.rejected_blurry),
            "size_wh": list(cam.size_wh),
            "focal_px": [float(cam.K[0, 0]), float(cam.K[1, 1])],
            "principal_point_px": [float(cam.K[0, 2]), float(cam.K[1, 2])],
            "distortion": [float(d) for d in cam.dist],
            "model": cam.model,
            "center_m": [float(x) for x in cam.center],
        })
    report = {
        "board": spec.to_dict(),
        "world_frame": world,
        "units": "m",
        "reprojection_error_px": result.bundle.error_px,
        "initial_reprojection_error_px": result.bundle.initial_error_px,
        "shared_views": {"cameras": list(rig.names), "counts": result.graph.shared.tolist()},
        "cameras": per_cam,
        "seconds": round(seconds, 2),
    }
    with atomic_write(out / "report.json", "w") as fh:
        json.dump(report, fh, indent=2)
    lines = [f"calibration: {len(rig)} cameras, board {spec.describe()}",
             f"world frame: {world}; units: metres",
             f"reprojection error (RMS): {result.bundle.error_px:.3f} px "
             f"(before bundle adjustment {result.bundle.initial_error_px:.3f} px)",
             "",
             f"{'camera':<14}{'error px':>9}{'coverage':>10}{'views':>7}{'fx':>10}{'fy':>10}"
             f"{'cx':>9}{'cy':>9}"]
    for r in per_cam:
        lines.append(f"{r['name']:<14}{r['reprojection_error_px']:9.3f}{r['coverage_percent']:9.1f}%"
                     f"{r['views_used']:7d}{r['focal_px'][0]:10.1f}{r['focal_px'][1]:10.1f}"
                     f"{r['principal_point_px'][0]:9.1f}{r['principal_point_px'][1]:9.1f}")
    text = "\n".join(lines) + "\n"
    with atomic_write(out / "report.txt", "w") as fh:
        fh.write(text)
    T_new = _world_change(result.rig, rig)
    boards = np.array([T_new[:3, :3] @ T[:3, :3] @ (np.r_[spec.size_m, 0.0] / 2) + T_new[:3, :3] @ T[:3, 3]
                       + T_new[:3, 3] for T in result.board_poses.values()])
    plot_rig(rig, out / "camera_poses.png", boards, f"camera poses ({world})",
             [r["reprojection_error_px"] for r in per_cam])
    return {"text": text, **report}


def _world_change(before, after) -> np.ndarray:
    """(4, 4) T_after_from_before of two rigs that differ by a rigid change of world frame."""
    c0, c1 = before[0], after[0]
    R = c1.R_cam_from_world.T @ c0.R_cam_from_world
    t = c1.R_cam_from_world.T @ (c0.t_cam_from_world - c1.t_cam_from_world)
    T = np.eye(4)
    T[:3, :3], T[:3, 3] = R, t
    return T


# ----------------------------------------------------------------- after a capture: people
#: Keypoints on the soles (height above the floor 0 when standing) and at the ankles, whose
#: height is ANKLE_HEIGHT_OF_AXIS times the ankle-to-shoulder length: ankle 0.039 and shoulder
#: 0.818 of the standing height (Drillis & Contini), 0.039 / (0.818 - 0.039) = 0.05.
SOLE_JOINTS = ("left_heel", "right_heel", "left_big_toe", "right_big_toe", "left_small_toe",
               "right_small_toe")
ANKLE_JOINTS = ("left_ankle", "right_ankle")
ANKLE_HEIGHT_OF_AXIS = 0.05
#: A person stands (rather than walks: walking leans forward along the way) while the middle of
#: the ankles moves slower than this, metres per second (walking: over 1 m/s; swaying and
#: turning on the spot: a few cm/s). Fewer than MIN_STANDING_FRAMES such frames: every frame.
STANDING_SPEED_M_PER_S = 0.25
MIN_STANDING_FRAMES = 10
BACKUP_PREFIX = "calibration.backup"


def standing_axis(xyz: np.ndarray, joint_names, fps: float) -> tuple[np.ndarray, ...]:
    """A person's body axis, for levelling the floor from a standing person.

    Only frames where the person stands still (the middle of the ankles slower than
    :data:`STANDING_SPEED_M_PER_S`) are kept, when there are at least
    :data:`MIN_STANDING_FRAMES` of them; the others are NaN.

    Args:
        xyz: (F, P, J, 3) keypoints, world metres, NaN where missing (people pooled).
        joint_names: (J,) canonical names; the format must have both shoulders and ankles.
        fps: frames per second of the take.

    Returns:
        ``(head (N, 3), feet (N, K, 3), feet_height_m (K,), base (N, 3))`` with N = F * P:
        the middle of the shoulders (the point of the upper body closest to above the ankles
        when standing), the ankles and the sole points the format has, each feet point's height
        above the floor when standing (0 for soles; ankles from the median ankle-to-shoulder
        length), and the middle of the ankles (the bottom of the axis).

    Raises:
        SessionError: a format without shoulders or ankles.
    """
    from ...errors import SessionError

    names = list(joint_names)
    need = ("left_shoulder", "right_shoulder") + ANKLE_JOINTS
    missing = [n for n in need if n not in names]
    if missing:
        raise SessionError(f"levelling from a person: expected keypoints {list(need)}, found "
                           f"none for {missing} in the format's {names}")
    X = np.array(xyz, dtype=np.float64)
    mid = X[:, :, idx_of(names, ANKLE_JOINTS)].mean(axis=2)              # (F, P, 3)
    speed = np.linalg.norm(np.gradient(mid, axis=0), axis=-1) * fps if len(X) > 1 \
        else np.zeros(mid.shape[:2])
    still = speed < STANDING_SPEED_M_PER_S                                # NaN: False
    if still.sum() >= MIN_STANDING_FRAMES:
        X[~still] = np.nan
    else:
        log.warning("nobody stands still in the capture (the ankles move faster than %.2f m/s "
                    "in all but %d frames): levelling from every upright frame (walking leans "
                    "forward)", STANDING_SPEED_M_PER_S, int(still.sum()))
    X = X.reshape(-1, len(names), 3)
    idx = lambda ns: idx_of(names, ns)  # noqa: E731
    head = X[:, idx(("left_shoulder", "right_shoulder"))].mean(axis=1)
    soles = [n for n in SOLE_JOINTS if n in names]
    feet = X[:, idx(ANKLE_JOINTS + tuple(soles))]
    base = X[:, idx(ANKLE_JOINTS)].mean(axis=1)
    axis = np.linalg.norm(head - base, axis=1)
    ankle_h = ANKLE_HEIGHT_OF_AXIS * float(np.nanmedian(axis)) if np.isfinite(axis).any() else 0.0
    lift = np.array([ankle_h] * len(ANKLE_JOINTS) + [0.0] * len(soles))
    return head, feet, lift, base


def idx_of(names: list, wanted) -> list[int]:
    """Indices of ``wanted`` joint names in ``names``."""
    return [names.index(n) for n in wanted]


def capture_points(session, rig, settings, rig_changed: bool = False):
    """The session's 3D keypoints, in the frame of ``rig``, and where they came from.

    ``out/points3d.npz`` when it is newer than the calibration file (it was triangulated with
    this calibration) and ``rig`` is that file's (not ``rig_changed``), else the 2D detections
    triangulated with ``rig`` (``mocap triangulate``'s loaders, association and settings).

    Raises:
        SessionError: neither exists (no capture to use).
    """
    from ...types import Points3D

    saved = session.out / "points3d.npz"
    calib = session.calibration_path()
    if saved.is_file() and saved.stat().st_mtime >= calib.stat().st_mtime and not rig_changed:
        return Points3D.load(saved), f"{saved}"
    stale = f" (out/points3d.npz is older than {calib.name})" if saved.is_file() else ""
    det = capture_detections(session, rig, settings,
                             "levelling the floor from a standing person needs",
                             f"out/points3d.npz (`mocap triangulate`) newer than "
                             f"{calib.name}{stale} or ")
    from ...track import identify_people
    from ...triangulate import triangulate

    det, _ = identify_people(det, rig, settings.associate)
    why = "absent" if not saved.is_file() else "older than the calibration" \
        if not rig_changed else "made with the unrefined calibration"
    used = "the refined calibration" if rig_changed else calib.name
    return triangulate(det, rig, settings.triangulate), \
        f"2D detections triangulated with {used} ({saved.name} {why})"


def capture_detections(session, rig, settings, need: str, also: str = ""):
    """The session's 2D detections (``mocap triangulate``'s loaders).

    Raises:
        SessionError: no detections nor videos, saying that ``need`` a capture (and what else,
            ``also``, would have done).
    """
    from ...detect import session_detections
    from ...errors import SessionError

    root = session.root
    if not ((root / "pose").is_dir() or (root / "videos").is_dir()
            or (root / "out" / "detections.npz").is_file()):
        raise SessionError(
            f"{root}: {need} a capture: expected {also}2D detections (pose/<camera>/ OpenPose "
            "JSON, pose/<camera>.json|.csv|.h5, out/detections.npz) or videos/<camera>.<ext>, "
            "found none")
    return session_detections(session, rig, settings)


def level_from_person(session, rig, settings, rig_changed: bool = False) -> tuple:
    """``(rig levelled from the people of the capture, one-line summary)``; ``rig_changed``:
    ``rig`` is not the calibration file's (see :func:`capture_points`)."""
    from calibration.world import level_from_standing_person, transform_rig

    points, source = capture_points(session, rig, settings, rig_changed)
    head, feet, lift, base = standing_axis(points.xyz, points.joint_names, points.fps)
    T = level_from_standing_person(head, feet, lift, base_xyz=base)
    tilt = math.degrees(math.acos(max(-1.0, min(1.0, float(T[2, 2])))))
    levelled = transform_rig(rig, T)
    heights = ", ".join(f"{c.name} {c.center[2]:.2f}" for c in levelled)
    return levelled, (f"floor levelled from a standing person ({source}): tilt corrected "
                      f"{tilt:.2f} deg; camera heights m: {heights}")


def refine_from_people(session, rig, settings):
    """The :class:`calibration.people.KeypointRefineResult` of the session's 2D keypoints."""
    from calibration.people import refine_from_keypoints
    from ...track import identify_people

    det = capture_detections(session, rig, settings, "refining the cameras from people needs")
    det, _ = identify_people(det, rig, settings.associate)  # P axis = the same person everywhere
    C, F, P, J = det.conf.shape
    return refine_from_keypoints(rig, det.xy.reshape(C, F, P * J, 2), det.conf.reshape(C, F, P * J))


def refine_table(rig, result) -> str:
    """Per-camera reprojection error before and after the refinement from people."""
    lines = [f"{'camera':<14}{'before px':>10}{'after px':>10}"]
    for name, b, a in zip(rig.names, result.error_before_px, result.error_after_px):
        lines.append(f"{name:<14}{b:10.3f}{a:10.3f}")
    lines.append(f"{'all (RMS)':<14}{_rms(result.error_before_px):10.3f}"
                 f"{_rms(result.error_after_px):10.3f}")
    return "\n".join(lines)


def _rms(e) -> float:
    e = np.asarray(e, dtype=np.float64)
    return float(np.sqrt(np.nanmean(e**2))) if np.isfinite(e).any() else float("nan")


def backup_calibration(target: Path) -> "Path | None":
    """Copy ``target`` to the first free ``calibration.backup<N>.toml`` beside it (atomically);
    None when there is nothing to back up."""
    from exporters._atomic import atomic_write

    if not target.is_file():
        return None
    n = 1
    while (target.parent / f"{BACKUP_PREFIX}{n}.toml").exists():
        n += 1
    backup = target.parent / f"{BACKUP_PREFIX}{n}.toml"
    with atomic_write(backup, "wb") as fh:
        fh.write(target.read_bytes())
    return backup


def run_after_capture(args) -> int:
    """``--refine-from-people`` and/or ``--level-from-person``: the session's calibration
    adjusted from its capture, written back with a backup of the previous file."""
    from exporters._atomic import atomic_write
    from ..session import Session

    session = Session(Path(args.session))
    settings = session.settings()
    source = session.calibration_path()
    rig = session.rig()
    report: dict = {"calibration_in": str(source), "units": "m"}
    if args.refine_from_people:
        print(f"refining {len(rig)} cameras from the people's 2D keypoints ...", file=sys.stderr)
        result = refine_from_people(session, rig, settings)
        rig = result.rig
        table = refine_table(rig, result)
        print(f"refined from {result.points_used} keypoints (board scale kept: the adjustment's "
              f"scale {result.scale:.5f} undone)\n{table}")
        report["refine_from_people"] = {
            "points_used": result.points_used, "scale_restored": result.scale,
            "cameras": [{"name": n, "reprojection_error_before_px": float(b),
                         "reprojection_error_after_px": float(a)}
                        for n, b, a in zip(rig.names, result.error_before_px,
                                           result.error_after_px)]}
    if args.level_from_person:
        print("levelling the floor from a standing person ...", file=sys.stderr)
        rig, summary = level_from_person(session, rig, settings, bool(args.refine_from_people))
        print(summary)
        report["level_from_person"] = summary
    target = session.root / "calibration.toml"
    backup = backup_calibration(target)
    rig.save(target)
    report.update(calibration_out=str(target), backup=str(backup) if backup else None)
    out = session.out / "calibration"
    out.mkdir(parents=True, exist_ok=True)
    with atomic_write(out / "adjust_report.json", "w") as fh:
        json.dump(report, fh, indent=2)
    print(f"wrote {target}" + (f" (previous calibration kept as {backup})" if backup else ""))
    print(f"report: {out / 'adjust_report.json'}")
    if (session.out / "points3d.npz").is_file():
        print("note: results already in out/ used the previous calibration: run `mocap run` "
              "(or `mocap triangulate`) again")
    return 0


def run(args) -> int:
    from calibration.bundle import BundleOptions
    from calibration.calibrate import CalibrationOptions, calibrate_rig
    from calibration.detection import find_camera_sources
    from ..session import Session

    if args.refine_from_people or args.level_from_person:
        return run_after_capture(args)
    t0 = time.perf_counter()
    session = Session(Path(args.session))
    settings = session.settings().calibration
    spec = board_spec(settings, session.root)
    folder = session.root / "calibration"
    sources = find_camera_sources(folder)
    sources.pop(FLOOR_FOLDER, None)
    names = camera_order(sources, settings.cameras, folder)
    print(f"calibrating {len(names)} cameras {names} with a {spec.describe()}", file=sys.stderr)
    views = detect_all(sources, names, spec, settings)
    refine = settings.refine_intrinsics
    options = CalibrationOptions(
        fisheye_cameras=settings.fisheye_cameras,
        fix_k3=True if settings.fix_k3 else None,
        bundle=BundleOptions(refine_focal=refine, refine_principal_point=refine,
                             refine_distortion=refine, fix_k3=settings.fix_k3,
                             loss_scale_px=settings.loss_scale_px),
    )
    print("  bundle adjustment ...", file=sys.stderr)
    result = calibrate_rig(views, spec, options)
    rig, world = align_world(result.rig, result, spec, settings, folder)
    target = session.root / "calibration.toml"
    rig.save(target)
    report = write_report(session.out / "calibration", rig, result, views, spec, world,
                          time.perf_counter() - t0)
    print(report["text"], end="")
    print(f"wrote {target}")
    print(f"report: {session.out / 'calibration'}")
    return 0


def register(sub) -> None:
    p = sub.add_parser(
        "calibrate", help="calibrate the cameras from board videos or images (or adjust a "
                          "calibration from a capture's people)",
        description="Find the board (session.toml [calibration.board]) in "
                    "SESSION/calibration/<cam>.<video> or SESSION/calibration/<cam>/ images, "
                    "estimate every camera's intrinsics and pose (bundle adjusted, metres, Z up "
                    "when the board was seen on the floor), write SESSION/calibration.toml and a "
                    "report in SESSION/out/calibration/. After a capture, --refine-from-people "
                    "and --level-from-person adjust the existing SESSION/calibration.toml from "
                    "the people instead (no board needed); the previous file is kept as "
                    "SESSION/calibration.backup<N>.toml.")
    p.add_argument("session", help="session folder")
    p.add_argument("--refine-from-people", action="store_true",
                   help="refine the cameras' poses by bundle adjustment on the capture's 2D "
                        "keypoints (pose/ or videos/, as `mocap triangulate` reads them), "
                        "keeping the board's scale and world frame; prints the per-camera "
                        "reprojection error before and after")
    p.add_argument("--level-from-person", action="store_true",
                   help="level the floor from a person standing upright in the capture (Z up, "
                        "origin on the floor under the person, metres kept), from "
                        "out/points3d.npz or the 2D detections; best when the person turns "
                        "around on the spot (a standing body leans a degree or two forward)")
    p.set_defaults(func=run)
