"""The pipeline: a short composition of stages, each from one artifact to the next.

``run(session)``: 2D detections -> association and tracking (P = identity) -> triangulation
-> temporal filter -> keypoint skeleton -> BVH/FBX/TRC/C3D/npz (``[export] formats``),
writing ``out/points3d.npz`` and listing every file in ``out/manifest.json``.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from .errors import MocapError
from .filter import butterworth_zero_phase, fill_gaps
from .keypoints import get_format
from .session import Session
from .settings import FilterSettings, Settings
from .sync import synchronise
from .track import identify_people
from .triangulate import triangulate
from .types import Points3D

log = logging.getLogger(__name__)

__all__ = ["filter_points", "run", "export_people", "fit_bodies"]


def filter_points(points: Points3D, settings: FilterSettings) -> Points3D:
    """Remove spikes, fill short gaps, smooth, then make bone lengths constant.

    Steps (each off when its setting says so): Hampel spike removal (spikes become missing),
    linear gap filling up to ``max_gap_s``, the smoother (zero-phase Butterworth or one-euro,
    at the take's fps), and bone-length consistency (one median length per bone and person,
    enforced by constraint projection). Filled samples get half the confidence interpolated
    from their neighbours; samples that stay missing keep NaN and confidence 0.
    """
    from .filter import enforce_bone_lengths, hampel, one_euro, robust_bone_lengths
    if settings.smoother not in ("butterworth", "one_euro", "none"):
        raise MocapError(f"[filter] smoother = {settings.smoother!r}; expected 'butterworth', "
                         f"'one_euro' or 'none'")
    fps = points.fps
    xyz = points.xyz
    if settings.hampel_window_s > 0:
        xyz = hampel(xyz, int(round(settings.hampel_window_s * fps / 2)),
                     settings.hampel_n_sigmas, settings.hampel_min_deviation_m)
    seen = np.isfinite(xyz).all(-1)
    max_gap = int(round(settings.max_gap_s * fps))
    xyz = fill_gaps(xyz, max_gap)
    if settings.smoother == "butterworth":
        xyz = butterworth_zero_phase(xyz, settings.cutoff_hz, fps, settings.order)
    elif settings.smoother == "one_euro":
        xyz = one_euro(xyz, fps, settings.one_euro_min_cutoff_hz, settings.one_euro_beta,
                       settings.one_euro_d_cutoff_hz)
    conf_nan = np.where(seen, points.conf, np.nan)
    conf_filled = 0.5 * np.nan_to_num(fill_gaps(conf_nan, max_gap), nan=0.0)
    conf = np.where(seen, points.conf, conf_filled)
    if settings.bone_lengths and points.format:
        bones = get_format(points.format).bone_indices
        if len(bones):
            xyz = enforce_bone_lengths(xyz, bones, robust_bone_lengths(xyz, bones), conf,
                                       settings.bone_length_iterations)
    conf = np.where(np.isfinite(xyz).all(-1), conf, 0.0).astype(np.float32)
    return points.replace(xyz=xyz, conf=conf)


def export_people(points: Points3D, out: Path, settings: Settings,
                  bodies: "dict | None" = None) -> list[dict]:
    """Write each seen person's files in ``[export] formats`` (see :mod:`mocap.export`);
    return the manifest entries (``files`` lists every file written)."""
    from .export import export_people as export_stage
    return export_stage(points, out, settings.export, bodies)


def fit_bodies(points: Points3D, session: Session, settings: Settings, det, rig,
               ) -> tuple[dict, dict]:
    """The fit stage (``[fit]``): a body model per person, ``out/person<p>/body.npz``.

    Returns:
        {person: manifest entry} and {person: (body model, BodyMotion)} (both empty when
        ``[fit] enabled`` is false).
    """
    if not settings.fit.enabled:
        return {}, {}
    from .fit import fit_people
    entries, bodies = fit_people(points, settings.fit, session.out, session.root, det, rig)
    return {e["id"]: e for e in entries}, bodies


def _with_body(person: dict, fit: "dict | None") -> dict:
    """A manifest person with its fitted body (file, height, per-stage losses) added."""
    if fit is None:
        return person
    extra = {k: v for k, v in fit.items() if k != "id"}
    return {**person, **extra, "files": list(person["files"]) + [fit["body"]]}


def run(session_dir: "str | Path", settings: "Settings | None" = None) -> dict:
    """Run the pipeline on a session folder.

    Returns:
        the manifest (also written to ``out/manifest.json``).
    """
    from .detect import session_detections
    session = Session(Path(session_dir))
    settings = settings or session.settings()
    rig = session.rig()
    log.info("session %s: %d cameras (%s)", session.root, len(rig), ", ".join(rig.names))
    det = session_detections(session, rig, settings)     # pose files, else detect on videos
    det, _sync = synchronise(det, settings.sync, report=session.out / "sync.json")
    det, identities = identify_people(det, rig, settings.associate)   # P axis = identity
    C, F, P, J = det.shape
    log.info("detections: %d frames, %d people, %d joints (%s) at %g fps", F, P, J, det.format,
             det.fps)
    raw = triangulate(det, rig, settings.triangulate)
    points = filter_points(raw, settings.filter)
    session.out.mkdir(parents=True, exist_ok=True)
    identities.save(session.out / "identities.npz")
    raw.save(session.out / "points3d_raw.npz")
    points.save(session.out / "points3d.npz")
    fits, bodies = fit_bodies(points, session, settings, det, rig)
    people = export_people(points, session.out, settings, bodies)
    manifest_people = [_with_body(p, fits.get(p["id"])) for p in people]
    artifacts = {"points3d": "points3d.npz", "points3d_raw": "points3d_raw.npz",
                 "identities": "identities.npz"}
    session.write_manifest(artifacts, manifest_people)
    log.info("wrote %s", session.out / "manifest.json")
    return {"artifacts": artifacts, "people": manifest_people, "out": str(session.out)}
