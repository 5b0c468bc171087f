"""TRC marker files (OpenSim, Pose2Sim, Motion Analysis): a format-only writer and reader.

What ``write_trc`` writes (TRC has no comments, so it is stated here):

- Tab-separated text. Line 1: ``PathFileType 4 (X/Y/Z) <file name>``. Line 2: the header
  keys ``DataRate CameraRate NumFrames NumMarkers Units OrigDataRate OrigDataStartFrame
  OrigNumFrames``; line 3 their values (rates = ``fps``, start frame 1). Line 4:
  ``Frame# Time`` then each marker name followed by two empty cells; line 5: ``X1 Y1 Z1 X2
  ...``; line 6 empty; then one line per frame: frame number (from 1), time in seconds
  (frame index / fps, from 0), then x y z of every marker.
- Axes: the input is in the internal world frame (right-handed, Z up, metres). ``up="y"``
  (default, what OpenSim expects) converts with :func:`exporters.axes.zup_to_yup`
  ((x, y, z) -> (x, z, -y)); ``up="z"`` writes the axes unchanged.
- Units: ``units`` "m" (default), "cm" or "mm"; coordinates are written with 6 decimals in
  metres (more for cm and mm is not needed: 1e-6 m, 1e-4 cm, 1e-3 mm are kept).
- Missing samples (NaN) are written as empty cells, as OpenSim reads them, except at the end
  of a row, where they are written ``NaN`` (OpenSim drops a row's last empty cell and then
  refuses the row); ``read_trc`` gives both back as NaN.

``read_trc`` reads any such file (CRLF, trailing tabs, missing cells, Pose2Sim's files) and
returns the coordinates in the internal frame given the file's ``up`` axis (which a TRC file
does not record: say it) and its ``Units`` header.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from exporters.atomic import atomic_write
from exporters.axes import units_per_metre, yup_to_zup, zup_to_yup
from exporters.errors import ExportError, FormatError

__all__ = ["TrcData", "write_trc", "read_trc"]

_HEADER_KEYS = ("DataRate", "CameraRate", "NumFrames", "NumMarkers", "Units", "OrigDataRate",
                "OrigDataStartFrame", "OrigNumFrames")


@dataclass(frozen=True)
class TrcData:
    """The content of a TRC file.

    Attributes:
        marker_names: (M,) names in file order.
        xyz: (F, M, 3) float64 metres in the internal frame (Z up unless read with
            ``up="file"``); NaN where a cell was empty.
        fps: the file's DataRate, frames per second.
        units: the file's Units header ("m", "cm" or "mm").
        frame_numbers: (F,) int, the ``Frame#`` column.
        time_s: (F,) float, the ``Time`` column, seconds.
    """

    marker_names: tuple[str, ...]
    xyz: np.ndarray
    fps: float
    units: str
    frame_numbers: np.ndarray
    time_s: np.ndarray


def _fmt(v: float) -> str:
    return "" if not np.isfinite(v) else f"{v:.6f}"


def _trailing_nan(cells: list) -> list:
    """The row's trailing empty cells written ``NaN``: OpenSim drops a row's last empty cell
    and then finds one column too few."""
    end = len(cells)
    while end > 2 and cells[end - 1] == "":
        end -= 1
    return cells[:end] + ["NaN"] * (len(cells) - end)


def _data_rows(values: np.ndarray, fps: float) -> list:
    """One text line per frame: frame number, time, then the (F, 3 M) values. A row with
    every value known is formatted by one format string (the same text as cell by cell,
    ``%.6f`` is ``{:.6f}``); a row with missing values cell by cell."""
    F, n = values.shape
    full = "\t".join(["%d", "%.6f"] + ["%.6f"] * n)
    known = np.isfinite(values).all(1)
    rows = values.tolist()
    lines = []
    for f in range(F):
        if known[f]:
            lines.append(full % (f + 1, f / fps, *rows[f]))
        else:
            cells = [str(f + 1), f"{f / fps:.6f}"] + [_fmt(v) for v in values[f]]
            lines.append("\t".join(_trailing_nan(cells)))
    return lines


def write_trc(path: "str | os.PathLike", marker_names, xyz: np.ndarray, fps: float,
              units: str = "m", up: str = "y") -> Path:
    """Write markers to a TRC file atomically.

    Args:
        path: the file to write.
        marker_names: (M,) marker names (non-empty, no tabs or newlines).
        xyz: (F, M, 3) positions in metres, internal world frame (right-handed, Z up);
            NaN = missing.
        fps: frames per second (> 0).
        units: "m", "cm" or "mm" in the file.
        up: "y" (OpenSim) or "z", the file's up axis.
    Returns:
        the path written.
    Raises:
        ExportError: names, shapes, fps, units or up axis not as stated.
    """
    path = Path(path)
    names = [str(n) for n in (marker_names if not isinstance(marker_names, str) else [marker_names])]
    if isinstance(marker_names, np.ndarray) and marker_names.dtype.kind not in "US":
        raise ExportError(f"{path}: marker_names must be strings, found an array of {marker_names.dtype}")
    xyz = np.asarray(xyz, dtype=np.float64)
    if xyz.ndim != 3 or xyz.shape[2] != 3 or xyz.shape[1] != len(names):
        raise ExportError(f"{path}: xyz must have shape (F, {len(names)}, 3) for {len(names)} markers, found {xyz.shape}")
    bad = [n for n in names if not n or any(c in n for c in "\t\r\n")]
    if bad:
        raise ExportError(f"{path}: marker names must be non-empty without tabs or newlines, found {bad[0]!r}")
    if not (np.isfinite(fps) and fps > 0):
        raise ExportError(f"{path}: fps must be positive, found {fps}")
    if up not in ("y", "z"):
        raise ExportError(f"{path}: up must be 'y' or 'z', found {up!r}")
    if np.isinf(xyz).any():
        raise ExportError(f"{path}: xyz holds infinite values; expected finite or NaN")
    scale = units_per_metre(units)
    out = (zup_to_yup(xyz) if up == "y" else xyz) * scale
    F, M = xyz.shape[:2]
    rate = f"{fps:g}"
    lines = [
        f"PathFileType\t4\t(X/Y/Z)\t{path.name}",
        "\t".join(_HEADER_KEYS),
        "\t".join([rate, rate, str(F), str(M), units, rate, "1", str(F)]),
        "\t".join(["Frame#", "Time"] + [f"{n}\t\t" for n in names]).rstrip("\t"),
        "\t\t" + "\t".join(f"X{i}\tY{i}\tZ{i}" for i in range(1, M + 1)),
        "",
    ]
    lines += _data_rows(out.reshape(F, -1), fps)
    with atomic_write(path, "w", newline="\n") as fh:
        fh.write("\n".join(lines) + "\n")
    return path


def _number(text: str, path: Path, line: int, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise FormatError(str(path), f"line {line}", what, repr(text)) from None


def _count(text: str, path: Path, line: int, what: str) -> int:
    """A whole number >= 0 (a count or a frame number), written as an integer or a float."""
    value = _number(text, path, line, what)
    if not (np.isfinite(value) and value >= 0 and value.is_integer()):
        raise FormatError(str(path), f"line {line}", what, repr(text))
    return int(value)


def read_trc(path: "str | os.PathLike", up: str = "y") -> TrcData:
    """Read a TRC file.

    Args:
        path: the file.
        up: the file's up axis: "y" (OpenSim files, the default of :func:`write_trc`), "z", or
            "file" to return the file's axes unchanged (in metres).
    Returns:
        :class:`TrcData` with ``xyz`` in metres, internal frame (Z up) unless ``up="file"``.
    Raises:
        FormatError: naming the file and line of what cannot be parsed.
    """
    path = Path(path)
    if up not in ("y", "z", "file"):
        raise ExportError(f"{path}: up must be 'y', 'z' or 'file', found {up!r}")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise FormatError(str(path), "file", "a readable TRC text file", str(exc)) from None
    rows = [ln.rstrip("\r\n").split("\t") for ln in text.splitlines()]
    if len(rows) < 5 or not rows[0] or rows[0][0] != "PathFileType":
        found = rows[0][0] if rows and rows[0] else "nothing"
        raise FormatError(str(path), "line 1", "'PathFileType'", repr(found))
    keys = [k.strip() for k in rows[1]]
    vals = [v.strip() for v in rows[2]]
    header = dict(zip(keys, vals))
    for key in ("DataRate", "NumMarkers", "Units"):
        if key not in header:
            raise FormatError(str(path), "line 2", f"header key {key!r}", repr(rows[1]))
    fps = _number(header["DataRate"], path, 3, "a number for DataRate")
    M = _count(header["NumMarkers"], path, 3, "an integer >= 0 for NumMarkers")
    units = header["Units"]
    try:
        scale = units_per_metre(units)
    except ExportError:
        raise FormatError(str(path), "line 3", "Units m, cm or mm", repr(units)) from None
    names = tuple(n.strip() for n in rows[3][2:] if n.strip())
    if len(names) != M:
        raise FormatError(str(path), "line 4", f"{M} marker names (NumMarkers)", f"{len(names)}")
    frames, times, data = [], [], []
    for i, row in enumerate(rows[5:], start=6):
        if not any(c.strip() for c in row):
            continue
        cells = [c.strip() for c in row]
        cells += [""] * (2 + 3 * M - len(cells))
        if len(cells) > 2 + 3 * M and any(cells[2 + 3 * M:]):
            raise FormatError(str(path), f"line {i}", f"{2 + 3 * M} cells", f"{len(cells)}")
        frames.append(_count(cells[0], path, i, "a frame number"))
        times.append(_number(cells[1], path, i, "a time in seconds"))
        data.append([np.nan if c == "" else _number(c, path, i, "a coordinate") for c in cells[2:2 + 3 * M]])
    xyz = np.array(data, dtype=np.float64).reshape(len(data), M, 3) / scale
    if up == "y":
        xyz = yup_to_zup(xyz)
    return TrcData(marker_names=names, xyz=xyz, fps=fps, units=units,
                   frame_numbers=np.array(frames, dtype=int), time_s=np.array(times))
