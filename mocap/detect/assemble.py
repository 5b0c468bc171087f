"""A take's detections assembled from its cameras' result files (:mod:`.run` writes them).

:func:`assemble_detections` stacks the cameras' keypoints in the rig's order and their
heatmaps when they are kept: read from each file's header first (shape, dtype), so heatmaps
over ``[detect] max_heatmap_gb`` are never loaded, and otherwise read one camera at a time
straight into the take's array (no per-camera copy and stacked copy side by side).
"""
from __future__ import annotations

import logging
import zipfile
from pathlib import Path

import numpy as np

from ..errors import MocapError
from ..types import Detections2D
from .chunks import EMPTY_AFFINE

log = logging.getLogger(__name__)

__all__ = ["assemble_detections", "pad_people"]

_READ_BYTES = 1 << 20


def pad_people(a: np.ndarray, P: int, fill) -> np.ndarray:
    """An (F, P', ...) array padded along its people axis to P with ``fill`` (broadcast)."""
    if a.shape[1] >= P:
        return a
    pad = np.empty((a.shape[0], P - a.shape[1]) + a.shape[2:], a.dtype)
    pad[...] = fill
    return np.concatenate([a, pad], 1)


def _member_header(zf: zipfile.ZipFile, name: str) -> "tuple[tuple, np.dtype] | None":
    """Shape and dtype of the ``name.npy`` member of an open ``.npz`` (None: no member),
    read from its header without loading it."""
    if f"{name}.npy" not in zf.namelist():
        return None
    with zf.open(f"{name}.npy") as fh:
        version = np.lib.format.read_magic(fh)
        shape, _, dtype = _header(fh, version)
    return shape, dtype


def _header(fh, version) -> tuple:
    read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
            else np.lib.format.read_array_header_2_0)
    return read(fh)


def _read_member(zf: zipfile.ZipFile, name: str, dest: np.ndarray) -> None:
    """Read the ``name.npy`` member into ``dest`` (its shape and dtype, C order), straight
    into its memory when it is contiguous (no second copy of a large array)."""
    with zf.open(f"{name}.npy") as fh:
        version = np.lib.format.read_magic(fh)
        shape, fortran, dtype = _header(fh, version)
        if fortran or shape != dest.shape or dtype != dest.dtype:
            raise MocapError(f"{zf.filename}: {name} is {shape} {dtype}, expected "
                             f"{dest.shape} {dest.dtype}")
        target = dest if dest.flags.c_contiguous else np.empty_like(dest)
        view = memoryview(target.reshape(-1).view(np.uint8))
        got = 0
        while got < len(view):                  # in blocks: a zip member's readinto
            k = fh.readinto(view[got:got + _READ_BYTES])    # reads into a temporary first
            if not k:
                raise MocapError(f"{zf.filename}: {name} ends early")
            got += k
        if target is not dest:
            dest[...] = target


def _camera_heatmaps(paths: "list[Path]", P: int, max_heatmap_gb: float):
    """Every camera's heatmaps (C, F, P, J, h, w) and affines (C, F, P, 2, 3), read one
    camera at a time into one array, when every file has them and they fit in
    ``max_heatmap_gb``; else (None, None) without reading them (a warning names the
    setting)."""
    heads = []
    for p in paths:
        with zipfile.ZipFile(p) as zf:
            heads.append(_member_header(zf, "heatmaps"))
    if any(h is None for h in heads):
        return None, None
    (F, _, *rest), dtype = heads[0]
    shape = (len(paths), F, P, *rest)
    size_gb = float(np.prod(shape)) * np.dtype(dtype).itemsize / 1e9
    if size_gb > max_heatmap_gb:
        log.warning("heatmaps of this take take %.1f GB, more than [detect] max_heatmap_gb = "
                    "%g; keeping keypoints only", size_gb, max_heatmap_gb)
        return None, None
    hm = np.zeros(shape, dtype)
    aff = np.broadcast_to(EMPTY_AFFINE, (len(paths), F, P, 2, 3)).copy()
    for c, (p, (shape_c, _)) in enumerate(zip(paths, heads)):
        with zipfile.ZipFile(p) as zf:
            Pc = shape_c[1]
            _read_member(zf, "heatmaps", hm[c] if Pc == P else hm[c, :, :Pc])
            aff[c, :, :Pc] = np.load(p)["heatmap_affine"]
    return hm, aff


def assemble_detections(paths: "list[Path]", camera_names: "tuple[str, ...]", fps: float,
                        max_heatmap_gb: float = 2.0) -> Detections2D:
    """Stack per-camera result files into one :class:`Detections2D` (rig order).

    Heatmaps are kept when every camera has them and they fit in ``max_heatmap_gb`` (a
    warning names the setting otherwise); they are read one camera at a time straight into
    the take's array, and not read at all when they are not kept.
    """
    per = []
    for p in paths:
        try:
            with np.load(p, allow_pickle=False) as d:
                per.append({k: d[k] for k in ("xy", "conf", "format") if k in d.files})
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            raise MocapError(f"{p}: cannot read camera detections .npz ({exc})") from None
        missing = {"xy", "conf", "format"} - set(per[-1])
        if missing:
            raise MocapError(f"{p}: camera detections file lacks key {sorted(missing)[0]!r}")
    fmts = {str(d["format"]) for d in per}
    if len(fmts) != 1:
        raise MocapError(f"camera detection files disagree on the keypoint format: {fmts}")
    P = max(d["xy"].shape[1] for d in per)
    xy = np.stack([pad_people(d["xy"], P, np.nan) for d in per])
    conf = np.stack([pad_people(d["conf"], P, 0.0) for d in per])
    hm, aff = _camera_heatmaps(paths, P, max_heatmap_gb)
    return Detections2D(xy=xy, conf=conf, format=fmts.pop(), camera_names=camera_names,
                        fps=fps, heatmaps=hm, heatmap_affine=aff)
