"""A session's calibration adjusted from its capture (``mocap calibrate --refine-from-people``
and ``--level-from-person``): the session's files around :mod:`mocap.people_calibration`; or
found from it with no board (``--from-people``, :mod:`mocap.people_bootstrap`).

The refinement reads the 2D keypoints (the same loaders and association as ``mocap
triangulate``); the levelling reads ``out/points3d.npz`` when it is newer than the calibration
and was made with it, else triangulates the 2D detections. The new ``calibration.toml`` is
written atomically; the previous one is kept as ``calibration.backup<N>.toml``, and
``out/calibration/adjust_report.json`` records what was done.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from calibration import Rig
from calibration.boards import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS
from calibration.calibrate import intrinsics_only
from calibration.focal import centred_cameras
from calibration.lens import FISHEYE, PINHOLE
from calibration.people import KeypointRefineResult

from exporters.atomic import atomic_write

from ..errors import SessionError
from ..people_bootstrap import PeopleCalibration, calibrate_from_people, from_people_report
from ..people_calibration import level_rig, refine_report, refine_rig
from ..settings import Settings
from ..associate import identify_people
from ..triangulate import triangulate
from ..types import Points3D
from ..detect.video import find_source, probe_source
from .calibrate_board import FLOOR_FOLDER, board_inputs, detect_camera, detection_step
from .detections import pose_cameras, session_detections
from .session import Session

__all__ = ["BACKUP_PREFIX", "capture_detections", "capture_points", "backup_calibration",
           "Adjustment", "Saved", "person_height", "camera_template", "board_intrinsics",
           "starting_intrinsics", "calibrate_session_from_people"]

BACKUP_PREFIX = "calibration.backup"

log = logging.getLogger(__name__)


def capture_detections(session: Session, rig: Rig, settings: Settings, need: str,
                       also: str = ""):
    """The session's 2D detections (``mocap triangulate``'s loaders).

    Raises:
        SessionError: no detections nor videos, saying that ``need`` a capture (and what else,
            ``also``, would have done).
    """
    root = session.root
    if not ((root / "pose").is_dir() or (root / "videos").is_dir()
            or (root / "out" / "detections.npz").is_file()):
        raise SessionError(
            f"{root}: {need} a capture: expected {also}2D detections (pose/<camera>/ OpenPose "
            "JSON, pose/<camera>.json|.csv|.h5, out/detections.npz) or videos/<camera>.<ext>, "
            "found none")
    return session_detections(session, rig, settings)


def capture_points(session: Session, rig: Rig, settings: Settings,
                   rig_changed: bool = False) -> tuple[Points3D, str]:
    """The session's 3D keypoints, in the frame of ``rig``, and where they came from.

    ``out/points3d.npz`` when it is newer than the calibration file (it was triangulated with
    this calibration) and ``rig`` is that file's (not ``rig_changed``), else the 2D detections
    triangulated with ``rig`` (``mocap triangulate``'s loaders, association and settings).

    Raises:
        SessionError: neither exists (no capture to use).
    """
    saved = session.out / "points3d.npz"
    calib = session.calibration_path()
    if saved.is_file() and saved.stat().st_mtime >= calib.stat().st_mtime and not rig_changed:
        return Points3D.load(saved), f"{saved}"
    stale = f" (out/points3d.npz is older than {calib.name})" if saved.is_file() else ""
    det = capture_detections(session, rig, settings,
                             "levelling the floor from a standing person needs",
                             f"out/points3d.npz (`mocap triangulate`) newer than "
                             f"{calib.name}{stale} or ")
    det, _ = identify_people(det, rig, settings.associate)
    why = "absent" if not saved.is_file() else "older than the calibration" \
        if not rig_changed else "made with the unrefined calibration"
    used = "the refined calibration" if rig_changed else calib.name
    return triangulate(det, rig, settings.triangulate), \
        f"2D detections triangulated with {used} ({saved.name} {why})"


def backup_calibration(target: Path) -> "Path | None":
    """Copy ``target`` to the first free ``calibration.backup<N>.toml`` beside it (atomically);
    None when there is nothing to back up."""
    if not target.is_file():
        return None
    n = 1
    while (target.parent / f"{BACKUP_PREFIX}{n}.toml").exists():
        n += 1
    backup = target.parent / f"{BACKUP_PREFIX}{n}.toml"
    with atomic_write(backup, "wb") as fh:
        fh.write(target.read_bytes())
    return backup


@dataclass(frozen=True)
class Saved:
    """Where an adjusted calibration went.

    Attributes:
        target: the new ``calibration.toml``. backup: the previous one's copy, or None.
        report: ``out/calibration/adjust_report.json``. stale_results: ``out/points3d.npz``
        exists (results made with the previous calibration).
    """

    target: Path
    backup: "Path | None"
    report: Path
    stale_results: bool


@dataclass
class Adjustment:
    """A session's calibration being adjusted from its capture: :meth:`refine` and/or
    :meth:`level` (in that order when both), then :meth:`save`.

    Attributes:
        session: the session. settings: its settings. rig: the calibration so far.
        report: what was done (written by :meth:`save`).
    """

    session: Session
    settings: Settings
    rig: Rig
    report: dict = field(default_factory=dict)
    refined: bool = False

    @classmethod
    def open(cls, folder: "str | Path") -> "Adjustment":
        """The session's current calibration, ready to adjust."""
        session = Session(Path(folder))
        settings = session.settings()
        source = session.calibration_path()
        return cls(session, settings, session.rig(),
                   {"calibration_in": str(source), "units": "m"})

    def refine(self) -> KeypointRefineResult:
        """Refine the cameras from the people's 2D keypoints (the scale and world frame kept)."""
        det = capture_detections(self.session, self.rig, self.settings,
                                 "refining the cameras from people needs")
        result = refine_rig(self.rig, det, self.settings.associate)
        self.rig, self.refined = result.rig, True
        self.report["refine_from_people"] = refine_report(result)
        return result

    def level(self) -> str:
        """Level the floor from a person standing upright; returns a one-line summary."""
        points, source = capture_points(self.session, self.rig, self.settings, self.refined)
        levelled = level_rig(self.rig, points)
        self.rig = levelled.rig
        heights = ", ".join(f"{c.name} {c.center[2]:.2f}" for c in levelled.rig)
        summary = (f"floor levelled from a standing person ({source}): tilt corrected "
                   f"{levelled.tilt_deg:.2f} deg; camera heights m: {heights}")
        self.report["level_from_person"] = summary
        return summary

    def save(self) -> Saved:
        """Write ``calibration.toml`` (the previous one backed up) and the report."""
        target = self.session.root / "calibration.toml"
        backup = backup_calibration(target)
        self.rig.save(target)
        self.report.update(calibration_out=str(target), backup=str(backup) if backup else None)
        out = self.session.out / "calibration"
        out.mkdir(parents=True, exist_ok=True)
        with atomic_write(out / "adjust_report.json", "w") as fh:
            json.dump(self.report, fh, indent=2)
        return Saved(target, backup, out / "adjust_report.json",
                     (self.session.out / "points3d.npz").is_file())


def person_height(settings: Settings, height_m: "float | None", where: Path) -> float:
    """The walking person's height: ``--height-m``, else ``[calibration] person_height_m``.

    Raises:
        SessionError: neither given.
    """
    if height_m is not None and height_m > 0:
        return float(height_m)
    if settings.calibration.person_height_m > 0:
        return float(settings.calibration.person_height_m)
    raise SessionError(
        f"{where}: calibrating from people needs the person's standing height for the metric "
        "scale: expected --height-m METRES or [calibration] person_height_m in session.toml, "
        "found neither")


def _camera_names(session: Session) -> list[str]:
    """Camera names of a session with no calibration file: its ``pose/`` entries, else its
    ``videos/`` (video files and image folders), in natural order (``cam2`` before
    ``cam10``)."""
    def natural(name: str):
        return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]
    names = pose_cameras(session.root) if (session.root / "pose").is_dir() else []
    videos = session.root / "videos"
    if not names and videos.is_dir():
        names = sorted({p.stem if p.is_file() else p.name for p in videos.iterdir()
                        if not p.name.startswith(".") and find_source(videos, p.stem if p.is_file() else p.name)})
    if not names:
        raise SessionError(f"{session.root}: no camera found: expected pose/<camera>/ (or "
                           "pose/<camera>.json|.csv|.h5) or videos/<camera>.<ext>, found none")
    return sorted(names, key=natural)


def _image_size(session: Session, name: str, image_size: "tuple[int, int] | None") -> tuple:
    """A camera's image (width, height): ``image_size``, else its video's frames."""
    if image_size is not None:
        return tuple(int(v) for v in image_size)
    source = find_source(session.root / "videos", name)
    if source is None:
        raise SessionError(f"camera {name}: its image size is unknown: expected "
                           f"videos/{name}.<ext> (or videos/{name}/ images) or --image-size "
                           "WIDTHxHEIGHT, found neither (and no calibration file)")
    return tuple(probe_source(source, name).size_wh)


def camera_template(session: Session, image_size: "tuple[int, int] | None" = None) -> Rig:
    """The session's cameras for a calibration from people with unknown intrinsics: the
    names and image sizes of its calibration file, or with none, the cameras of ``pose/`` or
    ``videos/`` with ``image_size`` (width, height) or their videos' frame size; a starting
    focal of one image width (the focal sweep replaces it) and the principal point at the centre.

    Raises:
        SessionError: no camera found, or a camera whose image size is unknown (named).
    """
    try:
        known = session.rig()
        names, sizes = list(known.names), [c.size_wh for c in known]
        if image_size is not None:
            sizes = [tuple(image_size)] * len(names)
    except SessionError:
        names = _camera_names(session)
        sizes = [_image_size(session, n, image_size) for n in names]
    return Rig(centred_cameras(names, sizes, [float(w) for w, _ in sizes]))


def board_intrinsics(session: Session) -> "tuple[Rig, list[dict]] | None":
    """Each camera's intrinsics from its own board views in ``SESSION/calibration/<camera>/``
    (images, or ``<camera>.<video>``; the board of ``[calibration]``), for a calibration from
    people: views of one camera at a time are enough, the poses come from the people.

    Returns:
        None when ``calibration/`` holds no camera's board source; else the cameras in
        ``[calibration] cameras`` order (or the folders' natural order; their poses mean
        nothing) and, per camera, ``name``, ``views`` (board views used) and ``error_px`` (RMS
        reprojection error of those views, pixels).

    Raises:
        BoardNotFoundError: a camera whose board is in too few views (named).
        SessionError: a camera of the capture (``pose/``, ``videos/``) or of ``[calibration]
            cameras`` without board images (named).
    """
    folder = session.root / "calibration"
    if not _has_board_sources(folder):
        return None
    inputs = board_inputs(session.root)
    missing = [n for n in _camera_names(session) if n not in inputs.names]
    if missing:
        raise SessionError(f"{folder}: camera(s) {', '.join(missing)} of the capture have no board "
                           f"images (expected calibration/<camera>/ images or "
                           f"calibration/<camera>.<video> for every camera), found "
                           f"{', '.join(inputs.names)}")
    step = detection_step(inputs)
    cameras, rows = [], []
    for name in inputs.names:
        views = detect_camera(inputs, name, step)
        model = FISHEYE if name in inputs.settings.fisheye_cameras else PINHOLE
        cam, ba = intrinsics_only(views, inputs.spec, model)
        cameras.append(cam)
        rows.append({"name": name, "views": int(len(views)), "error_px": float(ba.error_px)})
        log.info("camera %s: intrinsics from %d board views (%.2f px RMS), focal %.1f px",
                 name, len(views), ba.error_px, cam.K[0, 0])
    return Rig(tuple(cameras)), rows


def _has_board_sources(folder: Path) -> bool:
    """Whether ``folder`` holds a camera's board source (``<camera>.<video>`` or a
    ``<camera>/`` folder of images; the floor's folder does not count)."""
    if not folder.is_dir():
        return False
    for entry in folder.iterdir():
        if entry.name.startswith(".") or entry.name == FLOOR_FOLDER:
            continue
        if entry.is_file() and entry.suffix.lower() in VIDEO_EXTENSIONS:
            return True
        if entry.is_dir() and any(f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS
                                  for f in entry.iterdir()):
            return True
    return False


def starting_intrinsics(session: Session, estimate: bool,
                        image_size: "tuple[int, int] | None") -> "tuple[Rig, str, list | None]":
    """The intrinsics a calibration from people starts from, in this order: estimated when
    ``estimate``; else the session's calibration file (its poses ignored); else each camera's
    board images (:func:`board_intrinsics`); else estimated (:func:`camera_template`).

    Returns:
        The cameras, where their intrinsics come from (``"estimated"``, ``"calibration
        file"`` or ``"board images"``) and the board rows of :func:`board_intrinsics` (None
        unless from board images).
    """
    if not estimate:
        try:
            session.calibration_path()
            return session.rig(), "calibration file", None
        except SessionError:
            boards = board_intrinsics(session)
            if boards is not None:
                return boards[0], "board images", boards[1]
    return camera_template(session, image_size), "estimated", None


def calibrate_session_from_people(folder: "str | Path", height_m: "float | None" = None,
                                  estimate_intrinsics: bool = False,
                                  image_size: "tuple[int, int] | None" = None,
                                  ) -> "tuple[PeopleCalibration, Saved, float]":
    """``mocap calibrate SESSION --from-people``: every camera's pose from the people of the
    capture, with the intrinsics of the session's calibration file (its poses are ignored),
    else of each camera's board images in ``calibration/<camera>/``; with
    ``estimate_intrinsics``, or when the session has neither, each camera's focal length and
    k1 are estimated too (:func:`starting_intrinsics`).

    The new ``calibration.toml`` is written atomically (the previous one backed up) with
    ``out/calibration/adjust_report.json`` (keys ``from_people`` and ``intrinsics_from``; with
    board images, ``from_people.intrinsics.cameras`` holds each camera's board views and error).

    Returns:
        The calibration, where it went and the height used.

    Raises:
        SessionError: no capture, no height, no camera or image size.
        InsufficientDataError: a camera that sees too little of the person (named).
    """
    session = Session(Path(folder))
    settings = session.settings()
    height = person_height(settings, height_m, session.settings_path)
    intrinsics, origin, boards = starting_intrinsics(session, estimate_intrinsics, image_size)
    source = str(session.calibration_path()) if origin == "calibration file" else None
    det = capture_detections(session, intrinsics, settings, "calibrating from people needs")
    cal = calibrate_from_people(intrinsics.cameras, det, height,
                                triangulate_settings=settings.triangulate,
                                estimate_intrinsics=origin == "estimated",
                                associate_settings=settings.associate)
    report = {"calibration_in": source, "units": "m", "intrinsics_from": origin,
              "from_people": from_people_report(cal, height)}
    if boards is not None:
        report["from_people"]["intrinsics"] = {
            "source": "board images of each camera (calibration/<camera>/)", "cameras": boards}
    adjust = Adjustment(session, settings, cal.rig, report)
    return cal, adjust.save(), height
