"""The pipeline: a short composition of stages, each from one artifact to the next.

``run(session)``: 2D detections -> association and tracking (P = identity) -> triangulation
-> temporal filter -> body fit (``[fit]``: Anny unless SMPL files are given,
``out/person<p>/body.npz``) -> skeleton -> BVH/FBX/TRC/C3D/npz (``[export] formats``),
writing ``out/points3d.npz`` and listing every file in ``out/manifest.json``.

The stages are functions of arrays and settings; this module connects them to the session's
files and skips those whose inputs and settings are unchanged (:mod:`mocap.app.stages`).
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

from exporters.atomic import atomic_write

from ..export import export_people
from ..filter import filter_points
from ..keypoints import convert_keypoints
from ..settings import Settings
from ..sync import shift_detections, synchronise
from ..associate import Identities, detections_by_identity, detections_for_points, identify_people
from ..triangulate import triangulate
from ..triangulate.health import triangulation_health
from ..types import Manifest, Points3D
from .bodies import body_model_for, fit_people
from .detections import heatmaps_for, session_detections
from .opensim import opensim_stage
from .session import Session
from .stages import StageRunner
from .triangulation import save_health

log = logging.getLogger(__name__)

__all__ = ["run", "fit_bodies", "detections_for_fit", "recorded_offsets"]


def recorded_offsets(session: Session) -> "list[int] | None":
    """The camera offsets of ``out/sync.json`` (the sync stage's), or None without one."""
    path = session.out / "sync.json"
    return json.loads(path.read_text())["offsets"] if path.is_file() else None


def fit_bodies(points: Points3D, session: Session, settings: Settings, det, rig,
               ) -> tuple[dict, dict]:
    """The fit stage (``[fit]``): a body model per person, ``out/person<p>/body.npz``.

    Returns:
        {person: manifest entry} and {person: (body model, BodyMotion)} (both empty when
        ``[fit] enabled`` is false).
    """
    if not settings.fit.enabled:
        return {}, {}
    entries, bodies = fit_people(points, settings.fit, session.out, session.root, det, rig)
    return {e["id"]: e for e in entries}, bodies


def _sources(session: Session) -> list[Path]:
    """Files the 2D detections come from (whichever exist): pose JSON, heatmaps, detections
    made from videos, and the calibration."""
    return [session.root / "pose", session.root / "heatmaps", session.out / "detections.npz",
            session.calibration_path()]


def _stage_sync(runner: StageRunner, session: Session, det, rig, settings: Settings):
    """Sync (``out/sync.json``); when up to date, the recorded offsets are applied again."""
    state = {}

    def work():
        state["det"], result = synchronise(det, settings.sync, rig=rig)
        result.save(session.out / "sync.json")
        return ["sync.json"]
    if runner.run("sync", _sources(session), (settings.take, settings.detect, settings.sync),
                  work):
        return state["det"]
    return shift_detections(det, recorded_offsets(session))


def _stage_associate(runner: StageRunner, session: Session, det, rig, settings: Settings):
    """Association and tracking (``out/identities.npz``); reapplied when up to date."""
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
    (:func:`mocap.associate.detections_for_points`; no reliance on which association made the
    3D keypoints)."""
    det = session_detections(session, rig, settings)
    offsets = recorded_offsets(session)
    if offsets is not None:
        det = shift_detections(det, offsets)
    if det.format != points.format:
        det = det.replace(xy=convert_keypoints(det.xy, det.format, points.format, axis=-2),
                          conf=convert_keypoints(det.conf, det.format, points.format, axis=-1,
                                                 fill=0.0),
                          format=points.format, heatmaps=None, heatmap_affine=None)
    return detections_for_points(det, rig, points.xyz)


def warn_recorded_health(out: Path) -> None:
    """Warn again about the cameras ``out/cameras.json`` found contributing (almost) nothing
    (the triangulation was up to date, so it did not run)."""
    path = out / "cameras.json"
    for problem in json.loads(path.read_text())["problems"] if path.is_file() else ():
        log.warning(problem)


def _stage_points(runner: StageRunner, session: Session, det, rig, settings: Settings,
                  synced=None) -> Points3D:
    """Triangulation (``points3d_raw.npz``, the cameras' health ``cameras.json`` from the
    detections before association, ``synced``) then filtering (``points3d.npz``)."""
    out = session.out
    inputs = _sources(session) + [out / "sync.json", out / "identities.npz"]

    def tri():
        raw = triangulate(det, rig, settings.triangulate)
        health = triangulation_health(det, rig, raw, settings.triangulate, synced)  # no one?
        raw.save(out / "points3d_raw.npz")
        save_health(out, health)
        return ["points3d_raw.npz", "cameras.json"]

    def filt():
        filter_points(Points3D.load(out / "points3d_raw.npz"), settings.filter, rig).save(
            out / "points3d.npz")
        return ["points3d.npz"]
    if not runner.run("triangulate", inputs, settings.triangulate, tri):
        warn_recorded_health(out)
    runner.run("filter", [out / "points3d_raw.npz"], settings.filter, filt)
    return Points3D.load(out / "points3d.npz")


def _person_fit_files(entry: dict) -> list[str]:
    """A person's fit files named by its entry: the body and its joint angles."""
    return [entry["body"]] + ([entry["angles"]] if "angles" in entry else [])


def _fit_files(out: Path, fits: dict) -> list[str]:
    """The fit stage's artifacts, relative to ``out``: ``fit.json``, the bodies, the meshes."""
    files = ["fit.json"] + [f for v in fits.values() for f in _person_fit_files(v)]
    return files + [str(m.relative_to(out)) for v in fits.values()
                    for m in sorted((out / Path(v["body"]).parent / "meshes").glob("*"))
                    if m.is_file()]


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
        return _fit_files(out, fits)
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
    from ..body.motion import BodyMotion   # torch: imported only when there are bodies
    model = body_model_for(settings.fit, session.root)
    return {p: (model, BodyMotion.load(session.out / v["body"])) for p, v in fits.items()}


def _manifest(session: Session, people: list, fits: dict) -> Manifest:
    """The run's manifest: its artifacts, and each person's exported files and fitted body."""
    artifacts = {"points3d": "points3d.npz", "points3d_raw": "points3d_raw.npz",
                 "identities": "identities.npz", "sync": "sync.json"}
    if (session.out / "cameras.json").is_file():
        artifacts["cameras"] = "cameras.json"
    if (session.out / "detections.npz").is_file():
        artifacts["detections"] = "detections.npz"
    bodies = [{**fits[p["id"]], "files": _person_fit_files(fits[p["id"]])} for p in people
              if p["id"] in fits]
    return Manifest(artifacts=artifacts).merge_people(people).merge_people(bodies)


def _run_stages(runner: StageRunner, session: Session, rig, settings: Settings) -> Manifest:
    """Every stage, under the session lock; returns the manifest written."""
    runner.remove_stale_temporaries()
    det = session_detections(session, rig, settings)     # pose files, else detect on videos
    det = heatmaps_for(det, settings.triangulate.method)
    synced = _stage_sync(runner, session, det, rig, settings)
    det = _stage_associate(runner, session, synced, rig, settings)   # P axis = identity
    C, F, P, J = det.shape
    log.info("detections: %d frames, %d people, %d joints (%s) at %g fps", F, P, J, det.format,
             det.fps)
    points = _stage_points(runner, session, det, rig, settings, synced)
    fits, bodies = _stage_fit(runner, session, points, det, rig, settings)
    people = export_people(points, session.out, settings.export, bodies)
    manifest = _manifest(session, people, fits).merge_people(
        opensim_stage(runner, session, settings))      # [opensim] enabled
    session.save_manifest(manifest)
    return manifest


def run(session_dir: "str | Path", settings: "Settings | None" = None,
        force: bool = False) -> dict:
    """Run the pipeline on a session folder, skipping stages that are up to date.

    Each stage writes its artifacts atomically and then a record of its inputs and settings
    (see :mod:`mocap.app.stages`), so a run killed at any point loses no finished stage and a
    rerun continues where it stopped. ``force`` reruns every stage.

    Returns:
        the manifest's ``artifacts`` and ``people`` (also written to ``out/manifest.json``),
        and ``out``, the output folder.
    """
    session = Session(Path(session_dir))
    settings = settings or session.settings()
    rig = session.rig()
    log.info("session %s: %d cameras (%s)", session.root, len(rig), ", ".join(rig.names))
    runner = StageRunner(session.root, session.out, force=force)
    with runner.session_lock():     # one run of a session at a time (mocap.app.stages)
        manifest = _run_stages(runner, session, rig, settings)
    log.info("wrote %s", session.manifest_path)
    return {"artifacts": manifest.artifacts, "people": list(manifest.people),
            "out": str(session.out)}
