"""``mocap triangulate`` on a session folder: association and triangulation alone, written to
``out/``; and the cameras' health file (``out/cameras.json``) the pipeline writes too.

It imports only what it runs (no sync, fit, export or body-model code, no scipy): on a long
take the command is a process of a few seconds, and imports are a visible part of it.
"""
from __future__ import annotations

import dataclasses
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from exporters.atomic import atomic_write
from exporters.trc import write_trc

from ..associate import identify_people
from ..filter import filter_points
from ..keypoints import get_format
from ..parallel import beside
from ..triangulate import triangulate
from ..triangulate.health import cameras_health, report_health
from ..types import Points3D
from .detections import heatmaps_for, session_detections
from .session import Session
from .stages import session_lock

__all__ = ["TriangulateRun", "triangulate_session", "save_health"]


@dataclass(frozen=True)
class TriangulateRun:
    """What ``triangulate_session`` did: the raw triangulation, the method and the files."""

    raw: Points3D
    method: str
    written: tuple


def save_health(out: Path, health: dict) -> Path:
    """Write the cameras' health table (:func:`mocap.triangulate.health.health_table`) to
    ``out/cameras.json``."""
    with atomic_write(out / "cameras.json", "w") as fh:
        json.dump(health, fh, indent=1)
    return out / "cameras.json"


def triangulate_session(folder: "str | Path", method: "str | None" = None,
                        main_person: bool = False, filtered: bool = True) -> TriangulateRun:
    """Association (P axis = identity, as in ``mocap run``) and triangulation, under the
    session lock (:func:`mocap.app.stages.session_lock`).

    Writes ``out/points3d_raw.npz``, ``out/points3d.npz`` (filtered with ``[filter]`` unless
    ``filtered`` is false), ``out/cameras.json`` (each camera's contribution, see
    :mod:`mocap.triangulate.health`; a camera contributing almost nothing is logged as a
    warning) and ``out/person<p>.trc`` per person seen.

    Raises:
        TriangulationError: no person has any reconstructed joint, saying why.
    """
    session = Session(Path(folder))
    with session_lock(session.root, session.out):
        return _triangulate_session(session, method, main_person, filtered)


def _triangulate_session(session: Session, method: "str | None", main_person: bool,
                         filtered: bool) -> TriangulateRun:
    settings = session.settings()
    tri = settings.triangulate if not method else dataclasses.replace(settings.triangulate,
                                                                      method=method)
    assoc = settings.associate
    if main_person:
        assoc = dataclasses.replace(assoc, mode="main_subject")
    rig = session.rig()
    every = heatmaps_for(session_detections(session, rig, settings), tri.method)
    det, _ = identify_people(every, rig, assoc)
    raw = triangulate(det, rig, tri)
    # the cameras' health in a process beside the filter (independent steps, each about a
    # second on a ten-minute take); when no one was reconstructed, it says why first
    health_of = beside(cameras_health, det, rig, raw, tri, every)
    if not np.isfinite(raw.xyz).all(-1).any():
        report_health(det, raw, tri, health_of())                  # raises, saying why
    points = filter_points(raw, settings.filter, rig) if filtered else raw
    health = report_health(det, raw, tri, health_of())
    session.out.mkdir(parents=True, exist_ok=True)
    return TriangulateRun(raw, tri.method, _write(session.out, raw, points, health))


def _write(out: Path, raw: Points3D, points: Points3D, health: dict) -> tuple:
    """``points3d_raw.npz``, ``points3d.npz`` and ``cameras.json`` (compressed in a thread:
    zlib runs outside Python's lock) while ``person<p>.trc`` are formatted here; returns the
    paths written."""
    with ThreadPoolExecutor(1) as pool:
        saved = pool.submit(lambda: [raw.save(out / "points3d_raw.npz"),
                                     points.save(out / "points3d.npz"),
                                     save_health(out, health)])
        names = get_format(points.format).native_names
        trc = [write_trc(out / f"person{p}.trc", names, points.xyz[:, p], points.fps)
               for p in range(points.xyz.shape[1])
               if np.isfinite(points.xyz[:, p]).all(-1).any()]
        return tuple(saved.result() + trc)
