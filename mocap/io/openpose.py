"""OpenPose JSON: one file per frame, ``{"people": [{"pose_keypoints_2d": [x, y, c, ...]}]}``.

OpenPose writes a missing joint as ``0, 0, 0``; here it becomes NaN with confidence 0.
A frame's place in the take is the last number in its file name
(``<prefix>_000000000012_keypoints.json``, or Pose2Sim's names), not its position in a sort:
a frame without a file is a missing frame (NaN, confidence 0), never a shift of the later ones.
When no file name has a number, the files are frames 0, 1, ... in name order; when only some
do, the others are an error. Keypoints whose coordinates are not finite or absurdly far
outside the image become missing (:func:`mocap.io.checks.mask_wild_points`).

Speed (a ten-minute take of six cameras is 108,000 files): a well-formed file is decoded by
msgspec straight into lists of floats (what the reader uses, the rest skipped), the frames
of a camera go into the arrays in one scatter, and :func:`read_openpose_folders` reads
cameras in parallel processes. Anything the fast decoder refuses (NaN literals, wrong types,
missing keys) goes through the checked ``json`` path, which reads it as before or raises the
error naming the file.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import msgspec
import numpy as np

from ..errors import DetectionsError
from ..keypoints import get_format
from .checks import frame_number, keypoint_numbers, log_frame_range, mask_wild_points

log = logging.getLogger(__name__)

__all__ = ["list_frames", "numbered_names", "fixed_width_numbers", "read_openpose_folder", "read_openpose_folders",
           "folder_fingerprint",
           "write_openpose_frame", "openpose_frame_dict", "guess_openpose_format",
           "OPENPOSE_FORMATS", "PARALLEL_MIN_FILES"]

#: Below this many files in all, folders are read in this process (workers cost more).
PARALLEL_MIN_FILES = 4000
#: How reading workers start: forked where the system can (instant, nothing imported again;
#: they only parse and fill arrays), else spawned.
START_METHOD = "fork" if sys.platform.startswith("linux") else "spawn"


class _Person(msgspec.Struct):
    """The part of an OpenPose person the reader uses (other keys are skipped unparsed)."""

    pose_keypoints_2d: "list[float] | None" = None
    pose_keypoints: "list[float] | None" = None


class _Frame(msgspec.Struct):
    people: "list[_Person]"


#: The fast path: a well-formed frame decodes straight into lists of floats; anything else
#: (NaN literals, wrong types, missing keys) goes through the checked path, which raises the
#: error naming the file.
_DECODER = msgspec.json.Decoder(_Frame)

def list_frames(folder: "str | os.PathLike") -> list[tuple[int, Path]]:
    """(frame number, path) of every ``*.json`` in ``folder``, ordered by frame number.

    The frame number is the last number in the file name; when no file name has one, the
    files are numbered 0, 1, ... in name order.

    Raises:
        DetectionsError: the folder is missing; some file names have a number and one has
            none (named); two files carry the same number.
    """
    folder = Path(folder)
    return [(n, folder / name) for n, name in numbered_names(folder)]


def fixed_width_numbers(names: list) -> "list | None":
    """:func:`~mocap.io.checks.frame_number` of every ``<prefix><digits><suffix>.json`` name
    when all of them share one prefix and one suffix and the digits' width (OpenPose's
    ``cam1_000000000123_keypoints.json``): the number is one slice of each name, read
    without a regular expression; None when the names are not of that one form."""
    if len(names) < 2 or len({len(n) for n in names}) != 1:
        return None
    first = names[0][:-5]
    digits = [i for i, ch in enumerate(first) if ch.isdigit()]
    if not digits:
        return None
    b = digits[-1] + 1
    a = b
    while a > 0 and first[a - 1].isdigit():
        a -= 1
    prefix, suffix = first[:a], names[0][b:]
    if any(ch.isdigit() for ch in suffix) or len({n[:a] for n in names}) != 1 or \
            len({n[b:] for n in names}) != 1:
        return None
    cells = [n[a:b] for n in names]
    if not all(c.isdigit() and c.isascii() for c in cells) or (prefix and prefix[-1].isdigit()):
        return None
    return [int(c) for c in cells]


def numbered_names(folder: "str | os.PathLike") -> list[tuple[int, str]]:
    """(frame number, file name) of every ``*.json`` in ``folder``, as :func:`list_frames`
    (names as strings: cheaper than paths by the hundred thousand)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DetectionsError(f"{folder}: OpenPose JSON folder not found")
    names = sorted(e.name for e in os.scandir(folder) if e.name.endswith(".json"))
    found = fixed_width_numbers(names)
    if found is None:
        found = [frame_number(n[:-5]) for n in names]
    if names and all(n is None for n in found):
        log.info("%s: no frame number in any file name; frames in name order", folder)
        return list(enumerate(names))
    frames = []
    for n, name in zip(found, names):
        if n is None:
            raise DetectionsError(f"{folder / name}: expected a frame number in the file name "
                                  f"like the other files of the folder, found none")
        frames.append((n, name))
    frames.sort()
    numbers = [n for n, _ in frames]
    if len(set(numbers)) != len(numbers):
        raise DetectionsError(f"{folder}: two JSON files carry the same frame number")
    return frames


def _load_people(path: Path, raw: "bytes | None" = None) -> list:
    """The file's ``people`` list (its entries unchecked); ``raw``: the file's bytes, when
    already read."""
    try:
        data = json.loads(path.read_text() if raw is None else raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DetectionsError(f"{path}: not a readable OpenPose JSON file ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("people", None), list):
        raise DetectionsError(f"{path}: expected an object with a 'people' list")
    return data["people"]


def _keypoint_array(path: Path, i: int, kp) -> np.ndarray:
    """Person ``i``'s keypoints as a flat float array of x, y, c triples.

    Raises:
        DetectionsError: not a flat list of numbers, or not 3 per keypoint (naming the file,
            the person and what was found).
    """
    arr = keypoint_numbers(kp, f"{path}: person {i}")
    if arr.size % 3:
        raise DetectionsError(f"{path}: person {i} has {arr.size} keypoint numbers, expected 3 "
                              f"per keypoint (x, y, confidence)")
    return arr


def _read_people(path: Path, num_joints: int, fmt_name: str,
                 raw: "bytes | None" = None) -> list[np.ndarray]:
    """Each person's (J, 3) x, y, confidence, every value checked (the errors' path)."""
    people = []
    for i, person in enumerate(_load_people(path, raw)):
        kp = _keypoints_of(person)
        if kp is None:
            raise DetectionsError(f"{path}: person {i} has no 'pose_keypoints_2d'")
        arr = _keypoint_array(path, i, kp)
        if arr.size != 3 * num_joints:
            raise DetectionsError(
                f"{path}: person {i} has {arr.size // 3} keypoints, format {fmt_name!r} "
                f"expects {num_joints} (set [detect] format in session.toml; "
                f"{_formats_with(arr.size // 3)})")
        people.append(arr.reshape(num_joints, 3))
    return people


def _frame_keypoints(path: str, num_joints: int, fmt_name: str) -> list:
    """Each person's flat (3 J,) x, y, confidence list of one frame file: decoded by the fast
    path when the file is well formed, else by the checked one (which raises
    :class:`DetectionsError` naming the file, or reads what ``json`` reads, NaN included)."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise DetectionsError(f"{path}: not a readable OpenPose JSON file ({exc})") from None
    try:
        people = [p.pose_keypoints if p.pose_keypoints_2d is None else p.pose_keypoints_2d
                  for p in _DECODER.decode(raw).people]
    except msgspec.MsgspecError:
        people = None
    if people is None or any(kp is None or len(kp) != 3 * num_joints for kp in people):
        return [arr.ravel() for arr in _read_people(Path(path), num_joints, fmt_name, raw)]
    return people


def _keypoints_of(person) -> "list | None":
    """A person's flat (x, y, c) list: ``pose_keypoints_2d`` (OpenPose >= 1.2) or
    ``pose_keypoints`` (older releases)."""
    if not isinstance(person, dict):
        return None
    kp = person.get("pose_keypoints_2d")
    return person.get("pose_keypoints") if kp is None else kp


#: OpenPose's body models by keypoint count.
OPENPOSE_FORMATS = {18: ("coco18",), 25: ("body25", "body25b")}


def _formats_with(count: int) -> str:
    names = OPENPOSE_FORMATS.get(count)
    if not names:
        return f"no OpenPose model writes {count} keypoints"
    return f"{count} keypoints is OpenPose " + " or ".join(names)


def guess_openpose_format(folder: "str | os.PathLike", max_files: int = 50) -> str:
    """The OpenPose body model a JSON folder was written with: ``coco18``, ``body25`` or
    ``body25b``.

    COCO-18 has 18 keypoints. BODY_25 and BODY_25B both have 25: BODY_25's point 1 is the
    neck, midway between the shoulders (points 2 and 5), while BODY_25B's point 1 is the left
    eye, far from the midpoint of the right eye (2) and left shoulder (5). The median ratio of
    that distance to the distance between points 2 and 5 decides (below 0.25: BODY_25).

    Raises:
        DetectionsError: no person in the first files, or a count no OpenPose model writes.
    """
    frames = list_frames(folder)
    ratios, count = [], None
    for _, path in frames[:max_files]:
        for i, person in enumerate(_load_people(path)):
            kp = _keypoints_of(person)
            if kp is None:
                continue
            arr = _keypoint_array(path, i, kp).reshape(-1, 3)
            count = len(arr)
            if count == 25 and (arr[[1, 2, 5], 2] > 0).all():
                span = np.linalg.norm(arr[2, :2] - arr[5, :2])
                mid = 0.5 * (arr[2, :2] + arr[5, :2])
                ratio = np.linalg.norm(arr[1, :2] - mid) / span if span > 0 else np.nan
                if np.isfinite(ratio):                  # absurd coordinates do not vote
                    ratios.append(ratio)
    if count is None:
        raise DetectionsError(f"{folder}: no person in the first {max_files} files to tell "
                              f"the keypoint format from")
    if count == 18:
        return "coco18"
    if count == 25 and ratios:
        return "body25" if float(np.median(ratios)) < 0.25 else "body25b"
    raise DetectionsError(f"{folder}: {_formats_with(count)}; cannot tell the format")


def read_openpose_folder(folder: "str | os.PathLike", fmt: str,
                         num_frames: "int | None" = None, first_frame: "int | None" = None,
                         size_wh=None, name: "str | None" = None,
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read one camera's OpenPose JSON folder, each file at the frame its name numbers.

    Args:
        folder: the folder of per-frame JSON files.
        fmt: keypoint format name of the files (e.g. ``"body25"``, ``"coco18"``), or
            ``"auto"`` (see :func:`guess_openpose_format`).
        num_frames: frames to return (None: up to the folder's last frame number).
        first_frame: the frame number of row 0 (None: the folder's first); a take of several
            cameras passes the first over all of them.
        size_wh: the camera's image (width, height) in pixels, to tell absurd coordinates
            (None: a fixed bound, see :func:`mocap.io.checks.mask_wild_points`).
        name: the camera, for the log (None: the folder).
    Returns:
        xy: (F, P, J, 2) pixels, NaN where missing (frames without a file included);
        conf: (F, P, J) in [0, 1], 0 where missing;
        frame_numbers: (F,) the frame number of each row (``first_frame + row``).
    """
    kf, rows, F, first = _plan(folder, fmt, num_frames, first_frame)
    xy, conf = _frames_to_arrays(rows, F, kf.num_joints, kf.name)
    return _finish(xy, conf, rows, first, size_wh, name or str(folder))


def _plan(folder, fmt: str, num_frames, first_frame) -> tuple:
    """(keypoint format, [(row, path)], F, first frame number) of a folder to read."""
    if str(fmt).lower() == "auto":
        fmt = guess_openpose_format(folder)
    kf = get_format(fmt)
    frames = numbered_names(folder)
    if not frames:
        raise DetectionsError(f"{folder}: no *.json files")
    first = frames[0][0] if first_frame is None else int(first_frame)
    F = frames[-1][0] - first + 1 if num_frames is None else int(num_frames)
    F = max(F, 0)
    base = os.path.join(str(folder), "")
    return kf, [(n - first, base + name) for n, name in frames if 0 <= n - first < F], F, first


def _finish(xy: np.ndarray, conf: np.ndarray, rows: list, first: int, size_wh,
            where: str) -> tuple:
    """Wild points made missing, the frame range logged; what the readers return."""
    mask_wild_points(xy, conf, size_wh, where)
    log_frame_range(where, _present(rows, len(xy)), first)
    return xy, conf, first + np.arange(len(xy))


def _present(rows: list, F: int) -> np.ndarray:
    """(F,) bool: the rows a file was read for."""
    present = np.zeros(F, bool)
    present[[f for f, _ in rows]] = True
    return present


def _frames_to_arrays(rows: list, F: int, J: int, fmt_name: str) -> tuple:
    """(F, P, J, 2) pixels and (F, P, J) confidences of the files ``rows`` ((row, path)),
    filled in one scatter: a joint with confidence 0 (OpenPose's ``0, 0, 0``) is missing."""
    per_frame = [_frame_keypoints(path, J, fmt_name) for _, path in rows]
    counts = np.array([len(people) for people in per_frame], int)
    P = max([1] + counts.tolist())
    xy = np.full((F, P, J, 2), np.nan)
    conf = np.zeros((F, P, J), np.float32)
    flat = [kp for people in per_frame for kp in people]
    if not flat:
        return xy, conf
    arr = np.array(flat, np.float64).reshape(-1, J, 3)
    frame = np.repeat(np.array([f for f, _ in rows], int), counts)
    person = np.arange(len(arr)) - np.repeat(np.cumsum(counts) - counts, counts)
    ok = arr[..., 2] > 0
    xy[frame, person] = np.where(ok[..., None], arr[..., :2], np.nan)
    conf[frame, person] = np.where(ok, np.clip(arr[..., 2], 0, 1), 0)
    return xy, conf


def read_openpose_folders(folders: list, fmt: str, num_frames: int, first_frame: int,
                          sizes_wh: list, names: list, workers: "int | None" = None) -> list:
    """:func:`read_openpose_folder` on several cameras' folders, in parallel processes (one
    camera each, ``workers`` at a time; None: as many as the machine has cores) when they
    hold :data:`PARALLEL_MIN_FILES` files or more in all, else in this process.

    Returns:
        per folder, in order: xy (F, P, J, 2) pixels and conf (F, P, J) as
        :func:`read_openpose_folder` returns them, and present (F,) bool: the frames the
        folder has a file for.
    """
    plans = [_plan(f, fmt, num_frames, first_frame) for f in folders]
    jobs = [(rows, F, kf.num_joints, kf.name) for kf, rows, F, _ in plans]
    workers = min(len(jobs), workers or os.cpu_count() or 1)
    files = sum(len(job[0]) for job in jobs)
    if workers <= 1 or files < PARALLEL_MIN_FILES:
        arrays = [_frames_to_arrays(*job) for job in jobs]
    else:
        log.info("reading %d OpenPose files of %d cameras in %d processes", files, len(jobs),
                 workers)
        with ProcessPoolExecutor(workers, mp_context=get_context(START_METHOD)) as pool:
            arrays = list(pool.map(_arrays_job, jobs))
    out = []
    for (xy, conf), plan, size, name in zip(arrays, plans, sizes_wh, names):
        _finish(xy, conf, plan[1], plan[3], size, name)
        out.append((xy, conf, _present(plan[1], plan[2])))
    return out


def _arrays_job(job: tuple) -> tuple:
    """A worker's share: one camera's :func:`_frames_to_arrays`."""
    return _frames_to_arrays(*job)


def folder_fingerprint(folder: "str | os.PathLike") -> str:
    """A digest of a folder's ``*.json`` files: names, sizes and modification times (any file
    added, removed, rewritten or touched changes it; the contents are not read)."""
    entries = sorted((e.name, e.stat()) for e in os.scandir(folder) if e.name.endswith(".json"))
    digest = hashlib.sha256("\0".join(name for name, _ in entries).encode())
    sizes = np.array([st.st_size for _, st in entries], np.int64)     # columns: 5 x faster
    times = np.array([st.st_mtime_ns for _, st in entries], np.int64)  # than rows of tuples
    digest.update(np.stack([sizes, times], -1).reshape(-1, 2).tobytes())
    return digest.hexdigest()


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
