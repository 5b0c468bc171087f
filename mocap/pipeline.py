"""The pipeline: a short composition of stages, each from one artifact to the next.

``run(session)``: 2D detections -> triangulation -> temporal filter -> keypoint skeleton ->
BVH, writing ``out/points3d.npz`` and listing every file in ``out/manifest.json``.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from exporters import write_bvh

from .filter import butterworth_zero_phase, fill_gaps
from .session import Session
from .settings import FilterSettings, Settings
from .skeleton import keypoint_skeleton
from .triangulate import triangulate
from .types import Points3D

log = logging.getLogger(__name__)

__all__ = ["filter_points", "run", "export_people"]


def filter_points(points: Points3D, settings: FilterSettings) -> Points3D:
    """Fill short gaps and low-pass the trajectories.

    Filled samples get half the confidence interpolated from their neighbours; samples that
    stay missing keep NaN and confidence 0.
    """
    max_gap = int(round(settings.max_gap_s * points.fps))
    xyz = fill_gaps(points.xyz, max_gap)
    xyz = butterworth_zero_phase(xyz, settings.cutoff_hz, points.fps, settings.order)
    seen = np.isfinite(points.xyz).all(-1)
    conf_nan = np.where(seen, points.conf, np.nan)
    conf_filled = 0.5 * np.nan_to_num(fill_gaps(conf_nan, max_gap), nan=0.0)
    conf = np.where(seen, points.conf, conf_filled)
    conf = np.where(np.isfinite(xyz).all(-1), conf, 0.0).astype(np.float32)
    return points.replace(xyz=xyz, conf=conf)


def export_people(points: Points3D, out: Path, settings: Settings) -> list[dict]:
    """Write one BVH per person that was seen; return the manifest entries."""
    people = []
    for p in range(points.xyz.shape[1]):
        xyz = points.xyz[:, p]
        if not np.isfinite(xyz).all(-1).any():
            continue
        entry = {"id": p, "frames_seen": int(np.isfinite(xyz).all(-1).any(-1).sum())}
        if "bvh" in settings.export.formats:
            skel, motion = keypoint_skeleton(xyz, points.format, points.fps)
            name = f"person{p}.bvh"
            write_bvh(out / name, skel, motion, up=settings.export.up_axis, units="m")
            entry["bvh"] = name
        people.append(entry)
    return people


def run(session_dir: "str | Path", settings: "Settings | None" = None) -> dict:
    """Run the pipeline on a session folder.

    Returns:
        the manifest (also written to ``out/manifest.json``).
    """
    session = Session(Path(session_dir))
    settings = settings or session.settings()
    rig = session.rig()
    log.info("session %s: %d cameras (%s)", session.root, len(rig), ", ".join(rig.names))
    det = session.detections(rig, settings)
    C, F, P, J = det.shape
    log.info("detections: %d frames, %d people, %d joints (%s) at %g fps", F, P, J, det.format,
             det.fps)
    raw = triangulate(det, rig, settings.triangulate)
    points = filter_points(raw, settings.filter)
    session.out.mkdir(parents=True, exist_ok=True)
    raw.save(session.out / "points3d_raw.npz")
    points.save(session.out / "points3d.npz")
    people = export_people(points, session.out, settings)
    manifest_people = [{**p, "files": [p[k] for k in ("bvh",) if k in p]} for p in people]
    artifacts = {"points3d": "points3d.npz", "points3d_raw": "points3d_raw.npz"}
    session.write_manifest(artifacts, manifest_people)
    log.info("wrote %s", session.out / "manifest.json")
    return {"artifacts": artifacts, "people": manifest_people, "out": str(session.out)}
