"""Foot contact: when each foot's heel and toe rest on the floor.

A point touches the floor at a frame when it is low (height above its own floor level under
``height_m``) and still (speed under ``speed_m_per_s``). Each point's floor level is a low
percentile of its height over the take, so a keypoint that sits a few centimetres above the
sole (a detector's heel, an ankle) or a floor calibrated a little off still gives contacts.
Hysteresis: a contact starts under the thresholds and ends only above 1.5 times them; then
gaps shorter than ``min_frames`` are closed and contacts shorter than it are dropped.

Contact points per foot (``foot_points``), from the joint names present:

- heel: ``<side>_heel``, else ``<side>_ankle``;
- toe: the mean of ``<side>_big_toe`` and ``<side>_small_toe`` (those present), else
  ``<side>_foot`` (a body model's ball of the foot), else the heel point.

The foot is in contact when its heel or its toe is. ``out/person<p>/contacts.csv`` holds one
row per frame: ``frame, time_s`` and 0/1 columns ``left_heel, left_toe, left_foot,
right_heel, right_toe, right_foot``.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from exporters.atomic import atomic_write

from ..errors import MocapError

__all__ = ["CONTACT_COLUMNS", "ContactOptions", "Contacts", "foot_points", "point_positions",
           "detect_contacts", "contact_intervals", "clean_runs", "write_contacts_csv",
           "read_contacts_csv"]

SIDES = ("left", "right")
CONTACT_COLUMNS = ("left_heel", "left_toe", "left_foot", "right_heel", "right_toe", "right_foot")
"""The 0/1 columns of ``contacts.csv``, in order."""
HYSTERESIS = 1.5
"""A contact ends when height or speed exceeds this many times its threshold."""
FLOOR_PERCENTILE = 2.0
"""Percentile of a point's height over the take taken as its floor level."""


@dataclass(frozen=True)
class ContactOptions:
    """Thresholds of contact detection.

    Attributes:
        height_m: a point touches when at most this high above its floor level, metres.
        speed_m_per_s: ... and at most this fast (3D speed, metres per second).
        min_s: contacts and gaps between them shorter than this are removed, seconds.
    """

    height_m: float = 0.04
    speed_m_per_s: float = 0.3
    min_s: float = 0.05


@dataclass(frozen=True)
class Contacts:
    """Per frame, which heel, toe and foot touch the floor.

    Attributes:
        flags: (F, 6) bool, columns :data:`CONTACT_COLUMNS`.
        fps: frames per second of the take.
        floor_m: (4,) metres, world z: the floor level found for left heel, left toe, right
            heel, right toe (the height a point has when it rests on the floor).
    """

    flags: np.ndarray
    fps: float
    floor_m: np.ndarray

    def column(self, name: str) -> np.ndarray:
        """(F,) bool contact of one column of :data:`CONTACT_COLUMNS`."""
        return self.flags[:, CONTACT_COLUMNS.index(name)]


def foot_points(joint_names) -> dict[str, tuple[int, ...]]:
    """Indices of the joints averaged into each contact point.

    Args:
        joint_names: (J,) canonical joint names.
    Returns:
        {``left_heel``, ``left_toe``, ``right_heel``, ``right_toe``: joint indices (1 or 2)}.
    Raises:
        MocapError: a side has neither heel nor ankle.
    """
    index = {n: i for i, n in enumerate(joint_names)}
    out = {}
    for side in SIDES:
        heel = [index[n] for n in (f"{side}_heel", f"{side}_ankle") if n in index][:1]
        if not heel:
            raise MocapError(f"foot contact needs a {side}_heel or {side}_ankle joint; found "
                             f"joints {list(joint_names)}")
        toes = [index[n] for n in (f"{side}_big_toe", f"{side}_small_toe") if n in index]
        toes = toes or [index[n] for n in (f"{side}_foot",) if n in index] or heel
        out[f"{side}_heel"], out[f"{side}_toe"] = tuple(heel), tuple(toes)
    return out


def point_positions(xyz: np.ndarray, points: dict[str, tuple[int, ...]]) -> np.ndarray:
    """(F, 4, 3) metres: left heel, left toe, right heel, right toe from joints (F, J, 3)."""
    names = ("left_heel", "left_toe", "right_heel", "right_toe")
    return np.stack([xyz[:, list(points[n])].mean(1) for n in names], 1)


def speeds(pos: np.ndarray, fps: float) -> np.ndarray:
    """(F, K) metres per second: central differences over +-0.05 s (at least one frame) of
    positions (F, K, 3); NaN where a position is missing."""
    w = max(1, int(round(0.05 * fps)))
    F = len(pos)
    lo, hi = np.clip(np.arange(F) - w, 0, F - 1), np.clip(np.arange(F) + w, 0, F - 1)
    span = np.maximum(hi - lo, 1)[:, None]
    return np.linalg.norm(pos[hi] - pos[lo], axis=-1) * fps / span


def contact_intervals(flags: np.ndarray) -> list[tuple[int, int]]:
    """Runs of True in a (F,) bool array as [start, stop) frame pairs."""
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def clean_runs(flags: np.ndarray, min_frames: int) -> np.ndarray:
    """(F,) bool: gaps shorter than ``min_frames`` between contacts closed, then contacts
    shorter than it dropped."""
    out = flags.copy()
    runs = contact_intervals(out)
    for (_, stop), (start, _) in zip(runs[:-1], runs[1:]):
        if start - stop < min_frames:
            out[stop:start] = True
    for start, stop in contact_intervals(out):
        if stop - start < min_frames:
            out[start:stop] = False
    return out


def hysteresis(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """(F,) bool: on where ``low`` holds, staying on while ``high`` holds (``low`` implies
    ``high``)."""
    out = np.zeros(len(low), bool)
    on = False
    for f in range(len(low)):
        on = bool(low[f]) or (on and bool(high[f]))
        out[f] = on
    return out


def detect_contacts(xyz: np.ndarray, joint_names, fps: float,
                    options: ContactOptions = ContactOptions()) -> Contacts:
    """Foot contact of one person.

    Args:
        xyz: (F, J, 3) joint positions, metres, world frame (Z up, floor z = 0), NaN where
            missing (no contact there).
        joint_names: (J,) canonical names (see :func:`foot_points`).
        fps: frames per second.
        options: thresholds.
    Returns:
        the contacts (:class:`Contacts`).
    """
    pos = point_positions(np.asarray(xyz, float), foot_points(joint_names))
    z = pos[..., 2]
    floor = np.array([np.percentile(zk[np.isfinite(zk)], FLOOR_PERCENTILE) if np.isfinite(zk).any()
                      else 0.0 for zk in z.T])
    height, speed = z - floor, speeds(pos, fps)
    min_frames = max(1, int(round(options.min_s * fps)))
    flags = np.zeros((len(z), 6), bool)
    with np.errstate(invalid="ignore"):
        low = (height < options.height_m) & (speed < options.speed_m_per_s)
        high = (height < HYSTERESIS * options.height_m) & (speed < HYSTERESIS * options.speed_m_per_s)
    for k in range(4):
        col = CONTACT_COLUMNS.index(("left_heel", "left_toe", "right_heel", "right_toe")[k])
        flags[:, col] = clean_runs(hysteresis(low[:, k], high[:, k]), min_frames)
    for side in SIDES:
        foot = CONTACT_COLUMNS.index(f"{side}_foot")
        flags[:, foot] = flags[:, foot - 2] | flags[:, foot - 1]
    return Contacts(flags, float(fps), np.asarray(floor, float))


def write_contacts_csv(path: Path, contacts: Contacts) -> None:
    """Write ``contacts.csv`` atomically: header ``frame,time_s,<CONTACT_COLUMNS>``, one row
    per frame, contacts as 0/1."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(("frame", "time_s") + CONTACT_COLUMNS)
    for f, row in enumerate(contacts.flags.astype(int)):
        writer.writerow([f, f"{f / contacts.fps:.4f}", *row.tolist()])
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "w") as fh:
        fh.write(text.getvalue())


def read_contacts_csv(path: Path) -> np.ndarray:
    """(F, 6) bool contacts of a ``contacts.csv`` (columns :data:`CONTACT_COLUMNS`).

    Raises:
        MocapError: the header is not the expected one, or a value is not 0 or 1.
    """
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    expected = ["frame", "time_s", *CONTACT_COLUMNS]
    if not rows or rows[0] != expected:
        raise MocapError(f"{path}: expected the header {','.join(expected)}, found "
                         f"{','.join(rows[0]) if rows else 'an empty file'}")
    values = [r[2:] for r in rows[1:]]
    if any(len(v) != 6 or set(v) - {"0", "1"} for v in values):
        raise MocapError(f"{path}: expected six 0/1 contact columns on every row")
    return np.array(values, dtype=int).reshape(-1, 6).astype(bool)
