"""A session's 2D detections: its ``pose/`` files, else detection on its ``videos/``
(:mod:`mocap.detect`), written to ``out/detections.npz``.

:func:`session_detections` is what ``mocap run`` calls: a session's ``pose/`` files when it
has them, otherwise detection on its ``videos/``. The detection stage itself
(:mod:`mocap.detect.run`) works on the video files and result files it is given; this module
names them: ``videos/<cam>.<ext>`` (or ``videos/<cam>/`` images) in,
``out/detect/<cam>.npz`` per camera, ``out/detections.npz`` and ``out/detections.json`` out.
"""
from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

from typing import TYPE_CHECKING

import numpy as np

from exporters.atomic import atomic_write

from ..errors import SessionError
from ..io.importers import POSE_FILE_EXTENSIONS, import_cameras
from ..types import Detections2D

if TYPE_CHECKING:
    from ..detect.frame_map import FrameMap
    from ..detect.run import CameraJob

log = logging.getLogger(__name__)


__all__ = ["session_detections", "pose_files", "pose_entries_check", "camera_sources",
           "camera_jobs", "check_frame_sizes", "detect_session", "pose_cameras",
           "recorded_frame_maps", "heatmaps_for"]


def _pose_camera(entry: Path) -> "str | None":
    """The camera a ``pose/`` entry is for: ``<cam>/`` or ``<cam>_json/`` (OpenPose), or
    ``<cam>.json|.csv|.h5|...`` (one file per camera); None for anything else."""
    if entry.name.startswith("."):
        return None
    if entry.is_dir():
        return entry.name[:-len("_json")] if entry.name.endswith("_json") else entry.name
    for ext in sorted(POSE_FILE_EXTENSIONS, key=len, reverse=True):
        if entry.is_file() and entry.name.lower().endswith(ext):
            return entry.name[:-len(ext)]
    return None


def pose_cameras(root: Path) -> list[str]:
    """The cameras ``root/pose/`` has detections for (its folders and files, see
    :func:`_pose_camera`), in the folder's sorted order."""
    folder = Path(root) / "pose"
    found = (_pose_camera(e) for e in sorted(folder.iterdir())) if folder.is_dir() else ()
    return list(dict.fromkeys(c for c in found if c))


def pose_entries_check(root: Path, camera_names: "tuple[str, ...]") -> None:
    """Warn about ``pose/`` folders and files no calibration camera owns (they are not
    read); none owned by any camera is an error.

    Raises:
        SessionError: naming what ``pose/`` holds and the calibration's cameras.
    """
    folder = Path(root) / "pose"
    entries = {e.name: _pose_camera(e) for e in sorted(folder.iterdir())}
    entries = {name: cam for name, cam in entries.items() if cam is not None}
    stray = [name for name, cam in entries.items() if cam not in camera_names]
    cams = ", ".join(camera_names)
    if entries and len(stray) == len(entries):
        raise SessionError(f"{folder}: no detections of any calibration camera: found "
                           f"{', '.join(stray)}; the calibration has cameras {cams} (expected "
                           f"pose/<camera>/, pose/<camera>_json/ or pose/<camera>.json|.csv|.h5)")
    if stray:
        log.warning("%s: %s belong to no camera of the calibration (%s) and are not read",
                    folder, ", ".join(stray), cams)


def pose_files(root: Path, camera_names: "tuple[str, ...]") -> "list[Path] | None":
    """``pose/<cam>.json|.csv|.h5`` of every camera (COCO results, DeepLabCut, SLEAP), or None
    when the session has none (an OpenPose folder per camera is read by the session)."""
    folder = Path(root) / "pose"
    found = []
    for cam in camera_names:
        hits = [folder / f"{cam}{ext}" for ext in POSE_FILE_EXTENSIONS
                if (folder / f"{cam}{ext}").is_file()]
        found.append(hits[0] if hits else None)
    if all(f is None for f in found):
        return None
    missing = [c for c, f in zip(camera_names, found) if f is None]
    if missing:
        raise SessionError(f"{folder}: no detections file for camera(s) {', '.join(missing)} "
                           f"(expected pose/<camera>.json, .csv or .h5 like the others)")
    return found  # type: ignore[return-value]


def camera_sources(root: Path, camera_names: "tuple[str, ...]") -> list[Path]:
    """Each camera's ``videos/<cam>.<ext>`` (or image folder ``videos/<cam>/``), rig order.

    Raises:
        SessionError: naming the cameras without a source and what was found.
    """
    from ..detect.video import find_source  # lazy: the detectors, only for sessions of videos
    folder = Path(root) / "videos"
    found = [find_source(folder, c) for c in camera_names]
    missing = [c for c, p in zip(camera_names, found) if p is None]
    if missing:
        have = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
        raise SessionError(f"{folder}: no video for camera(s) {', '.join(missing)} (expected "
                           f"videos/<camera>.mp4 or videos/<camera>/ with images, camera "
                           f"names as in the calibration); found {have}")
    return found  # type: ignore[return-value]


def check_frame_sizes(jobs: "list[CameraJob]", rig) -> "list[FrameMap | None]":
    """Each camera's map from its video's pixels to its calibration's (``size_wh``).

    A camera whose frames are the calibration's size needs none (None, no frame read); for
    the others a few frames are sampled and :func:`mocap.detect.frame_map.decide_frame_map`
    tells a codec's padding/cropping (used as they are, within
    :data:`FRAME_SIZE_TOLERANCE`) from the calibration's frame scaled, with or without black
    bars (scaled back, bars taken off). What was decided is logged per camera.

    Args:
        jobs: the cameras' detection jobs (their probed sources). rig: the calibration.
    Returns:
        (C,) a :class:`~mocap.detect.frame_map.FrameMap` or None per job.
    Raises:
        SessionError: frames that fit neither explanation, naming the camera and both sizes.
    """
    from ..detect.frame_map import (FRAME_SIZE_TOLERANCE, black_bars,   # lazy, as in camera_jobs
                                    decide_frame_map)
    from ..detect.video import sample_frames
    maps = []
    for job in jobs:
        found, want = tuple(job.info.size_wh), tuple(rig[job.info.camera].size_wh)
        if found == want:
            maps.append(None)
            continue
        bars = black_bars(sample_frames(job.info))
        fm = decide_frame_map(job.info.camera, found, want, bars, FRAME_SIZE_TOLERANCE)
        log.info("camera %s: frames of %d x %d px, the calibration says %d x %d: %s (%s); "
                 "detections mapped into the calibration's frame", job.info.camera, *found,
                 *want, fm.kind, fm.reason)
        maps.append(fm)
    return maps


def camera_jobs(root: "str | Path", camera_names: "tuple[str, ...]", settings,
                rig=None, chunk_frames: "int | None" = None) -> list[CameraJob]:
    """One detection job per camera of a session (``videos/<cam>``), in the rig's order.

    Each job writes ``out/detect/<cam>.npz``; a job whose file already holds the same
    fingerprint (source, frames, detector) is done (see :func:`mocap.detect.run.job_done`).
    Lets a scheduler (``mocap batch --ray``) run cameras anywhere before the session itself
    runs.

    With ``rig`` (the calibration), each camera's frames must map to its ``size_wh``
    (:func:`check_frame_sizes`: a codec's padding, or the calibration's frame scaled).
    ``chunk_frames``: frames per checkpoint (None: :data:`mocap.detect.run.CHUNK_FRAMES`).

    Raises:
        SessionError / DetectorError: missing or inconsistent videos, frames of another size
        than the calibration's, bad [detect] settings.
    """
    from ..detect.run import make_jobs      # lazy: the detectors, only for sessions of videos
    root = Path(root)
    sources = camera_sources(root, camera_names)
    jobs = make_jobs(sources, camera_names, settings, root / "out" / "detect", root,
                     **({"chunk_frames": chunk_frames} if chunk_frames else {}))
    if rig is not None:
        check_frame_sizes(jobs, rig)
    return jobs


def recorded_frame_maps(out: Path) -> "dict[str, np.ndarray]":
    """The maps ``out/detections.json`` recorded (:func:`detect_session`): camera name ->
    (2, 3) affine from its video's pixels to its calibration's, for the cameras whose video
    is not the calibration's size ({} when none, or no such file)."""
    try:
        cams = json.loads((Path(out) / "detections.json").read_text()).get("cameras", [])
        return {c["name"]: np.asarray(c["frame_map"]["A_calib_from_video"], float)
                for c in cams if c.get("frame_map")}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def detect_session(root: "str | Path", camera_names: "tuple[str, ...]", settings,
                   workers: "int | None" = None, rig=None,
                   chunk_frames: "int | None" = None) -> Detections2D:
    """Detect 2D keypoints in a session's videos; write ``out/detections.npz``.

    Args:
        root: the session folder (videos in ``videos/``).
        camera_names: the rig's cameras, in its order.
        settings: the session's :class:`~mocap.settings.Settings`.
        workers: parallel processes (None: ``[detect] workers``).
        rig: the calibration; when given, each camera's frames are mapped to its
            ``size_wh`` (decided before any detection, :func:`check_frame_sizes`): the
            detections are in the calibration's pixels, ``out/detections.json`` records
            each camera's ``frame_map``.
        chunk_frames: frames per checkpoint of a camera (None: 900, see
            :mod:`mocap.detect.chunks`).
    Returns:
        the detections, also saved to ``out/detections.npz`` (and a summary to
        ``out/detections.json``).
    """
    root = Path(root)
    from ..detect.run import detect_jobs, detection_summary     # lazy, as in camera_jobs
    from ..detect.frame_map import map_detections
    jobs = camera_jobs(root, camera_names, settings, chunk_frames=chunk_frames)
    maps = check_frame_sizes(jobs, rig) if rig is not None else [None] * len(jobs)
    # the per-camera results (out/detect/) stay in video pixels; the mapping follows them
    det = map_detections(detect_jobs(jobs, camera_names, settings, workers,
                                     desc=f"detect {root.name}"), maps)
    out = root / "out"
    det.save(out / "detections.npz")
    summary = detection_summary(jobs, det)
    for cam, fm in zip(summary["cameras"], maps):
        cam["frame_map"] = None if fm is None else fm.to_json()
    with atomic_write(out / "detections.json", "w") as fh:
        json.dump(summary, fh, indent=2)
    return det


def heatmaps_for(det: Detections2D, method: str) -> Detections2D:
    """The detections the later stages need: the heatmaps only for ``[triangulate] method =
    "volumetric"`` (sync, association and triangulation each copy them: a take's heatmaps
    several times over in memory, for nothing with the algebraic method). The detection
    stage's own files keep them."""
    if method == "volumetric" or det.heatmaps is None:
        return det
    return dataclasses.replace(det, heatmaps=None, heatmap_affine=None)


def session_detections(session, rig, settings) -> Detections2D:
    """The 2D detections of a session, in the rig's camera order.

    In order: ``pose/<cam>/`` OpenPose folders (or ``pose/<cam>.json|.csv|.h5`` files; others
    in ``pose/`` are named in a warning, or an error when no camera has one), else
    detection on ``videos/<cam>.<ext>`` (written to ``out/detections.npz``; cameras already
    done with the same inputs and settings are not redone), else a previous
    ``out/detections.npz``.

    Args:
        session: the :class:`~mocap.app.session.Session`. rig: its cameras.
        settings: its :class:`~mocap.settings.Settings`.
    Raises:
        SessionError: none of these, naming what was expected.
    """
    root = session.root
    if (root / "pose").is_dir():
        pose_entries_check(root, rig.names)
        files = pose_files(root, rig.names)
        if files is not None:
            return import_cameras(files, rig.names, settings.detect.format, settings.take.fps,
                                  [cam.size_wh for cam in rig])
        return session.detections(rig, settings)
    if (root / "videos").is_dir():
        return detect_session(root, rig.names, settings, rig=rig)
    saved = root / "out" / "detections.npz"
    if saved.is_file():
        det = Detections2D.load(saved)
        if tuple(det.camera_names) != tuple(rig.names):
            raise SessionError(f"{saved}: cameras {list(det.camera_names)} differ from the "
                               f"calibration's {list(rig.names)}")
        return det
    raise SessionError(f"{root}: no 2D detections: expected pose/<camera>/ (OpenPose JSON), "
                       f"pose/<camera>.json|.csv|.h5 (COCO results, DeepLabCut, SLEAP) or "
                       f"videos/<camera>.<ext> to detect people in")
