"""2D keypoints from other tools: COCO-style results JSON, DeepLabCut CSV/H5, SLEAP analysis H5.

(OpenPose JSON folders are read by :mod:`mocap.io.openpose`.) Every reader returns one camera's
``xy`` (F, P, J, 2) pixels with NaN where missing and ``conf`` (F, P, J) in [0, 1] (0 where
missing), in a registered keypoint format: the file's joints are matched to the format's by
name (the format's native or canonical names, or ``l``/``r`` for ``left_``/``right_``; case,
spaces, dashes, dots and underscores ignored);
joints of the format the file lacks stay missing; joints of the file the format lacks are
dropped with a warning. Each reader has a writer, so every format round-trips.
A string where a keypoint number belongs is a :class:`~mocap.errors.DetectionsError` naming the
file, frame (or entry) and what was found; a detected keypoint whose coordinates are not finite
or absurdly far outside the image becomes missing, with one warning per file
(:func:`mocap.io.checks.mask_wild_points`).

* COCO results: a list of ``{"image_id", "category_id", "keypoints": [x, y, v] * J,
  "score"}``; the frame index is the ``image_id`` (or, for a COCO dataset dict with
  ``images``, the number in each image's file name). ``v`` is a score in [0, 1] (results) or a
  visibility flag 0/1/2 (annotations: 1 and 2 become confidence 1); ``x = y = v = 0`` is
  missing. People of a frame are ordered by ``score``, best first. Frames are these absolute
  numbers (a frame without an entry is a frame with nobody), never positions in the list.
* DeepLabCut: the table DLC writes (``scorer`` / [``individuals``] / ``bodyparts`` /
  ``coords`` header rows, one row per frame, ``x, y, likelihood`` per body part), as CSV or as
  the pandas HDF5 file next to it.
* SLEAP analysis HDF5 (``sleap-convert --format analysis``): ``tracks`` stored as
  (tracks, 2, nodes, frames), ``point_scores`` (tracks, nodes, frames), ``node_names``.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np

from exporters.atomic import atomic_path, atomic_write

from ..errors import DetectionsError, KeypointFormatError
from ..keypoints import get_format
from ..types import Detections2D
from .checks import frame_number, keypoint_numbers, log_frame_range
from .joints import match_joints, scatter_joints

log = logging.getLogger(__name__)

__all__ = ["match_joints", "read_coco_results", "write_coco_results", "read_dlc",
           "write_dlc_csv", "write_dlc_h5", "read_sleap_analysis", "write_sleap_analysis",
           "read_pose_file", "import_cameras", "POSE_FILE_EXTENSIONS", "COCO_COUNTS"]

POSE_FILE_EXTENSIONS = (".json", ".csv", ".h5", ".hdf5", ".slp.h5")
#: keypoint count -> format, for COCO-style files that do not say.
COCO_COUNTS = {17: "coco17", 18: "coco18", 26: "halpe26", 33: "blazepose33"}
#: The largest frame index a COCO file may name (an image id beyond is not a frame index).
MAX_FRAME = 10_000_000


# --- COCO-style results ---------------------------------------------------------------------

def _coco_entries(doc, path: Path) -> list[tuple[int, np.ndarray, float]]:
    """(frame index, keypoint numbers (3 J,), score) of each entry of a results list or a
    dataset dict."""
    if isinstance(doc, list):
        entries = doc
        frame_of = None
    elif isinstance(doc, dict) and isinstance(doc.get("annotations"), list):
        entries = doc["annotations"]
        frame_of = _coco_image_frames(doc.get("images", []), path)
    else:
        raise DetectionsError(f"{path}: expected a COCO results list or a dict with "
                              f"'annotations', found {type(doc).__name__}")
    out = []
    for i, e in enumerate(entries):
        if not isinstance(e, dict) or "keypoints" not in e or "image_id" not in e:
            raise DetectionsError(f"{path}: entry {i} lacks 'image_id' or 'keypoints'")
        image_id = e["image_id"]
        if frame_of:
            if not isinstance(image_id, (int, str)) or image_id not in frame_of:
                raise DetectionsError(f"{path}: entry {i} refers to image {image_id!r}, which "
                                      f"has no numbered file name in 'images'")
            frame = frame_of[image_id]
        elif isinstance(image_id, int) or (isinstance(image_id, str) and image_id.isdigit()):
            frame = int(image_id)
        else:
            raise DetectionsError(f"{path}: entry {i} has image_id {image_id!r}; expected the "
                                  f"frame index (an integer)")
        where = f"{path}: entry {i} (image {image_id})"
        kp = keypoint_numbers(e["keypoints"], where)
        score = e.get("score", 1.0)
        if isinstance(score, bool) or not isinstance(score, (int, float)):
            raise DetectionsError(f"{where}: expected a number as 'score', found {score!r}")
        if frame > MAX_FRAME:
            raise DetectionsError(f"{where}: frame index {frame}; expected at most {MAX_FRAME}")
        out.append((frame, kp, float(score)))
    return out


def _coco_image_frames(images, path: Path) -> dict:
    """image id -> the number in its file name, for a COCO dataset's ``images`` list."""
    if not isinstance(images, list) or not all(isinstance(im, dict) for im in images):
        raise DetectionsError(f"{path}: 'images': expected a list of objects with 'id' and "
                              f"'file_name', found {str(images)[:60]}")
    frame_of = {}
    for im in images:
        n = frame_number(Path(str(im.get("file_name", ""))).stem)
        if isinstance(im.get("id"), (int, str)) and n is not None:
            frame_of[im["id"]] = n
    return frame_of


def read_coco_results(path: "str | os.PathLike", fmt: "str | None" = None,
                      num_frames: "int | None" = None, max_people: "int | None" = None,
                      size_wh=None) -> tuple[np.ndarray, np.ndarray, str]:
    """Read a COCO-style keypoint results (or dataset) JSON file of one camera.

    Args:
        fmt: the keypoint format (None: from the keypoint count, see :data:`COCO_COUNTS`).
        num_frames: frames to return (None: up to the last frame with an entry).
        max_people: keep at most this many people per frame (best scores).
        size_wh: the image (width, height) in pixels, to tell absurd coordinates (None: a
            fixed bound).
    Returns:
        xy (F, P, J, 2), conf (F, P, J), format name.
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DetectionsError(f"{path}: not a readable JSON file ({exc})") from None
    entries = _coco_entries(doc, path)
    counts = {len(kp) // 3 for _, kp, _ in entries}
    if any(len(kp) % 3 for _, kp, _ in entries) or len(counts) > 1:
        raise DetectionsError(f"{path}: keypoint lists must all hold 3 x J numbers; found "
                              f"lengths {sorted({len(kp) for _, kp, _ in entries})}")
    if fmt is None:
        if not counts:
            raise DetectionsError(f"{path}: no entries, and no format given")
        n = counts.pop()
        if n not in COCO_COUNTS:
            raise KeypointFormatError(f"{path}: {n} keypoints per person; cannot tell the "
                                      f"format (give it: one of coco17, halpe26, ...)")
        fmt = COCO_COUNTS[n]
        counts = {n}
    kf = get_format(fmt)
    if counts and counts != {kf.num_joints}:
        raise KeypointFormatError(f"{path}: {counts.pop()} keypoints per person, format "
                                  f"{kf.name!r} has {kf.num_joints}")
    frames = [f for f, _, _ in entries]
    if frames and min(frames) < 0:
        raise DetectionsError(f"{path}: negative frame index {min(frames)}")
    F = num_frames if num_frames is not None else (max(frames) + 1 if frames else 0)
    by_frame: dict[int, list] = {}
    for f, kp, score in entries:
        if f < F:
            by_frame.setdefault(f, []).append((kp, score))
    for f in by_frame:
        by_frame[f].sort(key=lambda e: -e[1])
    P = max([len(v) for v in by_frame.values()] + [1])
    P = min(P, max_people) if max_people else P
    raw = np.zeros((F, P, kf.num_joints, 3))
    for f, people in by_frame.items():
        for p, (kp, _) in enumerate(people[:P]):
            raw[f, p] = kp.reshape(-1, 3)
    v = raw[..., 2]
    flags = v.max(initial=0.0) > 1.0                     # annotation visibility flags 0/1/2
    conf = (v > 0).astype(np.float32) if flags else v.astype(np.float32)
    missing = (raw[..., 0] == 0) & (raw[..., 1] == 0) & (v == 0)
    conf[missing] = 0.0
    idx = np.arange(kf.num_joints)
    xy, conf = scatter_joints(raw[..., :2].copy(), conf, idx, kf.num_joints, str(path), size_wh)
    return xy, conf, kf.name


def write_coco_results(path: "str | os.PathLike", xy: np.ndarray, conf: np.ndarray) -> Path:
    """Write one camera's keypoints as a COCO results list (image_id = frame index).

    Args:
        xy: (F, P, J, 2) pixels (NaN = missing); conf: (F, P, J).
    People with no joint are left out; a missing joint is written ``0, 0, 0``.
    """
    path = Path(path)
    entries = []
    for f in range(xy.shape[0]):
        for p in range(xy.shape[1]):
            ok = np.isfinite(xy[f, p]).all(-1) & (conf[f, p] > 0)
            if not ok.any():
                continue
            kp = np.zeros((xy.shape[2], 3))
            kp[ok, :2], kp[ok, 2] = xy[f, p][ok], conf[f, p][ok]
            entries.append({"image_id": f, "category_id": 1,
                            "keypoints": [round(float(x), 4) for x in kp.ravel()],
                            "score": round(float(conf[f, p][ok].mean()), 4)})
    with atomic_write(path, "w") as fh:
        json.dump(entries, fh)
    return path


# --- DeepLabCut -----------------------------------------------------------------------------

def _dlc_frame(path: Path, df) -> tuple[np.ndarray, list[str], list[str]]:
    """(F, I, B, 3) x, y, likelihood; individuals; body parts of a DLC DataFrame."""
    cols = df.columns
    levels = [str(n).lower() for n in cols.names]
    if "bodyparts" not in levels or "coords" not in levels:
        raise DetectionsError(f"{path}: expected DeepLabCut header rows scorer/bodyparts/coords,"
                              f" found {cols.names}")
    bp = cols.get_level_values(levels.index("bodyparts"))
    co = cols.get_level_values(levels.index("coords"))
    ind = cols.get_level_values(levels.index("individuals")) if "individuals" in levels \
        else np.array(["single"] * len(cols))
    parts = list(dict.fromkeys(bp))
    people = list(dict.fromkeys(ind))
    F = len(df)
    out = np.full((F, len(people), len(parts), 3), np.nan)
    values = _dlc_values(path, df)
    for k, (i, b, c) in enumerate(zip(ind, bp, co)):
        ci = {"x": 0, "y": 1, "likelihood": 2}.get(str(c))
        if ci is None:
            raise DetectionsError(f"{path}: unknown coords column {c!r}; expected x, y, "
                                  f"likelihood")
        out[:, people.index(i), parts.index(b), ci] = values[:, k]
    return out, people, parts


def _dlc_values(path: Path, df) -> np.ndarray:
    """The table's cells as (F, columns) float64.

    Raises:
        DetectionsError: a cell that is not a number, naming its frame (row) and column.
    """
    import pandas as pd
    try:
        return df.to_numpy(dtype=float)
    except (ValueError, TypeError):
        pass
    for k, col in enumerate(df.columns):
        cells = df.iloc[:, k]
        bad = np.flatnonzero(pd.to_numeric(cells, errors="coerce").isna() & cells.notna())
        if len(bad):
            name = " ".join(map(str, col[1:])) if isinstance(col, tuple) else str(col)
            raise DetectionsError(f"{path}: frame {bad[0]}, {name}: expected a number, found "
                                  f"{cells.iloc[bad[0]]!r}")
    raise DetectionsError(f"{path}: the table holds cells that are not numbers")


def read_dlc(path: "str | os.PathLike", fmt: str, size_wh=None
             ) -> tuple[np.ndarray, np.ndarray]:
    """Read a DeepLabCut CSV or H5 table of one camera.

    Args:
        fmt: the keypoint format the body parts are named after.
        size_wh: the image (width, height) in pixels, to tell absurd coordinates (None: a
            fixed bound).
    Returns:
        xy (F, P, J, 2) with P the individuals (1 for single-animal projects), conf (F, P, J)
        the likelihoods.
    """
    import pandas as pd
    path = Path(path)
    if not path.is_file():
        raise DetectionsError(f"{path}: DeepLabCut file not found")
    try:
        if path.suffix.lower() == ".csv":
            with open(path) as fh:
                heads = [fh.readline().split(",", 1)[0].strip().lower() for _ in range(4)]
            n = 4 if heads[1] == "individuals" else 3
            df = pd.read_csv(path, header=list(range(n)), index_col=0)
        else:
            df = pd.read_hdf(path)
    except (OSError, ValueError, LookupError, ImportError, TypeError,
            RuntimeError) as exc:   # corrupt HDF5: PyTables' NoSuchNodeError is a LookupError,
        #                             its HDF5ExtError a RuntimeError
        raise DetectionsError(f"{path}: not a readable DeepLabCut table ({exc})") from None
    if not hasattr(df, "columns") or df.columns.nlevels < 3:
        raise DetectionsError(f"{path}: expected DeepLabCut's multi-row header "
                              f"(scorer, bodyparts, coords)")
    raw, _people, parts = _dlc_frame(path, df)
    kf = get_format(fmt)
    idx = match_joints(parts, kf, str(path))
    return scatter_joints(raw[..., :2], raw[..., 2], idx, kf.num_joints, str(path), size_wh)


def _dlc_dataframe(xy: np.ndarray, conf: np.ndarray, fmt: str, scorer: str):
    import pandas as pd
    kf = get_format(fmt)
    F, P, J = conf.shape
    multi = P > 1
    tuples, data = [], []
    for p in range(P):
        for j, name in enumerate(kf.native_names):
            for c, arr in (("x", xy[:, p, j, 0]), ("y", xy[:, p, j, 1]),
                           ("likelihood", np.where(np.isfinite(xy[:, p, j]).all(-1),
                                                   conf[:, p, j], np.nan))):
                tuples.append((scorer, f"individual{p}", name, c) if multi else
                              (scorer, name, c))
                data.append(arr)
    names = ["scorer", "individuals", "bodyparts", "coords"] if multi else \
        ["scorer", "bodyparts", "coords"]
    cols = pd.MultiIndex.from_tuples(tuples, names=names)
    return pd.DataFrame(np.stack(data, 1) if data else np.zeros((F, 0)), columns=cols)


def write_dlc_csv(path: "str | os.PathLike", xy: np.ndarray, conf: np.ndarray, fmt: str,
                  scorer: str = "mocap") -> Path:
    """Write one camera's keypoints as a DeepLabCut CSV (body parts named natively)."""
    path = Path(path)
    df = _dlc_dataframe(xy, conf, fmt, scorer)
    with atomic_write(path, "w") as fh:
        df.to_csv(fh)
    return path


def write_dlc_h5(path: "str | os.PathLike", xy: np.ndarray, conf: np.ndarray, fmt: str,
                 scorer: str = "mocap") -> Path:
    """Write one camera's keypoints as DeepLabCut's pandas HDF5 table (key
    ``df_with_missing``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        _dlc_dataframe(xy, conf, fmt, scorer).to_hdf(tmp, key="df_with_missing", mode="w")
    return path


# --- SLEAP ----------------------------------------------------------------------------------

def read_sleap_analysis(path: "str | os.PathLike", fmt: str, size_wh=None
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Read a SLEAP analysis HDF5 file of one camera.

    Returns:
        xy (F, P, J, 2) with P the tracks, conf (F, P, J) the point scores (1 where the file
        has none, e.g. user-labelled points).
    """
    import h5py
    path = Path(path)
    if not path.is_file():
        raise DetectionsError(f"{path}: SLEAP analysis file not found")
    tracks, scores, nodes = _sleap_datasets(path)
    if tracks.ndim != 4 or tracks.shape[1] != 2 or tracks.shape[2] != len(nodes):
        raise DetectionsError(f"{path}: 'tracks' has shape {tracks.shape}, expected (tracks, 2, "
                              f"{len(nodes)} nodes, frames)")
    want = (tracks.shape[0], tracks.shape[2], tracks.shape[3])
    if scores is not None and scores.shape != want:
        raise DetectionsError(f"{path}: 'point_scores' has shape {scores.shape}, expected {want} "
                              f"(tracks, nodes, frames)")
    xy = np.transpose(tracks, (3, 0, 2, 1))                         # (F, T, N, 2)
    if scores is None:
        conf = np.isfinite(xy).all(-1).astype(np.float32)
    else:
        conf = np.transpose(scores, (2, 0, 1)).astype(np.float32)  # (F, T, N)
    kf = get_format(fmt)
    idx = match_joints(nodes, kf, str(path))
    return scatter_joints(xy, conf, idx, kf.num_joints, str(path), size_wh)


def _sleap_datasets(path: Path) -> tuple[np.ndarray, "np.ndarray | None", list[str]]:
    """``tracks`` and ``point_scores`` (None when absent) as float arrays, ``node_names``."""
    import h5py
    try:
        with h5py.File(path, "r") as f:
            if "tracks" not in f or "node_names" not in f:
                raise DetectionsError(f"{path}: not a SLEAP analysis file (needs 'tracks' and "
                                      f"'node_names'; found {sorted(f.keys())})")
            arrays = [f[k][()] if k in f else None for k in ("tracks", "point_scores", "node_names")]
    except (OSError, KeyError, RuntimeError) as exc:   # h5py's errors for a corrupt file
        raise DetectionsError(f"{path}: not a readable HDF5 file ({exc})") from None
    tracks, scores, names = arrays
    try:
        tracks = np.asarray(tracks, dtype=np.float64)
        scores = None if scores is None else np.asarray(scores, dtype=np.float64)
        nodes = [n.decode() if isinstance(n, bytes) else str(n) for n in np.atleast_1d(names)]
    except (TypeError, ValueError) as exc:            # strings for numbers, undecodable names
        raise DetectionsError(f"{path}: expected numeric 'tracks' and 'point_scores' and text "
                              f"'node_names' ({exc})") from None
    if np.ndim(names) != 1:
        raise DetectionsError(f"{path}: 'node_names' has shape {np.shape(names)}, expected one "
                              f"name per node")
    return tracks, scores, nodes


def write_sleap_analysis(path: "str | os.PathLike", xy: np.ndarray, conf: np.ndarray,
                         fmt: str) -> Path:
    """Write one camera's keypoints as a SLEAP analysis HDF5 file (SLEAP's transposed
    layout: ``tracks`` (tracks, 2, nodes, frames))."""
    import h5py
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    kf = get_format(fmt)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f["tracks"] = np.transpose(xy, (1, 3, 2, 0))
        f["point_scores"] = np.transpose(np.where(np.isfinite(xy).all(-1), conf, np.nan),
                                         (1, 2, 0))
        f["node_names"] = np.array([n.encode() for n in kf.native_names])
        f["track_names"] = np.array([f"track_{p}".encode() for p in range(xy.shape[1])])
        f["track_occupancy"] = np.isfinite(xy).all(-1).any(-1).astype(np.uint8)
    return path


# --- dispatch -------------------------------------------------------------------------------

def read_pose_file(path: "str | os.PathLike", fmt: str, size_wh=None
                   ) -> tuple[np.ndarray, np.ndarray, str]:
    """Read one camera's detections from a COCO JSON, DeepLabCut CSV/H5 or SLEAP H5 file.

    HDF5 files are told apart by content (SLEAP's ``tracks`` dataset, else DeepLabCut).
    ``size_wh``: the camera's image (width, height) in pixels, to tell absurd coordinates.

    Returns:
        xy (F, P, J, 2), conf (F, P, J), format name.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        return read_coco_results(path, fmt, size_wh=size_wh)
    if suffix == ".csv":
        return (*read_dlc(path, fmt, size_wh), get_format(fmt).name)
    if suffix in (".h5", ".hdf5"):
        import h5py
        try:
            with h5py.File(path, "r") as f:
                sleap = "tracks" in f and "node_names" in f
        except (OSError, KeyError, RuntimeError) as exc:  # h5py's errors for a corrupt file
            raise DetectionsError(f"{path}: not a readable HDF5 file ({exc})") from None
        reader = read_sleap_analysis if sleap else read_dlc
        return (*reader(path, fmt, size_wh), get_format(fmt).name)
    raise DetectionsError(f"{path}: unknown detections file type {suffix!r}; expected "
                          f".json (COCO results), .csv (DeepLabCut), .h5 (DeepLabCut or SLEAP)")


def import_cameras(paths: "list[Path]", camera_names: "tuple[str, ...]", fmt: str, fps: float,
                   sizes_wh: "list | None" = None) -> Detections2D:
    """One file per camera (rig order) -> :class:`Detections2D`.

    Row f of every file is frame f of the take: the take runs to the longest camera's last
    frame, and the frames a shorter camera lacks are missing there (NaN, confidence 0); each
    camera's range is logged. People are padded to the most.

    Args:
        sizes_wh: each camera's image (width, height) in pixels, to tell absurd coordinates
            (None: a fixed bound).
    """
    sizes = list(sizes_wh) if sizes_wh is not None else [None] * len(paths)
    per = [read_pose_file(p, fmt, size) for p, size in zip(paths, sizes)]
    fmts = {f for _, _, f in per}
    if len(fmts) != 1:
        raise KeypointFormatError(f"camera files disagree on the keypoint format: {fmts}")
    F = max(xy.shape[0] for xy, _, _ in per)
    P = max(xy.shape[1] for xy, _, _ in per)
    J = get_format(fmts.pop()).num_joints if fmts else 0
    xy = np.full((len(per), F, P, J, 2), np.nan)
    conf = np.zeros((len(per), F, P, J), np.float32)
    for c, (x, cf, _) in enumerate(per):
        xy[c, :x.shape[0], :x.shape[1]] = x
        conf[c, :x.shape[0], :x.shape[1]] = cf
        log_frame_range(camera_names[c], np.arange(F) < x.shape[0], 0)
    return Detections2D(xy=xy, conf=conf, format=per[0][2], camera_names=camera_names,
                        fps=fps)
