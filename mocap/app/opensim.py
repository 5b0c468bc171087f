"""The OpenSim stage on a session's files: ``out/points3d.npz`` (the filtered 3D keypoints)
and ``out/person<N>/body.npz`` (the fitted bodies, for ``[opensim] markers = "body"``)
-> ``out/person<N>/scaled.osim``, ``ik.mot``, ``markers.trc``, ``ik_marker_errors.csv``
(:mod:`mocap.opensim`), recorded in ``out/opensim.json`` and ``out/manifest.json``.

``mocap opensim SESSION`` runs it alone (:func:`opensim_session`); ``mocap run`` runs it after
the export when ``[opensim] enabled = true`` (:func:`opensim_stage`).
"""
from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import numpy as np

from exporters.atomic import atomic_write

from ..errors import SessionError
from ..opensim import solve_people
from ..settings import Settings
from ..types import Manifest, Points3D
from .bodies import body_model_for
from .session import Session
from .stages import StageRunner, session_lock

log = logging.getLogger(__name__)

__all__ = ["body_markers", "solve_session_people", "opensim_stage", "opensim_session", "RECORD"]

#: The stage's record of its manifest entries, relative to ``out/``.
RECORD = "opensim.json"


def body_markers(points: Points3D, out: Path, settings: Settings,
                 session_root: "Path | None" = None) -> dict:
    """``{person: VirtualMarkers}`` of every person of ``points`` with a fitted body in
    ``out/person<N>/body.npz`` (the body model of ``[fit]``); people without one are left
    out (:func:`mocap.opensim.solve_people` names them)."""
    from ..body import BodyMotion, fitted_rotations
    from ..opensim.virtual import virtual_markers
    bodies, model = {}, None
    for p in range(points.xyz.shape[1]):
        path = out / f"person{p}" / "body.npz"
        if not np.isfinite(points.xyz[:, p]).any() or not path.is_file():
            continue
        body = BodyMotion.load(path)
        model = model or body_model_for(settings.fit, session_root)
        bodies[p] = virtual_markers(model, body.betas, fitted_rotations(body), body.trans,
                                    body.observed)
    return bodies


def solve_session_people(points: Points3D, out: Path, settings: Settings,
                         session_root: "Path | None" = None) -> list[dict]:
    """Scale and IK of every person of ``points`` (from virtual markers on their fitted
    bodies with ``[opensim] markers = "body"``); writes the people's files and
    ``out/opensim.json``; returns their manifest entries."""
    virtual = (body_markers(points, out, settings, session_root)
               if settings.opensim.markers == "body" else None)
    entries = solve_people(points.xyz, points.format, points.fps, out, settings.opensim,
                           virtual)
    with atomic_write(out / RECORD, "w") as fh:
        json.dump(entries, fh, indent=1)
    return entries


def opensim_stage(runner: StageRunner, session: Session, settings: Settings) -> list[dict]:
    """The pipeline's OpenSim stage (skipped when ``out/points3d.npz`` and ``[opensim]`` are
    unchanged); returns the manifest entries (empty when ``[opensim] enabled`` is false)."""
    if not settings.opensim.enabled:
        return []
    out = session.out

    def work():
        entries = solve_session_people(Points3D.load(out / "points3d.npz"), out, settings,
                                       session.root)
        return [RECORD] + [f for e in entries for f in e["files"]]
    bodies = sorted(out.glob("person*/body.npz")) if settings.opensim.markers == "body" else []
    runner.run("opensim", [out / "points3d.npz"] + bodies, settings.opensim, work)
    return json.loads((out / RECORD).read_text())


def opensim_session(folder: "str | Path", changes: dict) -> tuple[list, Path]:
    """The OpenSim stage alone (``[opensim]`` with ``changes``), under the session lock,
    merged into ``out/manifest.json``.

    Raises:
        SessionError: no ``out/points3d.npz``.
        OpenSimError: a person that cannot be solved (nothing written then).
    """
    session = Session(Path(folder))
    with session_lock(session.root, session.out):
        settings = session.settings()
        if changes:
            settings = settings.replace(opensim=dataclasses.replace(settings.opensim, **changes))
        source = session.out / "points3d.npz"
        if not source.is_file():
            raise SessionError(f"{source}: not found; expected the filtered 3D keypoints (run "
                               f"`mocap run` first)")
        entries = solve_session_people(Points3D.load(source), session.out, settings,
                                       session.root)
        manifest = Manifest.load_or_empty(session.manifest_path)
        manifest = dataclasses.replace(manifest, artifacts=manifest.artifacts
                                       or {"points3d": "points3d.npz"})
        session.save_manifest(manifest.merge_people(entries))
    return entries, session.out
