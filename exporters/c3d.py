"""C3D files of 3D points (keypoints as markers), written and read through ezc3d.

What ``write_c3d`` writes:

- One C3D point per keypoint, ``POINT:LABELS`` = the keypoint names (and
  ``POINT:DESCRIPTIONS`` when given), ``POINT:RATE`` = the frame rate in Hz.
- Axes: our world frame unchanged (right-handed, Z up: the laboratory convention of Vicon,
  Qualisys and Visual3D, which read C3D as Z up); ``POINT:UNITS`` = ``"mm"`` (default, what
  biomechanics tools expect) or ``"m"``. Values are stored as float32 (``POINT:SCALE`` -1), so
  the resolution is about 1e-7 of a coordinate (0.1 micrometre at 1 m).
- Missing points (NaN) are written as invalid (residual -1); ezc3d and every C3D reader give
  them back as missing. Valid points have residual 0 (no error estimate).

``read_c3d`` converts back to metres from whatever ``POINT:UNITS`` the file states (mm, cm or
m) and returns missing points as NaN.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from exporters.atomic import atomic_write
from exporters.axes import units_per_metre
from exporters.errors import ExportError, FormatError

__all__ = ["C3dPoints", "write_c3d", "read_c3d"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class C3dPoints:
    """Labelled 3D points over time, as ``read_c3d`` returns them.

    Attributes:
        points: (F, M, 3) float64, metres, world frame (Z up); NaN where a point is missing.
        labels: (M,) point labels.
        rate_hz: frames per second.
        descriptions: (M,) point descriptions (empty strings when the file has none).
        first_frame: the file's first frame number (0 for files written here).
    """

    points: np.ndarray
    labels: tuple[str, ...]
    rate_hz: float
    descriptions: tuple[str, ...] = ()
    first_frame: int = 0


def _check_inputs(points_m: np.ndarray, labels: Sequence[str], rate_hz: float) -> np.ndarray:
    points_m = np.asarray(points_m, dtype=np.float64)
    if points_m.ndim != 3 or points_m.shape[2] != 3:
        raise ExportError(f"C3D points: expected shape (F, M, 3), found {points_m.shape}")
    if len(labels) != points_m.shape[1]:
        raise ExportError(f"C3D labels: expected {points_m.shape[1]} (one per point), found {len(labels)}")
    for m, label in enumerate(labels):
        if not isinstance(label, str) or not label or not label.isascii():
            raise ExportError(f"C3D labels[{m}]: expected a non-empty ASCII string, found {label!r}")
    if len(set(labels)) != len(labels):
        raise ExportError(f"C3D labels: expected unique labels, found duplicates in {list(labels)}")
    if not np.isfinite(rate_hz) or rate_hz <= 0:
        raise ExportError(f"C3D rate_hz: expected a finite number > 0, found {rate_hz!r}")
    if np.any(np.isinf(points_m)):
        raise ExportError("C3D points: expected finite metres or NaN for missing, found infinity")
    return points_m


def write_c3d(
    path: str | os.PathLike[str],
    points_m: np.ndarray,
    labels: Sequence[str],
    rate_hz: float,
    *,
    units: str = "mm",
    descriptions: Sequence[str] | None = None,
) -> None:
    """Write labelled 3D points as a C3D file (layout: module docstring).

    Args:
        path: destination; written atomically.
        points_m: (F, M, 3) metres, world frame (Z up); NaN where a point is missing (a point
            with any NaN coordinate is written as missing).
        labels: (M,) unique ASCII labels.
        rate_hz: frames per second, > 0.
        units: "mm" (default) or "m" for the stored coordinates.
        descriptions: optional (M,) descriptions.

    Raises:
        ExportError: shapes, labels, rate or units that cannot be written.
    """
    import ezc3d

    points_m = _check_inputs(points_m, labels, rate_hz)
    if units not in ("mm", "m"):
        raise ExportError(f"C3D units: expected 'mm' or 'm', found {units!r}")
    if descriptions is not None and len(descriptions) != len(labels):
        raise ExportError(f"C3D descriptions: expected {len(labels)}, found {len(descriptions)}")
    frames, markers = points_m.shape[:2]
    missing = ~np.all(np.isfinite(points_m), axis=-1)                       # (F, M)
    data = np.ones((4, markers, frames))
    data[:3] = np.transpose(points_m * units_per_metre(units), (2, 1, 0))
    data[:3, missing.T] = np.nan
    residuals = np.where(missing.T, -1.0, 0.0)[None]
    c3d = ezc3d.c3d()
    c3d["parameters"]["POINT"]["RATE"]["value"] = [float(rate_hz)]
    c3d["parameters"]["POINT"]["LABELS"]["value"] = list(labels)
    c3d["parameters"]["POINT"]["DESCRIPTIONS"]["value"] = list(descriptions or [""] * markers)
    c3d["parameters"]["POINT"]["UNITS"]["value"] = [units]
    c3d["data"]["points"] = data
    c3d["data"]["meta_points"]["residuals"] = residuals
    target = Path(path)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}.") as folder:
        scratch = Path(folder) / "points.c3d"
        c3d.write(str(scratch))
        with atomic_write(target, "wb") as handle:
            handle.write(scratch.read_bytes())
    logger.info("wrote %s: %d points, %d frames at %g Hz, %s", path, markers, frames, rate_hz, units)


def _parameter(c3d, group: str, name: str, source: str):
    try:
        return c3d["parameters"][group][name]["value"]
    except KeyError:
        raise FormatError(source, f"parameter {group}:{name}", "present", "missing") from None


def _c3d_contents(source: str) -> dict:
    """What :func:`read_c3d` needs of a C3D file, as plain arrays and strings (ezc3d's reader).

    Raises:
        FormatError: ezc3d cannot read the file or a parameter is missing.
    """
    import ezc3d

    try:
        c3d = ezc3d.c3d(source)
    except (OSError, RuntimeError, ValueError, IndexError) as exc:  # ezc3d raises OSError for non-C3D bytes
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise FormatError(source, "file", "a C3D file ezc3d can read", message) from None
    return {
        "labels": [str(label) for label in _parameter(c3d, "POINT", "LABELS", source)],
        "units": [str(u) for u in _parameter(c3d, "POINT", "UNITS", source)],
        "rate": np.asarray(_parameter(c3d, "POINT", "RATE", source), dtype=np.float64),
        "points": np.asarray(c3d["data"]["points"], dtype=np.float64),
        "residuals": c3d["data"]["meta_points"].get("residuals"),
        "descriptions": [str(d) for d in
                         c3d["parameters"]["POINT"].get("DESCRIPTIONS", {}).get("value", [])],
        "first_frame": int(c3d["header"]["points"]["first_frame"]),
    }


#: How long the C3D reader may take before the file is called corrupt (ezc3d loops forever on
#: some corrupt files): this many seconds, plus the second term per megabyte of file.
_READ_SECONDS = 5.0
_READ_SECONDS_PER_MB = 2.0


def _child_read(source: str, conn) -> None:
    """In a child process: send ``("ok", contents)`` or ``("error", FormatError args)``."""
    try:
        conn.send(("ok", _c3d_contents(source)))
    except FormatError as exc:
        conn.send(("error", (exc.source, exc.where, exc.expected, exc.found)))
    except Exception as exc:  # noqa: BLE001 -- reported to the parent as a typed error
        conn.send(("error", (source, "file", "a C3D file ezc3d can read",
                             f"{type(exc).__name__}: {exc}")))
    finally:
        conn.close()


def _read_isolated(source: str) -> dict:
    """:func:`_c3d_contents` in a child process: ezc3d crashes the whole process (segmentation
    fault) or never returns on some corrupt files, which must end as a :class:`FormatError`,
    not kill or hang the caller.

    Raises:
        FormatError: the file cannot be read, or the reader crashed on it.
    """
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_child_read, args=(source, send), daemon=True)
    child.start()
    send.close()
    seconds = _READ_SECONDS + _READ_SECONDS_PER_MB * Path(source).stat().st_size / 1e6
    status, payload = None, None
    try:
        if receive.poll(seconds):
            status, payload = receive.recv()
    except EOFError:
        pass
    finally:
        receive.close()
        if child.is_alive():
            child.kill()
        child.join()
    if status == "ok":
        return payload
    if status == "error":
        raise FormatError(*payload)
    what = ("did not finish in %.0f s" % seconds if child.exitcode == -9
            else f"crashed on it (exit code {child.exitcode})")
    raise FormatError(source, "file", "a C3D file ezc3d can read",
                      f"the C3D reader {what}: a corrupt file")


def read_c3d(path: str | os.PathLike[str]) -> C3dPoints:
    """Read the 3D points of a C3D file, converted to metres (Z up, as stored).

    ezc3d reads the file in a child process (it can crash on corrupt files).

    Raises:
        FormatError: the file cannot be read by ezc3d, or its units are not mm, cm or m.
        FileNotFoundError: no such file.
    """
    source = str(path)
    if not Path(path).is_file():
        raise FileNotFoundError(source)
    c3d = _read_isolated(source)
    labels = tuple(label.strip() for label in c3d["labels"])
    units = c3d["units"][0].strip().lower() if len(c3d["units"]) else "mm"
    if units not in ("mm", "cm", "m"):
        raise FormatError(source, "parameter POINT:UNITS", "'mm', 'cm' or 'm'", repr(units))
    if c3d["rate"].size == 0 or c3d["points"].ndim != 3 or c3d["points"].shape[0] < 3:
        raise FormatError(source, "parameter POINT:RATE and the points", "a rate and (4, M, F) "
                          "points", f"rate {c3d['rate'].tolist()}, points {c3d['points'].shape}")
    rate = float(c3d["rate"].reshape(-1)[0])
    points = np.transpose(c3d["points"][:3], (2, 1, 0)) / units_per_metre(units)
    residuals = c3d["residuals"]
    if residuals is not None and residuals.size:
        points[np.transpose(residuals[0] < 0)] = np.nan
    descriptions = c3d["descriptions"]
    if len(descriptions) == len(labels):
        descriptions = tuple(d.strip() for d in descriptions)
    else:
        descriptions = ("",) * len(labels)
    return C3dPoints(points, labels[: points.shape[1]], rate, descriptions, c3d["first_frame"])
