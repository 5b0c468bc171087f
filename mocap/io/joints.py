"""A file's joints matched to a keypoint format's by name, and its arrays put in the format's
joint order (the importers of :mod:`mocap.io.importers` share them)."""
from __future__ import annotations

import logging
import re

import numpy as np

from ..errors import KeypointFormatError
from ..keypoints import KeypointFormat, get_format
from .checks import mask_wild_points

log = logging.getLogger(__name__)

__all__ = ["match_joints", "scatter_joints"]


def _key(name: str) -> str:
    return re.sub(r"[\s_\-.]", "", str(name)).lower()


def match_joints(names: "list[str]", fmt: "str | KeypointFormat", where: str) -> np.ndarray:
    """Index in ``fmt`` of each of a file's joint names, -1 for names the format lacks.

    Raises:
        KeypointFormatError: no name matches (the wrong format, most likely).
    """
    kf = get_format(fmt)
    lookup = {}
    for j, (canon, native) in enumerate(zip(kf.joint_names, kf.native_names)):
        lookup.setdefault(_key(canon), j)
        lookup.setdefault(_key(native), j)
        for side in ("left", "right"):                  # "L_Shoulder", "lshoulder", ...
            if canon.startswith(side + "_"):
                lookup.setdefault(side[0] + _key(canon[len(side) + 1:]), j)
    idx = np.array([lookup.get(_key(n), -1) for n in names], int)
    if not (idx >= 0).any():
        raise KeypointFormatError(
            f"{where}: none of its joints ({', '.join(map(str, names[:8]))}"
            f"{', ...' if len(names) > 8 else ''}) is a joint of format {kf.name!r} "
            f"({', '.join(kf.native_names[:8])}, ...); name the format its joints belong to")
    dup = [names[i] for i in range(len(names)) if idx[i] >= 0 and (idx[:i] == idx[i]).any()]
    if dup:
        raise KeypointFormatError(f"{where}: joints {dup} map to the same joint of "
                                  f"{kf.name!r} as an earlier one")
    if (idx < 0).any():
        log.warning("%s: joints %s are not in format %r and are ignored", where,
                    [names[i] for i in np.flatnonzero(idx < 0)], kf.name)
    return idx


def scatter_joints(xy_src: np.ndarray, conf_src: np.ndarray, idx: np.ndarray, J: int,
             where: str, size_wh=None):
    """(F, P, Js, ...) in the file's joint order -> (F, P, J, ...) in the format's; wild
    coordinates made missing first (``xy_src`` and ``conf_src`` are written)."""
    mask_wild_points(xy_src, conf_src, size_wh, where)
    F, P = xy_src.shape[:2]
    xy = np.full((F, P, J, 2), np.nan)
    conf = np.zeros((F, P, J), np.float32)
    src = np.flatnonzero(idx >= 0)
    xy[:, :, idx[src]] = xy_src[:, :, src]
    conf[:, :, idx[src]] = conf_src[:, :, src]
    missing = ~np.isfinite(xy).all(-1)
    xy[missing] = np.nan
    conf[missing] = 0.0
    conf = np.clip(np.nan_to_num(conf, nan=0.0), 0.0, 1.0).astype(np.float32)
    xy[conf <= 0] = np.nan
    return xy, conf
