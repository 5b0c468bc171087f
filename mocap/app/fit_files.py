"""The fit stage's files: per person ``person<p>/body.npz`` (:class:`mocap.body.BodyMotion`,
AMASS layout) and, when asked, one mesh per frame in ``person<p>/meshes/`` (PLY or OBJ).

The fits come from :func:`mocap.fit.fit_points3d` (anything with ``person``, ``body`` and
``summary()`` will do); the manifest entries returned here are what ``fit.json`` and
``manifest.json`` list.
"""
from __future__ import annotations

from pathlib import Path

from ..body import write_meshes

__all__ = ["write_person_files", "write_fits"]


def write_person_files(folder: "str | Path", model, body, meshes: str = "",
                       mesh_every: int = 1) -> int:
    """Write one person's ``folder/body.npz`` and, for ``meshes`` ``"ply"`` or ``"obj"``, the
    mesh of every ``mesh_every``-th frame in ``folder/meshes/``. Returns the number of
    meshes written."""
    folder = Path(folder)
    body.save(folder / "body.npz")
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
        ``meshes`` (how many), ``height_m`` and ``stages`` (:meth:`PersonFit.summary`).
    """
    out = Path(out)
    entries = []
    for fit in fits:
        rel = f"person{fit.person}/body.npz"
        n = write_person_files(out / f"person{fit.person}", model, fit.body, meshes, mesh_every)
        entries.append({"id": fit.person, "body": rel, "meshes": n, **fit.summary()})
    return entries
