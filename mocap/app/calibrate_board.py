"""A session's cameras calibrated from board videos or images (``mocap calibrate SESSION``).

Reads ``SESSION/calibration/<cam>.<video>`` files or ``SESSION/calibration/<cam>/`` image
folders (and optionally ``SESSION/calibration/floor/<cam>.<image>``: the board lying on the
floor, which sets the world frame), the board from ``session.toml [calibration.board]`` (or
``board_file``), and writes the calibrated rig (anipose TOML, metres, atomically) and a report
in ``SESSION/out/calibration/``: ``report.json``, ``report.txt`` (per-camera reprojection error
and image coverage) and ``camera_poses.png``.

The steps are separate so that the CLI can report progress between them: :func:`board_inputs`,
:func:`detection_step`, :func:`detect_camera` per camera, then :func:`calibrate_session`.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from calibration.boards import (CHECKERBOARD, IMAGE_EXTENSIONS, board_from_dict, detect_corners,
                                detect_source, find_board, find_camera_sources, natural_key,
                                require_board, video_frame_count)
from calibration.bundle import BundleOptions
from calibration.calibrate import CalibrationOptions, calibrate_rig
from calibration.intrinsics import MIN_INTRINSIC_VIEWS
from calibration.plot import plot_rig
from calibration.world import align_to_floor_board, locate_board

from exporters.atomic import atomic_write

from ..errors import SessionError
from ..people_calibration import world_change
from .session import Session

log = logging.getLogger(__name__)

__all__ = ["FLOOR_FOLDER", "BoardInputs", "board_spec", "camera_order", "frame_step",
           "board_inputs", "detection_step", "detect_camera", "align_world", "write_report",
           "calibrate_session"]

FLOOR_FOLDER = "floor"


def board_spec(settings, root: Path):
    """The board of the session: ``board_file`` when set, else ``[calibration.board]``."""
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
    if not wanted:
        return list(found)
    missing = [c for c in wanted if c not in found]
    if missing:
        raise SessionError(f"{folder}: expected calibration inputs for cameras {list(wanted)} "
                           f"([calibration] cameras), found none for {missing}; found {list(found)}")
    return list(wanted)


def frame_step(sources: dict, max_frames: int) -> int:
    """One sampling step for every video: the shortest video yields ``max_frames`` frames."""
    counts = [video_frame_count(p) for p in sources.values() if p.is_file()]
    counts = [n for n in counts if n > 0]
    if not counts or max_frames <= 0:
        return 1
    return max(1, math.ceil(min(counts) / max_frames))


@dataclass(frozen=True)
class BoardInputs:
    """What a board calibration of a session reads.

    Attributes:
        session: the session. settings: its ``[calibration]`` settings. spec: the board.
        folder: ``SESSION/calibration``. sources: ``{camera: video file or image folder}``.
        names: the cameras, in rig order.
    """

    session: Session
    settings: object
    spec: object
    folder: Path
    sources: dict
    names: list


def board_inputs(folder: "str | Path") -> BoardInputs:
    """The session's board, calibration sources and camera order."""
    session = Session(Path(folder))
    settings = session.settings().calibration
    spec = board_spec(settings, session.root)
    calib = session.root / "calibration"
    sources = find_camera_sources(calib)
    sources.pop(FLOOR_FOLDER, None)
    return BoardInputs(session, settings, spec, calib, sources,
                       camera_order(sources, settings.cameras, calib))


def detection_step(inputs: BoardInputs) -> int:
    """The frame step of every camera (see :func:`frame_step`)."""
    return frame_step({n: inputs.sources[n] for n in inputs.names},
                      inputs.settings.max_frames_per_camera)


def detect_camera(inputs: BoardInputs, name: str, step: int, progress=None):
    """Board views of camera ``name`` (every ``step``-th frame); ``progress(done, total)`` is
    called as frames are read.

    Raises:
        BoardNotFoundError: the board in too few views to calibrate the camera.
    """
    views = detect_source(inputs.sources[name], inputs.spec, name, step,
                          inputs.settings.max_blur_px, progress)
    require_board(views, inputs.spec, MIN_INTRINSIC_VIEWS)
    return views


def _floor_corners(rig, spec, floor: Path) -> dict:
    """``{camera: (N, 2) board corners, NaN where unseen}`` of the floor images."""
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
    return corners


def align_world(rig, result, spec, settings, folder: Path):
    """Put the rig on the floor: the floor frame, the floor images, or leave it (with a note)."""
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
        corners = _floor_corners(rig, spec, floor)
        rig, _ = align_to_floor_board(rig, locate_board(rig, corners, spec))
        return rig, f"board on the floor ({', '.join(corners)})"
    log.warning("no floor board (set [calibration] floor_frame or add calibration/floor/ "
                "images, or after a capture run `mocap calibrate SESSION --level-from-person`): "
                "the world frame is camera %s's, not levelled", rig.names[0])
    return rig, f"camera {rig.names[0]} (not levelled: no floor board)"


def _camera_rows(rig, result, views) -> list[dict]:
    """The report's row of every camera."""
    return [{
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
    } for c, (cam, v) in enumerate(zip(rig, views))]


def _report_text(rig, result, spec, world: str, per_cam: list) -> str:
    """``report.txt``: the summary and one line per camera."""
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
    return "\n".join(lines) + "\n"


def write_report(out: Path, rig, result, views, spec, world: str, seconds: float) -> dict:
    """``report.json``, ``report.txt`` and ``camera_poses.png`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    per_cam = _camera_rows(rig, result, views)
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
    text = _report_text(rig, result, spec, world, per_cam)
    with atomic_write(out / "report.txt", "w") as fh:
        fh.write(text)
    T_new = world_change(result.rig, rig)
    boards = np.array([T_new[:3, :3] @ T[:3, :3] @ (np.r_[spec.size_m, 0.0] / 2) + T_new[:3, :3] @ T[:3, 3]
                       + T_new[:3, 3] for T in result.board_poses.values()])
    plot_rig(rig, out / "camera_poses.png", boards, f"camera poses ({world})",
             [r["reprojection_error_px"] for r in per_cam])
    return {"text": text, **report}


def calibrate_session(inputs: BoardInputs, views: list, started: float) -> tuple[dict, Path]:
    """Bundle-adjust the cameras from their board ``views``, put the rig on the floor, write
    ``calibration.toml`` and the report (``started``: ``time.perf_counter()`` at the start).

    Returns:
        the report (:func:`write_report`) and the calibration file written.
    """
    s = inputs.settings
    refine = s.refine_intrinsics
    options = CalibrationOptions(
        fisheye_cameras=s.fisheye_cameras,
        fix_k3=True if s.fix_k3 else None,
        bundle=BundleOptions(refine_focal=refine, refine_principal_point=refine,
                             refine_distortion=refine, fix_k3=s.fix_k3,
                             loss_scale_px=s.loss_scale_px),
    )
    result = calibrate_rig(views, inputs.spec, options)
    rig, world = align_world(result.rig, result, inputs.spec, s, inputs.folder)
    target = inputs.session.root / "calibration.toml"
    rig.save(target)
    report = write_report(inputs.session.out / "calibration", rig, result, views, inputs.spec,
                          world, time.perf_counter() - started)
    return report, target
