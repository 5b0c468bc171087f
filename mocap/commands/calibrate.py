"""``mocap calibrate SESSION``: board videos or images -> ``SESSION/calibration.toml``.

Reads ``SESSION/calibration/<cam>.<video>`` files or ``SESSION/calibration/<cam>/`` image
folders (and optionally ``SESSION/calibration/floor/<cam>.<image>``: the board lying on the
floor, which sets the world frame), the board from ``session.toml [calibration.board]`` (or
``board_file``), and writes the calibrated rig (anipose TOML, metres, atomically) and a report
in ``SESSION/out/calibration/``: ``report.json``, ``report.txt`` (per-camera reprojection error
and image coverage) and ``camera_poses.png``.
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
    from ..errors import SessionError

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
    from ..errors import SessionError
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
                "images): the world frame is camera %s's, not levelled", rig.names[0])
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


def run(args) -> int:
    from calibration.bundle import BundleOptions
    from calibration.calibrate import CalibrationOptions, calibrate_rig
    from calibration.detection import find_camera_sources
    from ..session import Session

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
        fix_k3=settings.fix_k3,
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
        "calibrate", help="calibrate the cameras from board videos or images",
        description="Find the board (session.toml [calibration.board]) in "
                    "SESSION/calibration/<cam>.<video> or SESSION/calibration/<cam>/ images, "
                    "estimate every camera's intrinsics and pose (bundle adjusted, metres, Z up "
                    "when the board was seen on the floor), write SESSION/calibration.toml and a "
                    "report in SESSION/out/calibration/.")
    p.add_argument("session", help="session folder")
    p.set_defaults(func=run)
