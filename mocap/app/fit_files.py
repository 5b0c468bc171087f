"""The fit stage's files: per person ``person<p>/body.npz`` (:class:`mocap.body.BodyMotion`,
AMASS layout) and, when asked, one mesh per frame in ``person<p>/meshes/`` (PLY or OBJ).

The fits come from :func:`mocap.fit.fit_points3d` (anything with ``person``, ``body`` and
``summary()`` will do); the manifest entries returned here are what ``fit.json`` and
``manifest.json`` list.
"""
from __future__ import annotations

import logging
from pathlib import Path

from exporters.atomic import atomic_write_text

from ..body import fitted_rotations, write_meshes
from ..body.joint_angles import angle_columns, isb_angles_deg

log = logging.getLogger(__name__)

__all__ = ["write_person_files", "write_fits", "write_angles", "ANGLES_FILE"]

#: Each person's joint angles (:func:`write_angles`), next to ``body.npz``.
ANGLES_FILE = "angles.csv"


def write_angles(path: "str | Path", model, body) -> Path:
    """Write a fitted body's ISB joint angles (:func:`mocap.body.joint_angles.isb_angles_deg`)
    as CSV: a header ``frame,time_s,observed,<joint>[_<side>]_<axis>_deg...`` (e.g.
    ``knee_left_flexion_deg``), then one row per frame; ``observed`` is 0 on frames the fit
    bridged (the person not seen)."""
    R = fitted_rotations(body)
    names, values = angle_columns(isb_angles_deg(model, R[:, 0], R[:, 1:]))
    lines = [",".join(["frame", "time_s", "observed"] + names)]
    for f, row in enumerate(values):
        lines.append(",".join([str(f), f"{f / body.fps:.6f}", str(int(body.observed[f]))]
                              + [f"{v:.3f}" for v in row]))
    atomic_write_text(path, "\n".join(lines) + "\n")
    return Path(path)


def write_person_files(folder: "str | Path", model, body, meshes: str = "",
                       mesh_every: int = 1) -> int:
    """Write one person's ``folder/body.npz``, its joint angles ``folder/angles.csv`` and, for ``meshes`` ``"ply"`` or ``"obj"``, the
    mesh of every ``mesh_every``-th frame in ``folder/meshes/``. Returns the number of
    meshes written."""
    folder = Path(folder)
    body.save(folder / "body.npz")
    if tuple(body.fitted_joints) == tuple(model.fitted):
        write_angles(folder / ANGLES_FILE, model, body)
    else:                          # a body of another model's joints: no angles to compute
        (folder / ANGLES_FILE).unlink(missing_ok=True)
        log.warning("%s: the body's joints are not the %s model's; no joint angles written",
                    folder / "body.npz", model.kind)
    if not meshes:
        return 0
    return len(write_meshes(folder / "meshes", model, body, meshes, mesh_every))


def write_fits(out: "str | Path", model, fits, meshes: str = "", mesh_every: int = 1,
               ) -> list[dict]:
    """Write every person's files under ``out/person<p>/`` (:func:`write_person_files`).

    Args:
        out: the output folder. model: the body model fitted. fits: the
            :class:`mocap.fit.PersonFit` of each person. meshes, mesh_every: as ``[fit]``.
    Returns:
        one manifest entry per fit: ``id``, ``body`` (the file, relative to ``out``),
        ``angles`` (the joint angles' CSV),
        ``meshes`` (how many), ``height_m`` and ``stages`` (:meth:`PersonFit.summary`).
    """
    out = Path(out)
    entries = []
    for fit in fits:
        rel = f"person{fit.person}/body.npz"
        n = write_person_files(out / f"person{fit.person}", model, fit.body, meshes, mesh_every)
        angles = out / f"person{fit.person}" / ANGLES_FILE
        entries.append({"id": fit.person, "body": rel, "meshes": n, **fit.summary(),
                        **({"angles": f"person{fit.person}/{ANGLES_FILE}"}
                           if angles.is_file() else {})})
    return entries
