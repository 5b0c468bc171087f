"""OpenPose JSON: one file per frame, ``{"people": [{"pose_keypoints_2d": [x, y, c, ...]}]}``.

OpenPose writes a missing joint as ``0, 0, 0``; here it becomes NaN with confidence 0.
Frame order comes from the number in the file name (``<prefix>_000000000012_keypoints.json``),
not from a lexical sort.
"""
from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path

import numpy as np

from .errors import DetectionsError
from .keypoints import get_format

log = logging.getLogger(__name__)

__all__ = ["list_frames", "read_openpose_folder", "write_openpose_frame", "openpose_frame_dict"]

_NUM = re.compile(r"(\d+)(?!.*\d)")


def list_frames(folder: "str | os.PathLike") -> list[tuple[int, Path]]:
    """(frame number, path) of every ``*.json`` in ``folder``, ordered by frame number."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DetectionsError(f"{folder}: OpenPose JSON folder not found")
    frames = []
    for p in folder.glob("*.json"):
        m = _NUM.search(p.stem)
        if m is None:
            raise DetectionsError(f"{p}: expected a frame number in the file name, found none")
        frames.append((int(m.group(1)), p))
    frames.sort()
    numbers = [n for n, _ in frames]
    if len(set(numbers)) != len(numbers):
        raise DetectionsError(f"{folder}: two JSON files carry the same frame number")
    return frames


def _read_people(path: Path, num_joints: int, fmt_name: str) -> list[np.ndarray]:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DetectionsError(f"{path}: not a readable OpenPose JSON file ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("people", None), list):
        raise DetectionsError(f"{path}: expected an object with a 'people' list")
    people = []
    for i, person in enumerate(data["people"]):
        kp = person.get("pose_keypoints_2d") if isinstance(person, dict) else None
        if kp is None:
            raise DetectionsError(f"{path}: person {i} has no 'pose_keypoints_2d'")
        arr = np.asarray(kp, dtype=np.float64)
        if arr.size != 3 * num_joints:
            raise DetectionsError(
                f"{path}: person {i} has {arr.size // 3} keypoints, format {fmt_name!r} "
                f"expects {num_joints} (set [detect] format in session.toml)")
        people.append(arr.reshape(num_joints, 3))
    return people


def read_openpose_folder(folder: "str | os.PathLike", fmt: str,
                         num_frames: "int | None" = None,
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read one camera's OpenPose JSON folder.

    Args:
        folder: the folder of per-frame JSON files.
        fmt: keypoint format name of the files (e.g. ``"body25"``).
        num_frames: pad or check the number of frames (None: from the files).
    Returns:
        xy: (F, P, J, 2) pixels, NaN where missing; conf: (F, P, J) in [0, 1];
        frame_numbers: (F,) the number in each file name (frame index = position).
    """
    kf = get_format(fmt)
    frames = list_frames(folder)
    if not frames:
        raise DetectionsError(f"{folder}: no *.json files")
    per_frame = [_read_people(p, kf.num_joints, kf.name) for _, p in frames]
    F = len(per_frame) if num_frames is None else num_frames
    P = max(1, max(len(p) for p in per_frame))
    xy = np.full((F, P, kf.num_joints, 2), np.nan)
    conf = np.zeros((F, P, kf.num_joints), np.float32)
    for f, people in enumerate(per_frame[:F]):
        for p, arr in enumerate(people):
            ok = arr[:, 2] > 0
            xy[f, p, ok] = arr[ok, :2]
            conf[f, p, ok] = np.clip(arr[ok, 2], 0, 1)
    numbers = np.array([n for n, _ in frames][:F])
    return xy, conf, numbers


def openpose_frame_dict(xy: np.ndarray, conf: np.ndarray) -> dict:
    """The OpenPose JSON object of one frame.

    Args:
        xy: (P, J, 2) pixels (NaN = missing); conf: (P, J).
    People whose joints are all missing are left out, as OpenPose does.
    """
    people = []
    for p in range(xy.shape[0]):
        ok = np.isfinite(xy[p]).all(-1) & (conf[p] > 0)
        if not ok.any():
            continue
        arr = np.zeros((xy.shape[1], 3))
        arr[ok, :2] = xy[p][ok]
        arr[ok, 2] = conf[p][ok]
        people.append({"person_id": [-1],
                       "pose_keypoints_2d": [round(float(v), 4) for v in arr.ravel()],
                       "face_keypoints_2d": [], "hand_left_keypoints_2d": [],
                       "hand_right_keypoints_2d": []})
    return {"version": 1.3, "people": people}


def write_openpose_frame(path: "str | os.PathLike", xy: np.ndarray, conf: np.ndarray) -> None:
    """Write one frame (see :func:`openpose_frame_dict`).

    Not atomic on its own (hundreds of small files): callers that need a folder to appear
    whole write it under a temporary name and rename it.
    """
    Path(path).write_text(json.dumps(openpose_frame_dict(xy, conf), separators=(",", ":")))
