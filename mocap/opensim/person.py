"""One person through OpenSim: markers from the keypoints, the model scaled from the upright
frames, inverse kinematics over every frame the person can be solved in. Everything is
written into a work folder given by the caller (:mod:`mocap.opensim.people` moves the files
into ``out/person<N>/`` only once every person succeeded).

Files written into the work folder:

- ``markers.trc``: the markers of the whole take (OpenSim's axes: Y up, metres); frames the
  person cannot be solved in are empty.
- ``scaled.osim``: Pose2Sim's model scaled to the person (from the upright frames), or, with
  the fitted body's virtual markers (:attr:`PersonJob.virtual`), adapted to the body and
  carrying its markers (:mod:`mocap.opensim.placement`).
- ``ik.mot``: the model's coordinates (degrees; translations metres) at every solved frame;
  the time column gives the frame (frame index / fps). Frames the person is missing from, or
  where too few markers were seen, have no row.
- ``ik_marker_errors.csv``: ``frame,time_s,solved,rms_m,max_m`` for every frame of the take
  (NaN where not solved): OpenSim's marker errors of the solution.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from exporters.atomic import atomic_write_text
from exporters.axes import zup_to_yup
from exporters.trc import write_trc

from ..errors import OpenSimError
from .markers import (MarkerSet, marker_set_for, markers_from_keypoints, solvable_frames,
                      upright_frames)
from .placement import scale_and_place
from .tools import inverse_kinematics, model_marker_names, read_sto, scale_model

if TYPE_CHECKING:                  # torch and the body model: not in the worker processes
    from .virtual import VirtualMarkers

log = logging.getLogger(__name__)

__all__ = ["PersonJob", "PERSON_FILES", "solve_person", "frame_runs", "merge_motions"]

#: The files :func:`solve_person` leaves in its work folder.
PERSON_FILES = ("markers.trc", "scaled.osim", "ik.mot", "ik_marker_errors.csv")


@dataclass(frozen=True)
class PersonJob:
    """What one person's solve needs (picklable: it crosses into a worker process).

    Attributes:
        person: the person's index. xyz: (F, K, 3) filtered keypoints, metres, world frame
        (Z up), NaN = missing. format: their keypoint format. fps: frames per second.
        setup_dir: Pose2Sim's OpenSim setup folder. work: the folder to write into.
        mass_kg, min_frames: as in :class:`mocap.settings.OpenSimSettings`.
        virtual: the virtual markers of the person's fitted body (``[opensim] markers =
        "body"``), or None: the markers are the keypoints (Pose2Sim's marker set).
    """

    person: int
    xyz: np.ndarray
    format: str
    fps: float
    setup_dir: Path
    work: Path
    mass_kg: float = 70.0
    min_frames: int = 10
    virtual: "VirtualMarkers | None" = None

    @property
    def who(self) -> str:
        where = ", markers on the fitted body" if self.virtual is not None else ""
        return f"person {self.person} ({self.format}{where})"


def frame_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[(first, last)] inclusive frame ranges of the runs of True in ``mask`` (F,)."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1))


#: The IK setup whose solver settings (accuracy, constraints) the virtual markers' IK uses;
#: its marker tasks are replaced by the virtual markers' weights.
VIRTUAL_IK_SETUP = "IK_Setup_Pose2Sim_Body25.xml"


def _virtual_markers(job: PersonJob) -> tuple[MarkerSet, np.ndarray, np.ndarray]:
    """As :func:`_markers`, for the fitted body's virtual markers: frames where the body was
    observed are solved."""
    vm = job.virtual
    xyz = np.array(vm.xyz, float)
    ok = np.isfinite(xyz).all((1, 2))
    if ok.sum() < job.min_frames:
        raise OpenSimError(f"{job.who}: the fitted body was observed in {int(ok.sum())} of "
                           f"{len(ok)} frames; at least {job.min_frames} needed ([opensim] "
                           f"min_frames)")
    return MarkerSet("body", ("", "", VIRTUAL_IK_SETUP), vm.names, ()), xyz, ok


def _markers(job: PersonJob) -> tuple[MarkerSet, np.ndarray, np.ndarray]:
    """The marker set, (F, M, 3) markers (unsolvable frames NaN) and the (F,) solvable mask.

    Raises:
        OpenSimError: no marker set for the format, or fewer than ``min_frames`` solvable.
    """
    if job.virtual is not None:
        return _virtual_markers(job)
    files = marker_set_for(job.format, (), job.person).files
    markers = marker_set_for(job.format, model_marker_names(job.setup_dir, files[0]),
                             job.person)
    xyz = markers_from_keypoints(job.xyz, markers)
    ok = solvable_frames(xyz, markers.names)
    if ok.sum() < job.min_frames:
        raise OpenSimError(
            f"{job.who}: seen with the markers IK needs (hips, knees, ankles and 60 % of the "
            f"markers) in {int(ok.sum())} of {len(ok)} frames; at least {job.min_frames} needed "
            f"([opensim] min_frames)")
    xyz[~ok] = np.nan
    return markers, xyz, ok


def _scale(job: PersonJob, markers: MarkerSet, xyz: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Scale the model from the upright frames (``static.trc``); returns their indices. With
    virtual markers: the model scaled to the fitted body and its markers placed from the
    body's neutral pose (:func:`mocap.opensim.placement.scale_and_place`); no static frames."""
    if job.virtual is not None:
        vm = job.virtual
        scale_and_place(vm.lengths, vm.joints, vm.names, vm.segments, vm.neutral,
                        job.work / "scaled.osim", job.mass_kg, job.who, job.setup_dir)
        return np.zeros(0, int)
    static = upright_frames(job.xyz, job.format, ok)
    log.info("%s: scaling from %d upright frames", job.who, len(static))
    write_trc(job.work / "static.trc", markers.names, xyz[static], job.fps)
    scale_model(job.setup_dir, markers.files, markers.names, job.work / "static.trc",
                (0.0, (len(static) - 1) / job.fps), job.work / "scaled.osim", job.mass_kg,
                job.who)
    return static


def merge_motions(parts: list[Path], out: Path) -> None:
    """Join the .mot files of consecutive frame runs into one (the first one's header, its
    ``nRows`` set to the total)."""
    texts = [p.read_text().splitlines() for p in parts]
    ends = [next(i for i, ln in enumerate(t) if ln.strip().lower() == "endheader") for t in texts]
    rows = [ln for t, e in zip(texts, ends) for ln in t[e + 2:] if ln.strip()]
    head = [f"nRows={len(rows)}" if ln.startswith("nRows=") else ln for ln in texts[0][:ends[0]]]
    atomic_write_text(out, "\n".join(head + texts[0][ends[0]:ends[0] + 2] + rows) + "\n")


def _errors_table(F: int, fps: float, ok: np.ndarray, error_files: list[Path]) -> str:
    """The ``ik_marker_errors.csv`` text from OpenSim's marker error files."""
    rms = np.full(F, np.nan)
    mx = np.full(F, np.nan)
    for path in error_files:
        _, labels, v = read_sto(path)
        f = np.rint(v[:, labels.index("time")] * fps).astype(int)
        rms[f] = v[:, labels.index("marker_error_RMS")]
        mx[f] = v[:, labels.index("marker_error_max")]
    lines = ["frame,time_s,solved,rms_m,max_m"]
    lines += [f"{f},{f / fps:.6f},{int(ok[f])},{rms[f]:.6f},{mx[f]:.6f}" for f in range(F)]
    return "\n".join(lines) + "\n"


def initial_pelvis(markers: MarkerSet, xyz: np.ndarray) -> dict:
    """The pelvis coordinates IK starts a run from: standing upright at the hip markers'
    midpoint, facing where the hips face (left hip minus right hip, turned a quarter to the
    front). xyz: (M, 3) the run's first frame, metres, world frame (Z up)."""
    hips = ("LHJC", "RHJC") if markers.format == "body" else ("LHip", "RHip")
    left, right = (xyz[markers.names.index(n)] for n in hips)
    forward = np.cross(left - right, [0.0, 0.0, 1.0])
    mid = zup_to_yup(0.5 * (left + right))           # OpenSim's ground: X forward, Y up
    return {"pelvis_rotation": float(np.arctan2(forward[1], forward[0])),
            "pelvis_tx": float(mid[0]), "pelvis_ty": float(mid[1]), "pelvis_tz": float(mid[2])}


def _inverse_kinematics(job: PersonJob, markers: MarkerSet, xyz: np.ndarray,
                        ok: np.ndarray) -> None:
    """IK over each run of solvable frames, joined into ``ik.mot`` and the errors table;
    xyz: (F, M, 3) the markers."""
    parts, errors = [], []
    for k, (a, b) in enumerate(frame_runs(ok)):
        run = job.work / f"run{k}"
        run.mkdir()
        errors.append(inverse_kinematics(
            job.setup_dir, markers.files[2], markers.names, job.work / "scaled.osim",
            job.work / "markers.trc", (a / job.fps, b / job.fps), run / "ik.mot", run, job.who,
            initial_pelvis(markers, xyz[a]),
            None if job.virtual is None else dict(zip(job.virtual.names, job.virtual.weights))))
        parts.append(run / "ik.mot")
    merge_motions(parts, job.work / "ik.mot")
    atomic_write_text(job.work / "ik_marker_errors.csv",
                      _errors_table(len(ok), job.fps, ok, errors))


def solve_person(job: PersonJob) -> dict:
    """Scale and IK of one person into ``job.work`` (see the module docstring).

    Returns:
        a summary: ``person``, ``static_frames``, ``solved_frames``, ``marker_rms_m`` (median
        over the solved frames), ``seconds`` (scaling and IK).
    Raises:
        OpenSimError: one line naming the person and the format (no marker set, too few
            frames, an OpenSim tool failing).
    """
    t0 = time.perf_counter()
    markers, xyz, ok = _markers(job)
    write_trc(job.work / "markers.trc", markers.names, xyz, job.fps)
    static = _scale(job, markers, xyz, ok)
    _inverse_kinematics(job, markers, xyz, ok)
    table = np.genfromtxt(job.work / "ik_marker_errors.csv", delimiter=",", names=True)
    return dict(person=job.person, markers="keypoints" if job.virtual is None else "body",
                static_frames=static.tolist(), solved_frames=int(ok.sum()),
                marker_rms_m=float(np.nanmedian(table["rms_m"])),
                seconds=time.perf_counter() - t0, pid=os.getpid())
