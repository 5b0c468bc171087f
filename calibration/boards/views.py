"""Find a calibration board in a camera's video or image folder: the :class:`BoardViews`.

A video is sampled every ``frame_step`` frames (the same step for every camera, so that frame
numbers match across synchronised cameras); an image folder is read in natural name order
(``img2`` before ``img10``) and image ``i`` counts as frame ``i`` (images of the same instant
must have the same position in every camera's folder); see :mod:`calibration.boards.sources`.

Blurred views are rejected: the blur of a view is estimated on the board's region from the
ratio of Laplacian to gradient energy (for an edge blurred by a Gaussian of sigma ``s`` pixels,
``sum(lap^2) / sum(grad^2)`` falls as ``1 / s^2``, whatever the edge's length or contrast), and
a view whose estimated blur exceeds both ``max_blur_px`` and ``blur_ratio`` times the camera's
median is dropped (motion blur while the board moves).

When a camera never finds the board, :func:`require_board` raises
:class:`~calibration.errors.BoardNotFoundError` naming the camera, after trying the common
misconfigurations of the spec (:func:`calibration.boards.suggest.suggest_spec`) on a few frames.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import cv2
import numpy as np

from calibration.boards.corners import detect_corners
from calibration.boards.sources import iter_images, iter_video, list_images, video_frame_count
from calibration.boards.spec import BoardSpec
from calibration.boards.suggest import suggest_spec
from calibration.errors import BoardNotFoundError, VideoError

log = logging.getLogger(__name__)

#: Blur (Gaussian sigma, pixels) of the smoothing applied before measuring blur, to keep
#: sensor noise out of the Laplacian.
_PRESMOOTH_PX = 1.0
#: Number of frames kept aside, per camera, to diagnose a board that is never found.
_DIAGNOSTIC_FRAMES = 3

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class BoardViews:
    """The board corners one camera found.

    Attributes:
        camera: camera name.
        source: the video file or image folder.
        size_wh: image (width, height), pixels.
        frames: (V,) int64 frame numbers of the views kept (video frame index, or position of
            the image in the folder), increasing.
        xy: (V, N, 2) float64 corner pixels by corner id, NaN where a corner was not found.
        blur_px: (V,) estimated blur of each view's board region (Gaussian sigma, pixels).
        frames_read: number of frames (or images) examined.
        rejected_blurry: frame numbers where the board was found but too blurred.
        samples: a few frames (grey uint8) kept to diagnose a board never found.
    """

    camera: str
    source: str
    size_wh: tuple[int, int]
    frames: np.ndarray
    xy: np.ndarray
    blur_px: np.ndarray
    frames_read: int
    rejected_blurry: tuple[int, ...] = ()
    samples: tuple = field(default=(), repr=False, compare=False)

    def __len__(self) -> int:
        return int(self.frames.size)

    @property
    def counts(self) -> np.ndarray:
        """(V,) number of corners found in each view."""
        return np.sum(np.isfinite(self.xy[..., 0]), axis=1)


def estimate_blur_px(image: np.ndarray, xy: np.ndarray) -> float:
    """Blur of the board region (the bounding box of ``xy`` (n, 2) pixels), as the sigma in
    pixels of the Gaussian that would blur a sharp edge as much; ``inf`` when unmeasurable."""
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    h, w = gray.shape
    pts = xy[np.all(np.isfinite(xy), axis=1)]
    x0, y0 = np.floor(pts.min(axis=0)).astype(int) - 3
    x1, y1 = np.ceil(pts.max(axis=0)).astype(int) + 4
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return float("inf")
    roi = cv2.GaussianBlur(gray[y0:y1, x0:x1].astype(np.float32), (0, 0), _PRESMOOTH_PX)
    lap = cv2.Laplacian(roi, cv2.CV_32F, ksize=3)
    gx = cv2.Sobel(roi, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(roi, cv2.CV_32F, 0, 1, ksize=3)
    grad = float(np.sum(gx * gx + gy * gy))
    if grad <= 0:
        return float("inf")
    ratio = float(np.sum(lap * lap)) / grad
    # For a Gaussian edge of sigma s (after pre-smoothing: sqrt(s^2 + presmooth^2)), with
    # OpenCV's 3x3 Sobel/Laplacian, ratio ~ _BLUR_GAIN / sigma_total^2 (fitted on rendered
    # edges, see tests).
    total2 = _BLUR_GAIN / max(ratio, 1e-12)
    return float(np.sqrt(max(total2 - _PRESMOOTH_PX**2, 0.0)))


#: ``sum(lap^2) / sum(grad^2) * sigma^2`` for OpenCV's 3x3 kernels (Sobel carries a factor 4
#: in each direction's gain relative to the Laplacian's), measured on rendered edges.
_BLUR_GAIN = 0.40


def detect_views(
    frames: Iterable[tuple[int, np.ndarray]],
    spec: BoardSpec,
    camera: str,
    source: str,
    max_blur_px: float = 2.0,
    progress: Progress | None = None,
    total: int = 0,
    blur_ratio: float = 1.5,
) -> BoardViews:
    """Find the board in a stream of ``(frame number, image)``.

    Args:
        frames: the frames (see :func:`iter_video`, :func:`iter_images`).
        spec: the board.
        camera: camera name (for messages).
        source: video file or folder (for messages).
        max_blur_px: views whose estimated blur (pixels) exceeds this and ``blur_ratio``
            times the camera's median blur are rejected (the median guards soft but steady
            footage, the absolute limit a camera whose views are all sharp).
        progress: called as ``progress(frames done, total)`` after each frame.
        total: expected number of frames, for ``progress`` (0 when unknown).
        blur_ratio: see ``max_blur_px``.

    Raises:
        VideoError: images of different sizes.
    """
    N = spec.num_corners
    kept_f, kept_xy, kept_blur, samples = [], [], [], []
    size_wh = None
    n = 0
    for n_done, (fnum, img) in enumerate(frames, start=1):
        n = n_done
        h, w = img.shape[:2]
        if size_wh is None:
            size_wh = (w, h)
        elif size_wh != (w, h):
            raise VideoError(
                source, f"expected every frame of camera {camera!r} to be {size_wh[0]}x"
                f"{size_wh[1]} pixels, found {w}x{h} at frame {fnum}"
            )
        gray = img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        if len(samples) < _DIAGNOSTIC_FRAMES * 4:
            samples.append(gray)
        corners = detect_corners(gray, spec)
        if corners is not None:
            xy = np.full((N, 2), np.nan)
            xy[corners.ids] = corners.xy
            kept_f.append(int(fnum))
            kept_xy.append(xy)
            kept_blur.append(estimate_blur_px(gray, corners.xy))
        if progress is not None:
            progress(n_done, total)
    if size_wh is None:
        raise VideoError(source, f"expected frames for camera {camera!r}, found none")
    blur_arr = np.asarray(kept_blur, dtype=np.float64)
    limit = max(max_blur_px, blur_ratio * float(np.median(blur_arr))) if blur_arr.size else np.inf
    sharp = blur_arr <= limit
    blurry = [f for f, ok in zip(kept_f, sharp) if not ok]
    kept_f = [f for f, ok in zip(kept_f, sharp) if ok]
    kept_xy = [x for x, ok in zip(kept_xy, sharp) if ok]
    kept_blur = blur_arr[sharp].tolist()
    if blurry:
        log.info("camera %s: %d of %d board views rejected as blurred (> %.2g px)",
                 camera, len(blurry), len(blurry) + len(kept_f), max_blur_px)
    step = max(len(samples) // _DIAGNOSTIC_FRAMES, 1)
    return BoardViews(
        camera=camera,
        source=str(source),
        size_wh=size_wh,
        frames=np.asarray(kept_f, dtype=np.int64),
        xy=np.asarray(kept_xy, dtype=np.float64).reshape(-1, N, 2),
        blur_px=np.asarray(kept_blur, dtype=np.float64),
        frames_read=n,
        rejected_blurry=tuple(blurry),
        samples=tuple(samples[::step][:_DIAGNOSTIC_FRAMES]),
    )


def require_board(views: BoardViews, spec: BoardSpec, min_views: int = 1) -> None:
    """Raise :class:`BoardNotFoundError` when a camera kept fewer than ``min_views`` views.

    The message names the camera and its source and says how many frames were read, how many
    were too blurred, and which spec (found by trying the common misconfigurations on a few
    frames) would detect the board.
    """
    if len(views) >= min_views:
        return
    problem = (
        f"expected the board ({spec.describe()}) in at least {min_views} of "
        f"{views.frames_read} frames, found it in {len(views)}"
    )
    if views.rejected_blurry:
        problem += f" (and {len(views.rejected_blurry)} too blurred)"
    suggestion = None
    if len(views) == 0 and not views.rejected_blurry and views.samples:
        _, suggestion = suggest_spec(list(views.samples), spec)
    raise BoardNotFoundError(views.camera, views.source, problem, suggestion)


def detect_source(
    source: str | os.PathLike,
    spec: BoardSpec,
    camera: str,
    frame_step: int = 1,
    max_blur_px: float = 2.0,
    progress: Progress | None = None,
) -> BoardViews:
    """Board views of one camera from a video file (every ``frame_step``-th frame) or an
    image folder."""
    p = Path(source)
    if p.is_dir():
        total = len(list_images(p))
        frames: Iterable = iter_images(p)
    else:
        n = video_frame_count(p)
        total = -(-n // max(frame_step, 1)) if n else 0
        frames = iter_video(p, frame_step)
    return detect_views(frames, spec, camera, str(p), max_blur_px, progress, total)


def views_from_arrays(
    camera: str,
    size_wh: tuple[int, int],
    frames: Sequence[int],
    xy: np.ndarray,
    source: str = "arrays",
) -> BoardViews:
    """:class:`BoardViews` from corner arrays (frames (V,), xy (V, N, 2) pixels, NaN missing)
    found by another tool."""
    xy = np.asarray(xy, dtype=np.float64)
    f = np.asarray(frames, dtype=np.int64)
    keep = np.sum(np.isfinite(xy[..., 0]), axis=1) > 0
    return BoardViews(camera, source, tuple(size_wh), f[keep], xy[keep],
                      np.zeros(int(keep.sum())), len(f))
