"""One stage alone on a session folder: what ``mocap detect``, ``sync``, ``associate``,
``fit`` and ``export`` do (the pipeline's stages, read from and written to the session's
files, without the skip-and-resume records of ``mocap run``; ``mocap triangulate``'s is
:mod:`mocap.app.triangulation`, which imports only what it runs).

Each function takes the session folder and the settings changes the command line asked for
(``{key: value}`` of one settings table), and returns what was done for the CLI to print.
Each holds the session lock while it runs (:func:`mocap.app.stages.session_lock`): a stage
run while another run of the session is under way is refused.
"""
from __future__ import annotations

import dataclasses
import functools
import logging
from dataclasses import dataclass
from pathlib import Path

from ..errors import MocapError, SessionError
from ..export import export_people
from ..filter import filter_points
from ..settings import Settings
from ..sync import SyncResult, synchronise
from ..associate import Identities, identify_people
from ..types import Detections2D, Manifest, Points3D
from .bodies import fit_people, require_current_fits, stored_bodies
from .detections import detect_session, session_detections
from .pipeline import detections_for_fit
from .session import Session
from .stages import session_lock

log = logging.getLogger(__name__)

__all__ = ["override", "detect_videos", "sync_session", "AssociateRun", "associate_session",
           "fit_session", "export_session"]


def locked(fn):
    """``fn(folder, ...)`` run under the lock of the session ``folder``."""
    @functools.wraps(fn)
    def wrapper(folder, *args, **kwargs):
        session = Session(Path(folder))
        with session_lock(session.root, session.out):
            return fn(folder, *args, **kwargs)
    return wrapper


def override(settings: Settings, table: str, changes: dict) -> Settings:
    """``settings`` with ``changes`` applied to its table ``table`` (e.g. ``"sync"``)."""
    if not changes:
        return settings
    return settings.replace(**{table: dataclasses.replace(getattr(settings, table), **changes)})


@locked
def detect_videos(folder: "str | Path", changes: dict, workers: "int | None" = None,
                  chunk_frames: "int | None" = None) -> tuple[Detections2D, Path]:
    """2D keypoints (and heatmaps) from the session's videos, ``[detect]`` with ``changes``.

    Returns:
        the detections and the file they were written to (``out/detections.npz``).
    """
    session = Session(Path(folder))
    settings = override(session.settings(), "detect", changes)
    rig = session.rig()
    det = detect_session(session.root, rig.names, settings, workers=workers, rig=rig,
                         chunk_frames=chunk_frames)
    return det, session.out / "detections.npz"


@locked
def sync_session(folder: "str | Path", max_offset: "int | None" = None,
                 ) -> tuple[SyncResult, Path]:
    """The cameras' frame offsets (sync enabled, ``max_offset`` frames at most when given).

    Returns:
        the result and the file it was written to (``out/sync.json``).
    """
    session = Session(Path(folder))
    changes = {"enabled": True} if max_offset is None else {"max_offset_frames": max_offset,
                                                           "enabled": True}
    settings = override(session.settings(), "sync", changes)
    rig = session.rig()
    det = session_detections(session, rig, settings)
    _, result = synchronise(det, settings.sync, rig=rig)
    path = session.out / "sync.json"
    result.save(path)
    return result, path


@dataclass(frozen=True)
class AssociateRun:
    """What ``associate_session`` did: the identities found, over ``num_frames`` frames of
    ``num_cameras`` cameras, and the files written."""

    identities: Identities
    num_frames: int
    num_cameras: int
    identities_path: Path
    people_path: Path


@locked
def associate_session(folder: "str | Path", mode: "str | None" = None) -> AssociateRun:
    """Sync, then association and tracking (``[associate] mode`` replaced by ``mode``):
    writes ``out/sync.json``, ``out/identities.npz`` and ``out/detections_people.npz``."""
    session = Session(Path(folder))
    settings = override(session.settings(), "associate", {} if mode is None else {"mode": mode})
    rig = session.rig()
    det = session_detections(session, rig, settings)
    det, result = synchronise(det, settings.sync)
    result.save(session.out / "sync.json")
    people, identities = identify_people(det, rig, settings.associate)
    session.out.mkdir(parents=True, exist_ok=True)
    path = identities.save(session.out / "identities.npz")
    people_path = people.save(session.out / "detections_people.npz")
    return AssociateRun(identities, det.num_frames, len(rig), path, people_path)


def filtered_points(session: Session, settings: Settings) -> Points3D:
    """The filtered 3D keypoints: ``out/points3d.npz``, else ``out/points3d_raw.npz`` filtered
    now with the session's ``[filter]`` settings.

    Raises:
        SessionError: neither file exists.
    """
    path = session.out / "points3d.npz"
    if path.is_file():
        return Points3D.load(path)
    raw = session.out / "points3d_raw.npz"
    if raw.is_file():
        return filter_points(Points3D.load(raw), settings.filter, session.rig())
    raise SessionError(f"{path}: not found; expected the 3D keypoints (run `mocap run` or "
                       f"`mocap triangulate` first)")


def _fit_detections(session: Session, settings: Settings, points: Points3D):
    """(detections, rig) for the reprojection term, slot p of every view the skeleton person
    p's 3D keypoints project onto; (None, None), with a warning, when there are none."""
    try:
        rig = session.rig()
        return detections_for_fit(session, rig, settings, points), rig
    except MocapError as e:
        log.warning("fitting without the 2D reprojection term: %s", e)
        return None, None


@locked
def fit_session(folder: "str | Path", changes: dict) -> tuple[list, Path]:
    """A body model fitted to each person's filtered 3D keypoints (``[fit]`` with
    ``changes``), added to ``out/manifest.json``.

    Returns:
        the fit's manifest entries (``id``, ``body``, ``meshes``, ``height_m``, ``stages``)
        and the output folder.
    """
    session = Session(Path(folder))
    settings = override(session.settings(), "fit", changes)
    points = filtered_points(session, settings)
    det = rig = None
    if settings.fit.reprojection_weight > 0:
        det, rig = _fit_detections(session, settings, points)
    entries, _ = fit_people(points, settings.fit, session.out, session.root, det, rig)
    manifest = Manifest.load_or_empty(session.manifest_path)
    manifest = dataclasses.replace(manifest, artifacts=manifest.artifacts
                                   or {"points3d": "points3d.npz"})
    session.save_manifest(manifest.merge_people(
        {**e, "files": [e["body"]] + ([e["angles"]] if "angles" in e else [])}
        for e in entries))
    return entries, session.out


@locked
def export_session(folder: "str | Path", changes: dict) -> dict:
    """The export stage alone: ``out/points3d.npz`` -> files (``[export]`` with ``changes``),
    merged into ``out/manifest.json`` (rebuilt when it cannot be read); people with a fitted
    body (``out/person<p>/body.npz``, Anny) are exported with it, when it was fitted to these
    keypoints (else the export is refused: a body and keypoints of different takes are never
    mixed).

    Returns:
        the manifest's ``artifacts`` and ``people``, and ``out``, the output folder.

    Raises:
        SessionError: no ``out/points3d.npz``; a stored body fitted to other keypoints (or with
            no record of them): run ``mocap fit``.
        SettingsError: an ``[export]`` value that is not allowed.
    """
    session = Session(Path(folder))
    settings = override(session.settings(), "export", changes).export
    source = session.out / "points3d.npz"
    if not source.is_file():
        raise SessionError(f"{source}: not found; expected the filtered 3D keypoints (run "
                           f"`mocap run` first)")
    points = Points3D.load(source)
    manifest = Manifest.load_or_empty(session.manifest_path)
    bodies = stored_bodies(session.out, points)
    require_current_fits(bodies, manifest.people, points, session.out, session.root)
    fresh = export_people(points, session.out, settings, bodies)
    manifest = dataclasses.replace(manifest, artifacts=manifest.artifacts
                                   or {"points3d": "points3d.npz"}).merge_people(fresh)
    session.save_manifest(manifest)
    return {"artifacts": manifest.artifacts, "people": list(manifest.people),
            "out": str(session.out)}
