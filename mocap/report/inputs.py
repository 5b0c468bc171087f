"""What the report reads from a session folder: the one place where it touches the disk
(besides writing the page, :func:`mocap.report.write_report`).

:func:`gather_inputs` loads the artifacts (paths from ``out/manifest.json``'s ``artifacts``,
relative to ``out/``): ``points3d`` (the result) and ``points3d_raw`` (before filtering),
:class:`~mocap.types.Points3D` files; ``detections``, the 2D detections the triangulation read
(a :class:`~mocap.types.Detections2D` file on the take's frames), else the detect stage's
``out/detections.npz``, else the session's ``pose/`` files; ``sync`` (else ``out/sync.json``),
the camera offsets, which re-time those last two and the video frames to the take's frames;
``identities`` (else ``out/identities.npz``), which then orders their people as the 3D ones.
Without a manifest it looks for the default file names and says so. Anything absent or
unreadable becomes a note (:attr:`ReportInputs.notes`). :func:`read_overlay_videos` reads
the few video frames of the overlay contact sheet. The report never runs a stage itself (no
detector, no solver).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from calibration import CalibrationError, Rig

from ..associate import Identities, detections_by_identity
from ..detect import session_detections
from ..errors import MocapError
from ..app.session import Session
from ..settings import Settings
from ..sync import shift_detections
from ..types import Detections2D, Points3D
from .data import frame_shift

__all__ = ["ReportInputs", "gather_inputs", "find_video", "read_video_frames",
           "read_overlay_videos", "VIDEO_EXTENSIONS"]

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm", ".mpg", ".mpeg")
_LABEL_OF = {"points3d": "3D keypoints (filtered)", "points3d_raw": "3D keypoints (raw)",
             "detections": "2D detections"}


@dataclass
class ReportInputs:
    """Everything the report draws from, loaded once; ``None`` where absent.

    Attributes:
        session: the session folder. settings: its settings.
        rig: the cameras, or None. manifest: ``out/manifest.json`` as a dict, or None.
        points: the result (filtered) or None. raw: before filtering, or None.
        detections: the 2D detections, or None, on the take's frames (re-timed by the camera
            offsets when the sync stage found some). detections_source: where they came from.
            detections_retimed: they came on the take's frames (the manifest's ``detections``,
            which the triangulation read) and are not shifted again.
        sync: the sync stage's record (``out/sync.json``) or None. offsets: (C,) int frames
            by which each camera runs late (its frame f shows take frame f + offset), or None.
        notes: one line per artifact that is absent or unreadable, shown in the page.
        calibration_file: the file the rig was read from, or None.
        files_present: for every file the manifest lists (artifacts and people's files, as
            written there, relative to ``out/``), whether it is on disk.
    """

    session: Session
    settings: Settings
    rig: "Rig | None" = None
    manifest: "dict | None" = None
    points: "Points3D | None" = None
    raw: "Points3D | None" = None
    detections: "Detections2D | None" = None
    detections_source: str = ""
    detections_retimed: bool = False
    sync: "dict | None" = None
    offsets: "np.ndarray | None" = None
    notes: list = field(default_factory=list)
    calibration_file: "Path | None" = None
    files_present: dict = field(default_factory=dict)


def _artifact_path(session: Session, manifest: "dict | None", key: str,
                   default: str) -> "Path | None":
    if manifest is not None:
        rel = manifest.get("artifacts", {}).get(key)
        return None if rel is None else session.out / rel
    path = session.out / default
    return path if path.is_file() else None


def _read_manifest(session: Session, notes: list) -> "dict | None":
    path = session.out / "manifest.json"
    if not path.is_file():
        notes.append(f"{path}: no manifest (the pipeline has not run here); looking for the "
                     f"default file names in {session.out}")
        return None
    try:
        doc = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        notes.append(f"{path}: not valid JSON ({exc}); ignored")
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("artifacts", {}), dict):
        notes.append(f"{path}: expected an object with an 'artifacts' table; ignored")
        return None
    return doc


def _files_present(session: Session, manifest: "dict | None") -> dict:
    """Whether each file the manifest lists (artifacts, then people's files) is on disk."""
    if manifest is None:
        return {}
    listed = [str(v) for v in manifest.get("artifacts", {}).values()]
    for person in manifest.get("people", []):
        listed += [str(f) for f in person.get("files", [])]
    return {rel: (session.out / rel).is_file() for rel in listed}


def _load_points(session, manifest, key, default, notes) -> "Points3D | None":
    path = _artifact_path(session, manifest, key, default)
    if path is None:
        notes.append(f"{_LABEL_OF[key]}: not produced ({key!r} is not in the manifest)"
                     if manifest is not None else f"{_LABEL_OF[key]}: no {default}")
        return None
    try:
        return Points3D.load(path)
    except MocapError as exc:
        notes.append(f"{_LABEL_OF[key]}: {exc}")
        return None


def _load_detections(inp: ReportInputs) -> None:
    """The 2D detections as the pipeline read them, without running a detector: the
    manifest's ``detections``, else ``out/detections.npz`` (the detect stage's), else the
    session's ``pose/`` files."""
    session, notes = inp.session, inp.notes
    listed = _artifact_path(session, inp.manifest, "detections", "detections.npz")
    path = listed if inp.manifest is not None else None
    if path is None and (session.out / "detections.npz").is_file():
        path = session.out / "detections.npz"
    if path is not None:
        try:
            inp.detections = Detections2D.load(path)
            inp.detections_source = str(path.relative_to(session.root))
            # the manifest's detections are those triangulated: already on the take's frames
            inp.detections_retimed = path == listed and inp.manifest is not None
            return
        except MocapError as exc:
            notes.append(f"{_LABEL_OF['detections']}: {exc}; trying the session's pose/ files")
    if inp.rig is None or not (session.root / "pose").is_dir():
        notes.append(f"2D detections: none (no detections artifact, no "
                     f"{session.out / 'detections.npz'} and no {session.root / 'pose'} folder)")
        return
    try:
        inp.detections = session_detections(session, inp.rig, inp.settings)
        inp.detections_source = "pose/"
    except MocapError as exc:
        notes.append(f"2D detections: {exc}")


def _load_sync(inp: ReportInputs) -> None:
    """Camera offsets from the sync stage (``sync`` in the manifest, else ``out/sync.json``);
    they re-time the detections and the video frames to the take's frames."""
    path = _artifact_path(inp.session, inp.manifest, "sync", "sync.json")
    if path is None and (inp.session.out / "sync.json").is_file():
        path = inp.session.out / "sync.json"
    if path is None:
        return
    try:
        doc = json.loads(path.read_text())
        names, offsets = tuple(doc["camera_names"]), np.asarray(doc["offsets"], int)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        inp.notes.append(f"camera sync: {path} cannot be read ({exc}); offsets taken as 0")
        return
    if inp.rig is not None and names != inp.rig.names or offsets.shape != (len(names),):
        inp.notes.append(f"camera sync: {path} is for cameras {list(names)}, not the rig's "
                         f"{list(inp.rig.names) if inp.rig else []}; offsets taken as 0")
        return
    inp.sync, inp.offsets = doc, offsets


def _apply_identities(inp: ReportInputs) -> None:
    """Put the detections' people in the order of the 3D keypoints (the association stage's
    ``identities``, else ``out/identities.npz``), as the triangulation read them."""
    path = _artifact_path(inp.session, inp.manifest, "identities", "identities.npz")
    if path is None and (inp.session.out / "identities.npz").is_file():
        path = inp.session.out / "identities.npz"
    if path is None:
        return
    det = inp.detections
    try:
        ids = Identities.load(path)
    except MocapError as exc:
        inp.notes.append(f"identities: {exc}; 2D people left in the detector's order")
        return
    if ids.slot_identity.shape != det.shape[:3] or tuple(ids.camera_names) != det.camera_names:
        inp.notes.append(f"identities: {path} covers (C, F, K) = {ids.slot_identity.shape} of "
                         f"cameras {list(ids.camera_names)}, the detections are "
                         f"{det.shape[:3]} of {list(det.camera_names)}; 2D people left in "
                         f"the detector's order")
        return
    inp.detections = detections_by_identity(det, ids.slot_identity, ids.num_people)
    inp.detections_source += ", people matched by the association's identities"


def gather_inputs(session_dir: "str | Path") -> ReportInputs:
    """Load what the report needs from a session folder, noting what is absent.

    This is where the report reads the session's files (settings, calibration, manifest,
    artifacts); everything it computes and draws from them works in memory.

    Raises:
        SessionError: only if ``session_dir`` is not a folder; every other problem becomes a
            note in :attr:`ReportInputs.notes`.
    """
    session = Session(Path(session_dir))
    notes: list[str] = []
    try:
        settings = session.settings()
    except MocapError as exc:
        notes.append(f"settings: {exc}; using the defaults")
        settings = Settings()
    inp = ReportInputs(session=session, settings=settings, notes=notes)
    try:
        inp.rig = session.rig()
        inp.calibration_file = session.calibration_path()
    except (MocapError, CalibrationError) as exc:
        notes.append(f"calibration: {exc}")
    inp.manifest = _read_manifest(session, notes)
    inp.files_present = _files_present(session, inp.manifest)
    inp.points = _load_points(session, inp.manifest, "points3d", "points3d.npz", notes)
    inp.raw = _load_points(session, inp.manifest, "points3d_raw", "points3d_raw.npz", notes)
    _load_detections(inp)
    _load_sync(inp)
    if inp.detections is not None and not inp.detections_retimed:
        if inp.offsets is not None and inp.offsets.any():
            inp.detections = shift_detections(inp.detections, inp.offsets)
            inp.detections_source += ", re-timed by the sync stage's offsets"
        _apply_identities(inp)
    return inp


# ------------------------------------------------------------------------------ videos

def find_video(session_root: Path, camera: str) -> "Path | None":
    """The video of a camera: ``videos/<camera>.<ext>`` for a known extension, or None."""
    for ext in VIDEO_EXTENSIONS:
        for cand in (session_root / "videos" / f"{camera}{ext}",
                     session_root / "videos" / f"{camera}{ext.upper()}"):
            if cand.is_file():
                return cand
    return None


def read_video_frames(path: Path, frames: np.ndarray) -> dict:
    """Some frames of a video.

    Args:
        path: a video file OpenCV reads. frames: (k,) int frame indices from 0.
    Returns:
        ``{frame: (H, W, 3) uint8 BGR}`` for the frames that could be read (a frame past the
        end, or a file that does not open, is simply absent).
    """
    cap = cv2.VideoCapture(str(path))
    out = {}
    try:
        if not cap.isOpened():
            return out
        pos = -1
        for f in sorted(int(f) for f in frames):
            if f != pos + 1:
                cap.set(cv2.CAP_PROP_POS_FRAMES, f)
            ok, img = cap.read()
            pos = f
            if ok and img is not None:
                out[f] = img
    finally:
        cap.release()
    return out


def read_overlay_videos(inp: ReportInputs, frames: np.ndarray) -> list:
    """The video frames behind the overlay contact sheet, camera by camera.

    Args:
        inp: with a rig (and ``offsets`` when the cameras run late).
        frames: (k,) int frames of the take (see :func:`mocap.report.data.sheet_frames`).
    Returns:
        per camera of the rig, ``(video, images)``: the video file (None when the session has
        none) and ``{camera frame: (H, W, 3) uint8 BGR}`` of the frames read; the camera's
        frame f - offset shows the take's frame f (see :mod:`mocap.sync`).
    """
    out = []
    for c, cam in enumerate(inp.rig):
        video = find_video(inp.session.root, cam.name)
        in_video = frames - frame_shift(inp.offsets, c)
        images = ({} if video is None else
                  read_video_frames(video, in_video[in_video >= 0]))
        out.append((video, images))
    return out
