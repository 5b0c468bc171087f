"""The report of a session folder (``mocap report``): read the session, draw the page
(:mod:`mocap.report`, in memory), write ``SESSION/out/report.html``.

:func:`gather_inputs` loads the artifacts (paths from ``out/manifest.json``'s ``artifacts``,
relative to ``out/``): ``points3d`` (the result) and ``points3d_raw`` (before filtering),
:class:`~mocap.types.Points3D` files; ``detections``, the 2D detections the triangulation read
(a :class:`~mocap.types.Detections2D` file on the take's frames), else the detect stage's
``out/detections.npz``, else the session's ``pose/`` files; ``sync`` (else ``out/sync.json``),
the camera offsets, which re-time those last two and the video frames to the take's frames;
``identities`` (else ``out/identities.npz``), which then orders their people as the 3D ones.
Without a manifest it looks for the default file names and says so. Anything absent or
unreadable becomes a note (:attr:`~mocap.report.ReportInputs.notes`).
:func:`read_overlay_videos` reads the few video frames of the overlay contact sheet. The
report never runs a stage itself (no detector, no solver).
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from calibration import CalibrationError

from exporters.atomic import atomic_write

from ..associate import Identities, detections_by_identity
from ..errors import MocapError
from ..export.contacts import CONTACT_COLUMNS, read_contacts_csv
from ..report import ReportInputs, render_page
from ..opensim import read_sto
from ..report.biomech import curves_from_angles_csv, curves_from_mot
from ..report.data import frame_shift, sheet_frames
from ..settings import Settings
from ..sync import shift_detections
from ..types import Detections2D, Manifest, Points3D
from ..detect.frame_map import warp_to_calibration
from .detections import recorded_frame_maps, session_detections
from .session import Session

log = logging.getLogger("mocap.report")         # the report's logger, as before the split

__all__ = ["SessionInputs", "gather_inputs", "find_video", "read_video_frames",
           "read_overlay_videos", "render_report", "write_report", "VIDEO_EXTENSIONS"]

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm", ".mpg", ".mpeg")
_LABEL_OF = {"points3d": "3D keypoints (filtered)", "points3d_raw": "3D keypoints (raw)",
             "detections": "2D detections"}


@dataclass
class SessionInputs(ReportInputs):
    """:class:`~mocap.report.ReportInputs` read from a session folder, with the
    :class:`~mocap.app.session.Session` they came from (its videos, its files)."""

    session: "Session | None" = None


def _artifact_path(session: Session, manifest: "Manifest | None", key: str,
                   default: str) -> "Path | None":
    if manifest is not None:
        rel = manifest.artifacts.get(key)
        return None if rel is None else session.out / rel
    path = session.out / default
    return path if path.is_file() else None


def _read_manifest(session: Session, notes: list) -> "Manifest | None":
    path = session.manifest_path
    if not path.is_file():
        notes.append(f"{path}: no manifest (the pipeline has not run here); looking for the "
                     f"default file names in {session.out}")
        return None
    try:
        return Manifest.load(path)
    except MocapError as exc:
        notes.append(f"{exc}; ignored")
        return None


def _files_present(session: Session, manifest: "Manifest | None") -> dict:
    """Whether each file the manifest lists (artifacts, then people's files) is on disk."""
    if manifest is None:
        return {}
    listed = [str(v) for v in manifest.artifacts.values()]
    for person in manifest.people:
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


def _load_detections(inp: SessionInputs) -> None:
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


def _load_sync(inp: SessionInputs) -> None:
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


def _apply_identities(inp: SessionInputs) -> None:
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


def _session_inputs(session: Session) -> SessionInputs:
    """The session's settings (the defaults, with a note, when they cannot be read), its
    names for the page, and its calibration."""
    notes: list[str] = []
    try:
        settings = session.settings()
    except MocapError as exc:
        notes.append(f"settings: {exc}; using the defaults")
        settings = Settings()
    inp = SessionInputs(settings=settings, name=session.root.resolve().name,
                        location=str(session.root.resolve()), files_dir=str(session.out),
                        notes=notes, session=session)
    try:
        inp.rig = session.rig()
        inp.calibration_file = session.calibration_path()
    except (MocapError, CalibrationError) as exc:
        notes.append(f"calibration: {exc}")
    return inp


def _load_biomech(inp: SessionInputs) -> None:
    """Each person's angle curves: the fitted body's ``angles.csv`` and OpenSim's ``ik.mot``
    (as the manifest names them); one that cannot be read is a note."""
    if inp.manifest is None:
        return
    F = inp.points.xyz.shape[0] if inp.points is not None else None
    fps = inp.points.fps if inp.points is not None else inp.settings.take.fps
    for person in inp.manifest.people:
        sources = {}
        angles = person.get("angles")
        motion = person.get("opensim", {}).get("motion")
        try:
            if angles and (inp.session.out / angles).is_file():
                table = np.genfromtxt(inp.session.out / angles, delimiter=",", names=True)
                sources["body fit"] = curves_from_angles_csv(table)
                F = F or len(table)
            if motion and F and (inp.session.out / motion).is_file():
                _, labels, values = read_sto(inp.session.out / motion)
                body = person["opensim"].get("marker_source") == "body"
                sources["IK (body markers)" if body else "IK"] = curves_from_mot(
                    labels, values, fps, F)
        except (OSError, ValueError, KeyError, StopIteration) as exc:
            inp.notes.append(f"person {person.get('id')}: joint angles unreadable ({exc})")
        if sources:
            inp.biomech[int(person["id"])] = sources


def _load_contacts(session: Session, manifest: "Manifest | None", notes: list) -> dict:
    """{person id: {column: (F,) bool}} from each person's ``contacts.csv`` the manifest lists."""
    out = {}
    for person in (manifest.people if manifest is not None else ()):
        name = person.get("contacts")
        if not name:
            continue
        try:
            flags = read_contacts_csv(session.out / name)
        except (MocapError, OSError) as exc:
            notes.append(f"foot contacts of person {person.get('id')}: {exc}")
            continue
        out[person.get("id")] = {c: flags[:, k] for k, c in enumerate(CONTACT_COLUMNS)}
    return out


def gather_inputs(session_dir: "str | Path") -> SessionInputs:
    """Load what the report needs from a session folder, noting what is absent.

    This is where the report's session files are read (settings, calibration, manifest,
    artifacts); everything computed and drawn from them works in memory (:mod:`mocap.report`).

    Raises:
        SessionError: only if ``session_dir`` is not a folder; every other problem becomes a
            note in :attr:`~mocap.report.ReportInputs.notes`.
    """
    session = Session(Path(session_dir))
    inp = _session_inputs(session)
    notes = inp.notes
    inp.manifest = _read_manifest(session, notes)
    inp.files_present = _files_present(session, inp.manifest)
    inp.points = _load_points(session, inp.manifest, "points3d", "points3d.npz", notes)
    inp.raw = _load_points(session, inp.manifest, "points3d_raw", "points3d_raw.npz", notes)
    _load_biomech(inp)
    inp.contacts = _load_contacts(session, inp.manifest, notes)
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


def read_overlay_videos(inp: SessionInputs, frames: np.ndarray) -> list:
    """The video frames behind the overlay contact sheet, camera by camera.

    Args:
        inp: with a rig (and ``offsets`` when the cameras run late).
        frames: (k,) int frames of the take (see :func:`mocap.report.data.sheet_frames`).
    Returns:
        per camera of the rig, ``(video, images)``: the video file (None when the session has
        none) and ``{camera frame: (H, W, 3) uint8 BGR}`` of the frames read; the camera's
        frame f - offset shows the take's frame f (see :mod:`mocap.sync`). A video that is
        not its calibration's size is resampled into the calibration's frame by the map the
        detection stage recorded (:func:`mocap.app.detections.recorded_frame_maps`).
    """
    out = []
    maps = recorded_frame_maps(inp.session.out)
    for c, cam in enumerate(inp.rig):
        video = find_video(inp.session.root, cam.name)
        in_video = frames - frame_shift(inp.offsets, c)
        images = ({} if video is None else
                  read_video_frames(video, in_video[in_video >= 0]))
        if cam.name in maps:
            images = {f: warp_to_calibration(img, maps[cam.name], cam.size_wh)
                      for f, img in images.items()}
        out.append((video, images))
    return out


# ------------------------------------------------------------------------------ the page

def render_report(inp: SessionInputs, overlay_frames: int = 4,
                  overlay_width_px: int = 320) -> str:
    """The report page as one HTML string (no script, no external address).

    Reads the overlay contact sheet's video frames (``SESSION/videos/``) and adds the notes
    found while drawing to ``inp.notes``.

    Args:
        inp: from :func:`gather_inputs`. overlay_frames: frames in the contact sheet.
        overlay_width_px: width of each overlay thumbnail.
    """
    frames = videos = None
    if inp.rig is not None and inp.points is not None:
        frames = sheet_frames(inp.points, overlay_frames)
        videos = read_overlay_videos(inp, frames)
    page, notes = render_page(inp, videos, frames, overlay_width_px)
    inp.notes.extend(notes)
    return page


def write_report(session_dir: "str | Path", path: "str | Path | None" = None,
                 overlay_frames: int = 4, overlay_width_px: int = 320) -> Path:
    """Write the report of a session, atomically.

    Args:
        session_dir: the session folder. path: where to write (default ``out/report.html``).
    Returns:
        the path written.
    """
    inp = gather_inputs(session_dir)
    page = render_report(inp, overlay_frames, overlay_width_px)
    path = Path(path) if path is not None else inp.session.out / "report.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "w", encoding="utf-8") as fh:
        fh.write(page)
    for note in inp.notes:
        log.info("report: %s", note)
    log.info("wrote %s (%.1f MB)", path, path.stat().st_size / 1e6)
    return path
