"""Checks every reader of 2D keypoint files shares: frame numbers in file names, numbers where
numbers belong, and coordinates no camera can see (made missing, with one warning).
"""
from __future__ import annotations

import logging
import numbers
import re

import numpy as np

from ..errors import DetectionsError

log = logging.getLogger(__name__)

__all__ = ["frame_number", "keypoint_numbers", "mask_wild_points", "log_frame_range",
           "IMAGE_SIZES_OUT", "MAX_ABS_PX"]

_NUM = re.compile(r"(\d+)(?!.*\d)")
#: a keypoint further than this many image sizes outside the image is not a detection.
IMAGE_SIZES_OUT = 10
#: the same bound, in pixels from the origin, when the image size is not known.
MAX_ABS_PX = 1e5


def frame_number(stem: str) -> "int | None":
    """The last number in a file name's stem (``cam1_000000000123_keypoints`` -> 123), or
    None when it has none."""
    m = _NUM.search(stem)
    return None if m is None else int(m.group(1))


def keypoint_numbers(values, where: str) -> np.ndarray:
    """A flat list of keypoint numbers from a file, as float64.

    JSON numbers only (``NaN`` and ``Infinity`` included: :func:`mask_wild_points` deals with
    them); a string, null, list or object in their place is the file's mistake.

    Raises:
        DetectionsError: ``where`` (file, frame, person), what was expected and found.
    """
    if not isinstance(values, (list, tuple)):
        raise DetectionsError(f"{where}: expected a list of keypoint numbers, found "
                              f"{type(values).__name__} {_short(values)}")
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise DetectionsError(f"{where}: expected numbers (x, y, confidence per keypoint), "
                                  f"found {_short(v)} at position {i} (keypoint {i // 3})")
    return np.asarray(values, dtype=np.float64)


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def mask_wild_points(xy: np.ndarray, conf: np.ndarray, size_wh=None, where: str = "") -> int:
    """Make detected keypoints whose coordinates no camera can see missing, in place.

    A keypoint with confidence > 0 is wild when a coordinate is not finite, or lies more than
    :data:`IMAGE_SIZES_OUT` image sizes outside the image (``size_wh`` known), or further than
    :data:`MAX_ABS_PX` from the origin (``size_wh`` None). It becomes NaN with confidence 0,
    and one warning names ``where`` and the count.

    Args:
        xy: (..., 2) pixels, NaN = missing; written in place.
        conf: (...) confidences (NaN counts as 0); written in place.
        size_wh: the image's (width, height) in pixels, or None.
    Returns:
        how many keypoints were made missing.
    """
    detected = np.nan_to_num(conf, nan=0.0) > 0
    with np.errstate(invalid="ignore"):
        if size_wh is None:
            far = (np.abs(xy) > MAX_ABS_PX).any(-1)
        else:
            size = np.asarray(size_wh, float)
            far = ((xy < -IMAGE_SIZES_OUT * size) |
                   (xy > (IMAGE_SIZES_OUT + 1) * size)).any(-1)
    wild = detected & (~np.isfinite(xy).all(-1) | far)
    count = int(wild.sum())
    if count:
        xy[wild] = np.nan
        conf[wild] = 0
        bound = (f"{IMAGE_SIZES_OUT} image sizes outside the {size_wh[0]}x{size_wh[1]} image"
                 if size_wh is not None else f"{MAX_ABS_PX:g} px from the origin")
        log.warning("%s: %d keypoints with coordinates not finite or beyond %s are made "
                    "missing", where, count, bound)
    return count


def log_frame_range(name: str, present: np.ndarray, first_frame: int,
                    warn_missing: bool = True) -> None:
    """Log one camera's frame range: first and last frame it has, and how many frames of
    the take it lacks (a warning when some are, unless ``warn_missing`` is False: a results
    file lists only frames with people).

    Args:
        name: the camera (or file). present: (F,) bool, the take's frames the camera has.
        first_frame: the frame number of the take's frame 0.
    """
    have = np.flatnonzero(present)
    if not len(have):
        log.warning("%s: no frames", name)
        return
    missing = int(len(present) - len(have))
    level = logging.WARNING if missing and warn_missing else logging.INFO
    log.log(level, "%s: frames %d..%d, %d missing of the take's %d", name,
            first_frame + have[0], first_frame + have[-1], missing, len(present))
