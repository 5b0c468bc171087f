"""OpenSim's ScaleTool and InverseKinematicsTool driven through the ``opensim`` wheel.

Each function takes file paths and writes OpenSim's own files; :mod:`mocap.opensim.person`
prepares the marker files and keeps the results. ``opensim`` is imported inside the functions
(an optional dependency, heavy to import). Any failure inside OpenSim (it raises
``RuntimeError`` with its own message) becomes :class:`mocap.errors.OpenSimError` naming the
person and the keypoint format.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
from pathlib import Path

import numpy as np

from ..errors import OpenSimError

log = logging.getLogger(__name__)

__all__ = ["MODEL_FILE", "import_opensim", "quiet_stdout", "tool_errors", "model_marker_names",
           "scale_model", "inverse_kinematics", "read_sto"]

#: The generic model scaled for every person (Pose2Sim's, with its marker sets).
MODEL_FILE = "Model_Pose2Sim_simple.osim"


def import_opensim():
    """The ``opensim`` module, quiet (warnings only), or an :class:`OpenSimError` saying how
    to install it."""
    try:
        import opensim
    except ImportError as e:
        raise OpenSimError(f"the opensim package is needed for scaling and inverse kinematics "
                           f"(pip install opensim==4.6): {e}") from None
    opensim.Logger.setLevelString("error")
    opensim.Logger.removeFileSink()     # else OpenSim writes opensim.log where it runs
    return opensim


@contextlib.contextmanager
def quiet_stdout():
    """Send the process's standard output (OpenSim's C++ prints a model summary there) to
    the null device inside the block."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):    # no real file (a test's capture)
        yield
        return
    sys.stdout.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


@contextlib.contextmanager
def tool_errors(what: str, who: str):
    """Turn OpenSim's exceptions inside the block into one-line :class:`OpenSimError`."""
    try:
        yield
    except (RuntimeError, OSError) as e:
        reason = " ".join(str(e).split())[:300]
        raise OpenSimError(f"{who}: OpenSim {what} failed: {reason}") from None


def model_marker_names(setup_dir: Path, marker_file: str) -> tuple[str, ...]:
    """The marker names of a Pose2Sim marker set file, in file order."""
    osim = import_opensim()
    ms = osim.MarkerSet(str(setup_dir / marker_file))
    return tuple(ms.get(i).getName() for i in range(ms.getSize()))


def _switch_off_measurements(scaler, names: set) -> None:
    """Turn off the scaling measurements whose marker pairs name a marker we do not have."""
    ms = scaler.getMeasurementSet()
    for i in range(ms.getSize()):
        m = ms.get(i)
        pairs = m.getMarkerPairSet()
        used = {pairs.get(k).getMarkerName(e) for k in range(pairs.getSize()) for e in (0, 1)}
        if not used <= names:
            m.setApply(False)


def scale_model(setup_dir: Path, files: tuple, names, static_trc: Path, time_range_s: tuple,
                out_osim: Path, mass_kg: float, who: str) -> None:
    """Scale the generic model to the markers of ``static_trc`` (Pose2Sim's scaling setup:
    measurements between marker pairs averaged over ``time_range_s``, no marker placement).

    Args:
        files: (marker set, scaling setup, IK setup) file names in ``setup_dir``.
        names: the markers the TRC holds; measurements needing others are switched off.
        out_osim: the scaled model written.
    """
    osim = import_opensim()
    with tool_errors("scaling", who):
        tool = osim.ScaleTool(str(setup_dir / files[1]))
        tool.setSubjectMass(float(mass_kg))
        tool.setPathToSubject("")       # every path below is absolute
        maker = tool.getGenericModelMaker()
        maker.setModelFileName(str(setup_dir / MODEL_FILE))
        maker.setMarkerSetFileName(str(setup_dir / files[0]))
        scaler = tool.getModelScaler()
        scaler.setApply(True)
        scaler.setMarkerFileName(str(static_trc))
        scaler.setTimeRange(_time_range(osim, time_range_s))
        scaler.setPreserveMassDist(True)
        scaler.setOutputModelFileName(str(out_osim))
        _switch_off_measurements(scaler, set(names))
        tool.getMarkerPlacer().setApply(False)
        with quiet_stdout():
            ok = tool.run()
    log.debug("scale tool returned %r", ok)
    if not out_osim.is_file():
        raise OpenSimError(f"{who}: OpenSim scaling wrote no model")


def _time_range(osim, time_range_s: tuple):
    arr = osim.ArrayDouble()
    for t in time_range_s:
        arr.append(float(t))
    return arr


def _start_model(osim, model_osim: Path, initial: dict, out: Path) -> Path:
    """A copy of the model whose default coordinates (the IK's first guess) are ``initial``
    ({coordinate: value in radians or metres})."""
    model = osim.Model(str(model_osim))
    coords = model.getCoordinateSet()
    for name, value in initial.items():
        coords.get(name).setDefaultValue(float(value))
    model.printToXML(str(out))
    return out


def _own_tasks(osim, weights: dict):
    """An IK task set of one marker task per ``{marker: weight}``."""
    tasks = osim.IKTaskSet()
    for name, w in weights.items():
        task = osim.IKMarkerTask()
        task.setName(name)
        task.setWeight(float(w))
        task.setApply(True)
        tasks.cloneAndAppend(task)
    return tasks


def _switch_off_tasks(osim, tasks, have: set) -> None:
    """Turn off the marker tasks of markers not in ``have``."""
    for i in range(tasks.getSize()):
        task = tasks.get(i)
        if osim.IKMarkerTask.safeDownCast(task) is not None and task.getName() not in have:
            task.setApply(False)


def inverse_kinematics(setup_dir: Path, ik_setup: str, names, model_osim: Path, trc: Path,
                       time_range_s: tuple, out_mot: Path, results_dir: Path, who: str,
                       initial: "dict | None" = None, weights: "dict | None" = None) -> Path:
    """Inverse kinematics of ``trc`` over ``time_range_s`` (Pose2Sim's IK setup: its accuracy
    and marker weights; tasks of markers the TRC lacks switched off).

    ``initial``: coordinate values the first frame starts from (the tool starts from the
    model's defaults: a person facing away from the model's +X then lands in a twisted pose,
    knees bent backwards, for the first frames); later frames start from the previous one.
    ``weights``: ``{marker: weight}`` marker tasks replacing the setup's (the virtual markers).

    Returns:
        the marker errors file OpenSim wrote (``<results_dir>/ik_ik_marker_errors.sto``:
        time, total squared error, marker RMS and max error, metres).
    """
    osim = import_opensim()
    have = set(names)
    with tool_errors("inverse kinematics", who):
        if initial:
            model_osim = _start_model(osim, model_osim, initial, results_dir / "start.osim")
        tool = osim.InverseKinematicsTool(str(setup_dir / ik_setup))
        tool.setName("ik")
        tool.set_model_file(str(model_osim))
        tool.setMarkerDataFileName(str(trc))
        tool.setOutputMotionFileName(str(out_mot))
        tool.setStartTime(float(time_range_s[0]))
        tool.setEndTime(float(time_range_s[1]))
        tool.set_report_errors(True)
        tool.setResultsDir(str(results_dir))
        if weights:
            tool.set_IKTaskSet(_own_tasks(osim, weights))
        _switch_off_tasks(osim, tool.getIKTaskSet(), have)
        with quiet_stdout():
            ok = tool.run()
    log.debug("IK tool returned %r", ok)
    errors = results_dir / "ik_ik_marker_errors.sto"
    if not out_mot.is_file() or not errors.is_file():
        raise OpenSimError(f"{who}: OpenSim inverse kinematics wrote no motion")
    return errors


def read_sto(path: Path) -> tuple[list[str], list[str], np.ndarray]:
    """An OpenSim .mot/.sto text file: (header lines up to ``endheader``, column labels,
    (R, C) values)."""
    lines = path.read_text().splitlines()
    end = next(i for i, ln in enumerate(lines) if ln.strip().lower() == "endheader")
    labels = lines[end + 1].split("\t")
    rows = [ln.split("\t") for ln in lines[end + 2:] if ln.strip()]
    values = np.array([[float(v) for v in r] for r in rows]).reshape(len(rows), len(labels))
    return lines[:end], [lab.strip() for lab in labels], values
