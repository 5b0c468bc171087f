"""Checkpoints inside one camera's detection: chunk files, and the camera's file built from them.

A camera's frames are detected in chunks of ``CameraJob.chunk_frames`` (900 frames unless
set otherwise: :data:`.run.CHUNK_FRAMES`).
Each finished chunk is written atomically to ``<folder>/<cam>.chunks/<first>-<stop>.npz``
(frames ``first`` to ``stop - 1``, zero-padded numbers) holding

* ``xy`` (n, P, J, 2) image pixels (NaN = nobody), ``conf`` (n, P, J), ``heatmap_affine``
  (n, P, 2, 3), P the slots used in the chunk (highest used + 1, at least 1);
* ``heatmaps<slot>`` (n, J, h, w) float16 per slot used, when heatmaps are kept (one member
  per slot: no (n, P, ...) stack is ever made);
* ``fingerprint`` (the job's), ``first``, ``stop``, and ``state``: the backend's tracking
  state after frame ``stop - 1`` as JSON (:meth:`DetectorBackend.state`), so a rerun that
  restores it continues exactly as the uninterrupted run would.

:func:`finished_chunks` follows the chain of chunks with the job's fingerprint from frame 0;
detection resumes at the end of that chain. :func:`write_camera_file` assembles the camera's
file from the chunks one chunk at a time: the heatmaps are streamed into their ``.npz``
member, so neither a worker nor the assembly ever holds a whole take's heatmaps.
"""
from __future__ import annotations

import json
import logging
import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from exporters.atomic import atomic_write

from ..types import save_npz

log = logging.getLogger(__name__)

__all__ = ["Chunk", "chunk_folder", "finished_chunks", "save_chunk", "load_chunk",
           "write_camera_file", "remove_chunks", "chunk_slots", "EMPTY_AFFINE"]

#: Affine of a heatmap slot with no person (all-zero heatmap): finite, one pixel per cell.
EMPTY_AFFINE = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
_NAME = re.compile(r"^(\d+)-(\d+)\.npz$")
#: Frames of heatmaps written to the camera's file at a time (bounds the assembly's memory).
_WRITE_FRAMES = 64


@dataclass(frozen=True)
class Chunk:
    """A finished chunk on disk: frames ``first`` to ``stop - 1`` of a camera."""

    path: Path
    first: int
    stop: int


def chunk_folder(out_path: Path) -> Path:
    """Where the chunks of the camera whose file is ``out_path`` live."""
    return out_path.with_name(f"{out_path.stem}.chunks")


def _fingerprint(path: Path) -> "str | None":
    try:
        with np.load(path, allow_pickle=False) as d:
            return str(d["fingerprint"]) if "fingerprint" in d.files else None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError):
        return None


def finished_chunks(out_path: Path, fingerprint: str, num_frames: int) -> list[Chunk]:
    """The chain of chunks with this fingerprint that starts at frame 0 and is contiguous
    (chunks of another job, another chunk size's leftovers, or unreadable files end it)."""
    folder = chunk_folder(out_path)
    if not folder.is_dir():
        return []
    by_first: dict[int, list[Chunk]] = {}
    for p in folder.iterdir():
        m = _NAME.match(p.name)
        if m:
            first, stop = int(m.group(1)), int(m.group(2))
            if first < stop <= num_frames:
                by_first.setdefault(first, []).append(Chunk(p, first, stop))
    chain, at = [], 0
    while at < num_frames:
        nxt = [c for c in sorted(by_first.get(at, []), key=lambda c: -c.stop)
               if _fingerprint(c.path) == fingerprint]
        if not nxt:
            break
        chain.append(nxt[0])
        at = nxt[0].stop
    return chain


def chunk_slots(xy: np.ndarray) -> int:
    """Person slots used in an (n, P, J, 2) block: the highest used + 1, at least 1."""
    used = np.isfinite(xy[..., 0]).any((0, 2))
    return int(np.flatnonzero(used).max()) + 1 if used.any() else 1


def save_chunk(out_path: Path, first: int, arrays: dict, heatmaps: "dict[int, np.ndarray]",
               fingerprint: str, state: "dict | None") -> Chunk:
    """Write one chunk atomically.

    Args:
        arrays: ``xy`` (n, P', J, 2), ``conf`` (n, P', J), ``aff`` (n, P', 2, 3) for the
            chunk's frames (P' >= the slots used; trimmed here).
        heatmaps: slot -> (n, J, h, w) float16, the slots that had a person.
        state: the backend's state after the chunk's last frame (JSON-able), or None.
    """
    n = len(arrays["xy"])
    P = chunk_slots(arrays["xy"])
    path = chunk_folder(out_path) / f"{first:07d}-{first + n:07d}.npz"
    save_npz(path, xy=arrays["xy"][:, :P], conf=arrays["conf"][:, :P],
             heatmap_affine=arrays["aff"][:, :P], fingerprint=np.array(fingerprint),
             first=np.array(first), stop=np.array(first + n),
             state=np.array(json.dumps(state)),
             **{f"heatmaps{s}": h for s, h in heatmaps.items() if s < P})
    return Chunk(path, first, first + n)


def load_chunk(chunk: Chunk, heatmaps: bool = False) -> dict:
    """A chunk's arrays: xy, conf, heatmap_affine, state (a dict or None) and, when asked,
    ``heatmaps``: slot -> (n, J, h, w) float16."""
    with np.load(chunk.path, allow_pickle=False) as d:
        out = {k: d[k] for k in ("xy", "conf", "heatmap_affine")}
        out["state"] = json.loads(str(d["state"]))
        if heatmaps:
            out["heatmaps"] = {int(k[8:]): d[k] for k in d.files if k.startswith("heatmaps")}
    return out


def _padded(a: np.ndarray, P: int, fill) -> np.ndarray:
    if a.shape[1] >= P:
        return a
    pad = np.empty((a.shape[0], P - a.shape[1]) + a.shape[2:], a.dtype)
    pad[...] = fill
    return np.concatenate([a, pad], 1)


def _stream_heatmaps(zf: zipfile.ZipFile, chunks: "list[Chunk]", shape: tuple) -> None:
    """The (F, P, J, h, w) float16 member ``heatmaps.npy``, written chunk by chunk."""
    F, P = shape[:2]
    with zf.open("heatmaps.npy", "w", force_zip64=True) as out:
        np.lib.format.write_array_header_2_0(out, {
            "descr": np.lib.format.dtype_to_descr(np.dtype(np.float16)),
            "fortran_order": False, "shape": shape})
        for c in chunks:
            maps = load_chunk(c, heatmaps=True)["heatmaps"]
            for s in range(0, c.stop - c.first, _WRITE_FRAMES):
                e = min(s + _WRITE_FRAMES, c.stop - c.first)
                block = np.zeros((e - s, P) + shape[2:], np.float16)
                for slot, m in maps.items():
                    block[:, slot] = m[s:e]
                out.write(block.tobytes())


def write_camera_file(out_path: Path, chunks: "list[Chunk]", meta: dict,
                      heatmap_hw: "tuple[int, int] | None") -> dict:
    """Assemble the camera's file from its chunks (atomically; one chunk in memory at a time).

    The file holds ``xy`` (F, P, J, 2), ``conf`` (F, P, J), the ``meta`` entries and, with
    ``heatmap_hw``, ``heatmaps`` (F, P, J, h, w) float16 and ``heatmap_affine``
    (F, P, 2, 3), P the slots used over the take.

    Returns:
        the keypoint arrays written (xy, conf).
    """
    parts = [load_chunk(c) for c in chunks]
    P = max(p["xy"].shape[1] for p in parts)
    xy = np.concatenate([_padded(p["xy"], P, np.nan) for p in parts])
    conf = np.concatenate([_padded(p["conf"], P, 0.0) for p in parts])
    arrays = dict(xy=xy, conf=conf, **meta)
    if heatmap_hw:
        arrays["heatmap_affine"] = np.concatenate(
            [_padded(p["heatmap_affine"], P, EMPTY_AFFINE) for p in parts])
    with atomic_write(out_path, "wb") as fh, \
            zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED, compresslevel=1,
                            allowZip64=True) as zf:
        for name, a in arrays.items():
            with zf.open(f"{name}.npy", "w", force_zip64=True) as out:
                np.lib.format.write_array(out, np.asanyarray(a), allow_pickle=False)
        if heatmap_hw:
            J = xy.shape[2]
            _stream_heatmaps(zf, chunks, (len(xy), P, J) + tuple(heatmap_hw))
    return {"xy": xy, "conf": conf}


def remove_chunks(out_path: Path) -> None:
    """Delete the camera's chunk folder (once its file is written)."""
    shutil.rmtree(chunk_folder(out_path), ignore_errors=True)
