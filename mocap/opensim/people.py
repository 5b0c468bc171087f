"""Every person of a take through OpenSim, in parallel processes, written all or nothing.

Each person is solved (:func:`mocap.opensim.person.solve_person`) in its own work folder under
``out/.opensim-<random>/``; only when every person succeeded are their files moved into
``out/person<N>/`` (each file by an atomic rename), so a failure leaves the earlier results
untouched and no half-written file. The first error (one line naming the person and the
keypoint format) is raised after the work folder is removed.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import tempfile
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np

from exporters.atomic import replace_atomically

from ..datasets import pose2sim_opensim_setup
from ..errors import OpenSimError
from ..settings import OpenSimSettings
from .person import PERSON_FILES, PersonJob, solve_person

log = logging.getLogger(__name__)

__all__ = ["solve_people", "person_entry"]


def _jobs(xyz: np.ndarray, fmt: str, fps: float, work: Path, settings: OpenSimSettings,
          setup_dir: Path, virtual: "dict | None") -> list[PersonJob]:
    """One job per person with a keypoint in some frame (others are not in the take)."""
    jobs = []
    for p in range(xyz.shape[1]):
        if not np.isfinite(xyz[:, p]).any():
            log.info("person %d: no keypoint in any frame, skipped", p)
            continue
        if virtual is not None and p not in virtual:
            raise OpenSimError(f"person {p} ({fmt}): [opensim] markers = \"body\" needs the "
                               f"person's fitted body; found none (run `mocap fit`, or set "
                               f"markers = \"keypoints\")")
        (work / f"person{p}").mkdir()
        jobs.append(PersonJob(person=p, xyz=xyz[:, p], format=fmt, fps=fps,
                              setup_dir=setup_dir, work=work / f"person{p}",
                              mass_kg=settings.mass_kg, min_frames=settings.min_frames,
                              virtual=None if virtual is None else virtual[p]))
    return jobs


def _run_jobs(jobs: list[PersonJob], workers: int) -> list[dict]:
    """Solve the jobs, in ``workers`` spawned processes when more than one."""
    if workers <= 1 or len(jobs) <= 1:
        return [solve_person(j) for j in jobs]
    with ProcessPoolExecutor(max_workers=workers,
                             mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(solve_person, j) for j in jobs]
        results = []
        for job, f in zip(jobs, futures):
            try:
                results.append(f.result())
            except BrokenProcessPool:
                raise OpenSimError(f"{job.who}: the OpenSim worker process died (out of "
                                   f"memory, or OpenSim crashed)") from None
        return results


def person_entry(summary: dict) -> dict:
    """A person's manifest entry: its OpenSim files (relative to ``out/``) and summary."""
    p = summary["person"]
    files = [f"person{p}/{name}" for name in PERSON_FILES]
    return {"id": p, "files": files, "opensim": {
        "marker_source": summary.get("markers", "keypoints"), "model": files[1],
        "motion": files[2], "markers": files[0], "marker_errors": files[3],
        "static_frames": summary["static_frames"], "solved_frames": summary["solved_frames"],
        "median_marker_rms_m": round(summary["marker_rms_m"], 5)}}


def _commit(jobs: list[PersonJob], out: Path) -> None:
    """Move every person's files into ``out/person<N>/``."""
    for job in jobs:
        dest = out / f"person{job.person}"
        dest.mkdir(exist_ok=True)
        for name in PERSON_FILES:
            replace_atomically(job.work / name, dest / name)


def solve_people(xyz: np.ndarray, fmt: str, fps: float, out: Path,
                 settings: OpenSimSettings = OpenSimSettings(),
                 virtual: "dict | None" = None) -> list[dict]:
    """Scale and IK of every person, written to ``out/person<N>/`` (see the module).

    Args:
        xyz: (F, P, K, 3) filtered keypoints, metres, world frame (Z up), NaN = missing.
        fmt: their keypoint format. fps: frames per second. out: the session's ``out/``.
        virtual: ``{person: VirtualMarkers}`` (:func:`mocap.opensim.virtual.virtual_markers`)
            to solve from the fitted bodies' virtual markers; None: from the keypoints.
    Returns:
        one manifest entry per person solved (:func:`person_entry`).
    Raises:
        OpenSimError: the first person that failed (one line naming it and the format);
            nothing is written then.
    """
    xyz = np.asarray(xyz, float)
    if xyz.ndim != 4 or xyz.shape[-1] != 3:
        raise OpenSimError(f"keypoints must be (frames, people, keypoints, 3), found "
                           f"{xyz.shape}")
    setup_dir = pose2sim_opensim_setup()
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=out, prefix=".opensim-"))
    try:
        jobs = _jobs(xyz, fmt, fps, work, settings, setup_dir, virtual)
        workers = settings.workers or min(len(jobs), os.cpu_count() or 1)
        summaries = _run_jobs(jobs, workers)
        _commit(jobs, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for s in summaries:
        log.info("person %d: IK of %d frames, median marker RMS %.1f mm, %.1f s", s["person"],
                 s["solved_frames"], 1000 * s["marker_rms_m"], s["seconds"])
    return [person_entry(s) for s in summaries]
