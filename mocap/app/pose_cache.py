"""A binary cache of each camera's OpenPose JSON folder: ``out/detect/<cam>.openpose.npz``.

Reading 18,000 JSON files per camera costs seconds; the arrays they make cost a few
milliseconds to load. A camera's cache holds its arrays and a key: the digest of its folder's
file names, sizes and modification times (:func:`mocap.io.openpose.folder_fingerprint`), the
keypoint format, the take's frame range, the image size and :data:`CACHE_VERSION`. Any file
added, removed, rewritten or touched, or another format or range, changes the key, and the
folder is read again. A cache file that cannot be read is stale (logged, rebuilt); one that
cannot be written costs only the next run's time (a warning).
"""
from __future__ import annotations

import hashlib
import logging
import os
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from exporters.atomic import atomic_write

from ..io.checks import log_frame_range
from ..io.openpose import folder_fingerprint, read_openpose_folders

log = logging.getLogger(__name__)

__all__ = ["CACHE_VERSION", "cache_path", "cache_key", "read_cameras_cached"]

#: Bumped whenever the reader's output for the same files changes.
CACHE_VERSION = 1


def cache_path(out: Path, camera: str) -> Path:
    """``out/detect/<camera>.openpose.npz``."""
    return Path(out) / "detect" / f"{camera}.openpose.npz"


def cache_key(folder: Path, fmt: str, num_frames: int, first_frame: int, size_wh) -> str:
    """The key a camera's cache must hold to be used (see the module's docstring)."""
    parts = (CACHE_VERSION, folder_fingerprint(folder), fmt, int(num_frames), int(first_frame),
             None if size_wh is None else [int(v) for v in size_wh])
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def _load(path: Path, key: str) -> "tuple | None":
    """(xy, conf, present) of a cache file holding ``key``, else None."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["key"]) != key:
                log.info("%s: the JSON folder changed since it was cached; reading it again",
                         path)
                return None
            return data["xy"], data["conf"], data["present"]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        log.info("%s: unreadable (%s); reading the JSON folder again", path, exc)
        return None


def _save(path: Path, key: str, xy: np.ndarray, conf: np.ndarray, present: np.ndarray) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path, "wb") as fh:
            np.savez(fh, key=np.array(key), xy=xy, conf=conf, present=present)
    except OSError as exc:
        log.warning("%s: detection cache not written (%s); the JSON is read again next run",
                    path, exc)


def _in_threads(fn, n: int) -> list:
    """``[fn(c) for c in range(n)]``, the cameras in threads (one per CPU at most): a
    folder's fingerprint is a stat call per file and a cache's load a file read, both
    outside Python's lock, so on a long take the cameras' folders are visited at once."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    workers = max(1, min(n, cpus or 1))
    if workers == 1:
        return [fn(c) for c in range(n)]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(fn, range(n)))


def read_cameras_cached(out: Path, folders: list, fmt: str, num_frames: int, first_frame: int,
                        rig) -> list[tuple[np.ndarray, np.ndarray]]:
    """Every camera's (xy (F, P, J, 2) px, conf (F, P, J)) from its JSON folder, through its
    cache; the folders not cached (or changed) are read in parallel
    (:func:`mocap.io.openpose.read_openpose_folders`) and cached.

    Args:
        out: the session's output folder. folders: each camera's JSON folder, rig order.
        fmt: the keypoint format. num_frames, first_frame: the take's frame range.
        rig: the cameras (names and image sizes).
    """
    keys = _in_threads(lambda c: cache_key(folders[c], fmt, num_frames, first_frame,
                                           rig[c].size_wh), len(folders))
    found = _in_threads(lambda c: _load(cache_path(out, rig[c].name), keys[c]), len(folders))
    todo = [c for c, hit in enumerate(found) if hit is None]
    if todo:
        read = read_openpose_folders([folders[c] for c in todo], fmt, num_frames, first_frame,
                                     [rig[c].size_wh for c in todo],
                                     [rig[c].name for c in todo])
        for c, (xy, conf, present) in zip(todo, read):
            _save(cache_path(out, rig[c].name), keys[c], xy, conf, present)
            found[c] = (xy, conf, present)
    for c, (_, _, present) in enumerate(found):
        if c not in todo:
            log_frame_range(rig[c].name, present, first_frame)
    return [(xy, conf) for xy, conf, _ in found]

