"""The pipeline: a short composition of stages, each from one artifact to the next.

``run(session)``: 2D detections -> association and tracking (P = identity) -> triangulation
-> temporal filter -> body fit (``[fit]``: Anny unless SMPL files are given,
``out/person<p>/body.npz``) -> skeleton -> BVH/FBX/TRC/C3D/npz (``[export] formats``),
writing ``out/points3d.npz`` and listing every file in ``out/manifest.json``.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from exporters._atomic import atomic_write

from ..errors import MocapError
from ..filter import butterworth_zero_phase, fill_gaps
from ..keypoints import get_format
from .session import Session
from .stages import StageRunner
from ..settings import FilterSettings, Settings
from ..sync import synchronise
from ..track import identify_people
from ..triangulate import triangulate
from ..types import Points3D

log = logging.getLogger(__name__)

__all__ = ["filter_points", "run", "export_people", "fit_bodies", "detections_for_fit"]


def filter_points(points: Points3D, settings: FilterSettings, rig=None) -> Points3D:
    """Remove spikes, fill short gaps, smooth, then make bone lengths constant.

    Steps (each off when its setting says so): Hampel spike removal (spikes become missing),
    linear gap filling up to ``max_gap_s``, the smoother (zero-phase Butterworth or one-euro,
    at the take's fps), and bone-length consistency (one median length per rigid bone and
    person, see ``KeypointFormat.rigid_bone_indices``, enforced by constraint projection:
    with the ``rig``, each joint moves where its cameras pin it least, along its rays).
    Filled samples get half the confidence interpolated from their neighbours; samples that
    stay missing keep NaN and confidence 0.
    """
    from ..filter import enforce_bone_lengths, hampel, one_euro, robust_bone_lengths
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
        bones = get_format(points.format).rigid_bone_indices
        if len(bones):
            xyz = enforce_bone_lengths(xyz, bones, robust_bone_lengths(xyz, bones), conf,
                                       settings.bone_length_iterations,
                                       _precision(points, xyz, rig))
    conf = np.where(np.isfinite(xyz).all(-1), conf, 0.0).astype(np.float32)
    return points.replace(xyz=xyz, conf=conf)


def _precision(points: Points3D, xyz: np.ndarray, rig) -> "np.ndarray | None":
    """Per-joint precision from the views that saw each joint (see
    :func:`mocap.filter.point_precision`), or None without a rig or views."""
    from ..filter import point_precision
    if rig is None or points.views_used is None or tuple(points.camera_names) != tuple(rig.names):
        return None
    R = np.stack([c.R_cam_from_world for c in rig])
    t = np.stack([c.t_cam_from_world for c in rig])
    f = np.array([0.5 * (c.K[0, 0] + c.K[1, 1]) for c in rig])
    return point_precision(xyz, points.views_used, R, t, f)


def export_people(points: Points3D, out: Path, settings: Settings,
                  bodies: "dict | None" = None) -> list[dict]:
    """Write each seen person's files in ``[export] formats`` (see :mod:`mocap.export`);
    return the manifest entries (``files`` lists every file written)."""
    from ..export import export_people as export_stage
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
    from ..fit import fit_people
    entries, bodies = fit_people(points, settings.fit, session.out, session.root, det, rig)
    return {e["id"]: e for e in entries}, bodies


def _with_body(person: dict, fit: "dict | None") -> dict:
    """A manifest person with its fitted body (file, height, per-stage losses) added."""
    if fit is None:
        return person
    extra = {k: v for k, v in fit.items() if k != "id"}
    return {**person, **extra, "files": list(person["files"]) + [fit["body"]]}


def _sources(session: Session) -> list[Path]:
    """Files the 2D detections come from (whichever exist): pose JSON, heatmaps, detections
    made from videos, and the calibration."""
    return [session.root / "pose", session.root / "heatmaps", session.out / "detections.npz",
            session.calibration_path()]


def _stage_sync(runner: StageRunner, session: Session, det, settings: Settings):
    """Sync (``out/sync.json``); when up to date, the recorded offsets are applied again."""
    from ..sync import shift_detections
    path = session.out / "sync.json"
    state = {}

    def work():
        state["det"], _ = synchronise(det, settings.sync, report=path)
        return ["sync.json"]
    if runner.run("sync", _sources(session), (settings.take, settings.detect, settings.sync),
                  work):
        return state["det"]
    return shift_detections(det, json.loads(path.read_text())["offsets"])


def _stage_associate(runner: StageRunner, session: Session, det, rig, settings: Settings):
    """Association and tracking (``out/identities.npz``); reapplied when up to date."""
    from ..track import Identities, detections_by_identity
    path = session.out / "identities.npz"
    state = {}

    def work():
        state["det"], ids = identify_people(det, rig, settings.associate)
        ids.save(path)
        return ["identities.npz"]
    inputs = _sources(session) + [session.out / "sync.json"]
    if runner.run("associate", inputs, settings.associate, work):
        return state["det"]
    ids = Identities.load(path)
    if ids.mode == "off":
        return det
    return detections_by_identity(det, ids.slot_identity, ids.num_people)


def detections_for_fit(session: Session, rig, settings: Settings, points: Points3D):
    """The 2D detections for the fit's reprojection term when ``mocap fit`` runs alone: the
    session's detections, re-timed by the recorded sync offsets (``out/sync.json``), with slot
    p of every view the skeleton that person p's 3D keypoints project onto
    (:func:`mocap.track.detections_for_points`; no reliance on which association made the
    3D keypoints)."""
    from ..detect import session_detections
    from ..sync import shift_detections
    from ..track import detections_for_points
    det = session_detections(session, rig, settings)
    sync_path = session.out / "sync.json"
    if sync_path.is_file():
        det = shift_detections(det, json.loads(sync_path.read_text())["offsets"])
    if det.format != points.format:
        from ..keypoints import convert_keypoints
        det = det.replace(xy=convert_keypoints(det.xy, det.format, points.format, axis=-2),
                          conf=convert_keypoints(det.conf, det.format, points.format, axis=-1,
                                                 fill=0.0),
                          format=points.format, heatmaps=None, heatmap_affine=None)
    return detections_for_points(det, rig, points.xyz)


def _stage_points(runner: StageRunner, session: Session, det, rig, settings: Settings,
                  ) -> Points3D:
    """Triangulation (``points3d_raw.npz``) then filtering (``points3d.npz``)."""
    out = session.out
    inputs = _sources(session) + [out / "sync.json", out / "identities.npz"]

    def tri():
        triangulate(det, rig, settings.triangulate).save(out / "points3d_raw.npz")
        return ["points3d_raw.npz"]

    def filt():
        filter_points(Points3D.load(out / "points3d_raw.npz"), settings.filter, rig).save(
            out / "points3d.npz")
        return ["points3d.npz"]
    runner.run("triangulate", inputs, settings.triangulate, tri)
    runner.run("filter", [out / "points3d_raw.npz"], settings.filter, filt)
    return Points3D.load(out / "points3d.npz")


def _stage_fit(runner: StageRunner, session: Session, points: Points3D, det, rig,
               settings: Settings) -> tuple[dict, "dict | None"]:
    """Body fitting (``person<p>/body.npz``, listed with its report in ``fit.json``)."""
    out = session.out
    state: dict = {}

    def work():
        fits, bodies = fit_bodies(points, session, settings, det, rig)
        state["bodies"] = bodies
        with atomic_write(out / "fit.json", "w") as fh:
            json.dump({str(k): v for k, v in fits.items()}, fh, indent=1)
        files = ["fit.json"] + [v["body"] for v in fits.values()]
        return files + [str(m.relative_to(out)) for v in fits.values()
                        for m in sorted((out / Path(v["body"]).parent / "meshes").glob("*"))
                        if m.is_file()]
    inputs = [out / "points3d.npz"] + _sources(session)
    ran = runner.run("fit", inputs, settings.fit, work)
    fits = {int(k): v for k, v in json.loads((out / "fit.json").read_text()).items()}
    if ran:
        return fits, state["bodies"]
    return fits, _load_bodies(fits, session, settings)


def _load_bodies(fits: dict, session: Session, settings: Settings) -> "dict | None":
    """The fitted bodies recorded by an earlier run, with their body model."""
    if not fits:
        return {}
    from ..body.motion import BodyMotion
    from ..fit import body_model_for
    model = body_model_for(settings.fit, session.root)
    return {p: (model, BodyMotion.load(session.out / v["body"])) for p, v in fits.items()}


def run(session_dir: "str | Path", settings: "Settings | None" = None,
        force: bool = False) -> dict:
    """Run the pipeline on a session folder, skipping stages that are up to date.

    Each stage writes its artifacts atomically and then a record of its inputs and settings
    (see :mod:`mocap.app.stages`), so a run killed at any point loses no finished stage and a
    rerun continues where it stopped. ``force`` reruns every stage.

    Returns:
        the manifest (also written to ``out/manifest.json``).
    """
    from ..detect import session_detections
    session = Session(Path(session_dir))
    settings = settings or session.settings()
    rig = session.rig()
    log.info("session %s: %d cameras (%s)", session.root, len(rig), ", ".join(rig.names))
    session.out.mkdir(parents=True, exist_ok=True)
    runner = StageRunner(session.root, session.out, force=force)
    runner.remove_stale_temporaries()
    det = session_detections(session, rig, settings)     # pose files, else detect on videos
    det = _stage_sync(runner, session, det, settings)
    det = _stage_associate(runner, session, det, rig, settings)   # P axis = identity
    C, F, P, J = det.shape
    log.info("detections: %d frames, %d people, %d joints (%s) at %g fps", F, P, J, det.format,
             det.fps)
    points = _stage_points(runner, session, det, rig, settings)
    fits, bodies = _stage_fit(runner, session, points, det, rig, settings)
    people = export_people(points, session.out, settings, bodies)
    manifest_people = [_with_body(p, fits.get(p["id"])) for p in people]
    artifacts = {"points3d": "points3d.npz", "points3d_raw": "points3d_raw.npz",
                 "identities": "identities.npz", "sync": "sync.json"}
    if (session.out / "detections.npz").is_file():
        artifacts["detections"] = "detections.npz"
    session.write_manifest(artifacts, manifest_people)
    log.info("wrote %s", session.out / "manifest.json")
    return {"artifacts": artifacts, "people": manifest_people, "out": str(session.out)}
