"""A session's fitted bodies: the fit stage connected to its files.

The fit is pure (:func:`mocap.fit.fit_points3d`: keypoints, settings and a body model in, one
:class:`~mocap.fit.PersonFit` per person out); here the body model is loaded (a relative
``[fit] model_path`` is the session's), every person's files written under ``out/person<p>/``
(:mod:`mocap.app.fit_files`), and the bodies read back for an export that runs alone.

torch is imported only when a body is fitted or loaded (``mocap run`` without ``[fit]`` and
``mocap --help`` stay without it).

A fit is tied to the keypoints it was made from: its manifest entry holds
``points3d_digest`` (:func:`points_digest` of the points fitted), and an export that runs
alone uses a stored body only when that digest is the current ``out/points3d.npz``'s
(:func:`require_current_fits`): a body fitted to older keypoints is refused, never mixed
with files made from the new ones.
"""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np

from ..errors import SessionError

log = logging.getLogger(__name__)

__all__ = ["body_model_for", "fit_people", "stored_body", "stored_bodies", "points_digest",
           "require_current_fits"]


def points_digest(points) -> str:
    """sha256 of the content of 3D keypoints (:class:`mocap.types.Points3D`: ``xyz``,
    ``conf``, joint names, format, fps): the same for the same keypoints saved twice."""
    h = hashlib.sha256()
    for array in (np.ascontiguousarray(points.xyz, np.float64),
                  np.ascontiguousarray(points.conf, np.float32)):
        h.update(repr(array.shape).encode())
        h.update(array.tobytes())
    h.update(repr((tuple(points.joint_names), str(points.format), float(points.fps))).encode())
    return h.hexdigest()


def require_current_fits(bodies: dict, people, points, out: Path, session: Path) -> None:
    """Refuse stored bodies fitted to other keypoints than ``points``.

    Args:
        bodies: ``{person: (model, BodyMotion)}`` about to be exported (:func:`stored_bodies`).
        people: the manifest's people (``id`` and the fit's ``points3d_digest``).
        points: the current keypoints (``out/points3d.npz``). out, session: the folders.
    Raises:
        SessionError: a body whose fit recorded no digest or another one (one line, saying to
            run ``mocap fit``).
    """
    recorded = {p.get("id"): p.get("points3d_digest") for p in people}
    now = points_digest(points)
    for person in sorted(bodies):
        path = Path(out) / f"person{person}" / "body.npz"
        if recorded.get(person) == now:
            continue
        why = ("was fitted to older 3D keypoints than" if recorded.get(person)
               else "has no record of the 3D keypoints it was fitted to, expected")
        raise SessionError(f"{path}: {why} {Path(out) / 'points3d.npz'}; run `mocap fit "
                           f"{session}` (or delete the body file to export from the keypoints)")



def body_model_for(settings, session_root=None):
    """The body model ``[fit]`` asks for (a relative ``model_path`` is the session's)."""
    from ..body import load_body_model
    path = settings.model_path or None
    if path is not None and session_root is not None and not Path(path).is_absolute():
        path = Path(session_root) / path
    return load_body_model(settings.body, path, settings.gender)


def fit_people(points, settings, out, session_root=None, detections=None, rig=None,
               ) -> tuple[list[dict], dict]:
    """The fit stage on a session: every person seen in ``points`` -> ``out/person<p>/body.npz``
    (and meshes when ``[fit] meshes`` asks).

    Args:
        points: :class:`mocap.types.Points3D` (filtered). settings: ``[fit]``.
        out: the output folder. session_root: for a relative ``model_path``.
        detections, rig: the 2D detections and cameras, for the reprojection term.
    Returns:
        manifest entries (``id``, ``body``, ``meshes``, ``height_m``, ``stages``,
        ``points3d_digest``: :func:`points_digest` of ``points``) and
        ``{person: (model, BodyMotion)}``.
    """
    from ..fit import fit_points3d, torch_threads
    from ..fit.people import require_format
    from .fit_files import write_fits
    require_format(points)
    with torch_threads(settings.threads):
        model = body_model_for(settings, session_root)
        fits = fit_points3d(points, settings, model, detections, rig)
        entries = write_fits(out, model, fits, settings.meshes, settings.mesh_every)
    digest = points_digest(points)
    entries = [{**e, "points3d_digest": digest} for e in entries]
    return entries, {f.person: (model, f.body) for f in fits}


def stored_body(out: Path, person: int) -> "tuple | None":
    """(model, BodyMotion) of ``out/person<p>/body.npz`` when there is one that can be loaded
    (Anny bodies: an SMPL-family body needs the user's model files, which an export run alone
    does not have; such a person is exported from the keypoints, with a warning)."""
    path = Path(out) / f"person{person}" / "body.npz"
    if not path.is_file():
        return None
    from ..body import BodyMotion, load_body_model

    body = BodyMotion.load(path)
    if body.surface_model_type != "anny":
        log.warning("%s: a %s body needs the user's model files; person %d is exported from "
                    "the keypoints", path, body.surface_model_type, person)
        return None
    return load_body_model("anny"), body


def stored_bodies(out: Path, points) -> dict:
    """``{person: (model, BodyMotion)}`` of every person seen in ``points``
    (:class:`mocap.types.Points3D`) with a body in ``out/person<p>/body.npz`` that can be
    loaded (:func:`stored_body`)."""
    bodies = {}
    for p in range(points.xyz.shape[1]):
        if not np.isfinite(points.xyz[:, p]).all(-1).any():
            continue
        fitted = stored_body(out, p)
        if fitted is not None:
            bodies[p] = fitted
    return bodies
