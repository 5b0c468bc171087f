"""Find a calibration board in a camera's video or image folder.

A video is sampled every ``frame_step`` frames (the same step for every camera, so that frame
numbers match across synchronised cameras); an image folder is read in natural name order
(``img2`` before ``img10``) and image ``i`` counts as frame ``i`` (images of the same instant
must have the same position in every camera's folder).

Blurred views are rejected: the blur of a view is estimated on the board's region from the
ratio of Laplacian to gradient energy (for an edge blurred by a Gaussian of sigma ``s`` pixels,
``sum(lap^2) / sum(grad^2)`` falls as ``1 / s^2``, whatever the edge's length or contrast), and
a view whose estimated blur exceeds both ``max_blur_px`` and ``blur_ratio`` times the camera's
median is dropped (motion blur while the board moves).

When a camera never finds the board, :func:`require_board` raises
:class:`~calibration.errors.BoardNotFoundError` naming the camera, after trying the common
misconfigurations of the spec (:func:`calibration.boards.suggest_spec`) on a few frames.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import cv2
import numpy as np

from calibration.boards import BoardSpec, detect_corners, suggest_spec
from calibration.errors import BoardNotFoundError, VideoError

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".mpg", ".mpeg", ".webm", ".wmv")
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


def natural_key(name: str) -> list:
    """Sort key putting ``cam2`` before ``cam10``."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files of a folder in natural name order."""
    p = Path(folder)
    files = [f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS]
    return sorted(files, key=lambda f: natural_key(f.name))


def video_frame_count(path: str | os.PathLike) -> int:
    """Number of frames a video says it has; VideoError when it cannot be opened."""
    cap = _open_video(path)
    try:
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        cap.release()
    return max(n, 0)


def _open_video(path: str | os.PathLike):
    p = Path(path)
    if not p.is_file():
        raise VideoError(p, "expected a video file, found nothing there")
    cap = cv2.VideoCapture(str(p))
    if not cap.isOpened():
        cap.release()
        raise VideoError(p, "expected a video OpenCV can decode, found an unreadable file")
    return cap


#: Frames a video may fall short of the count its container announces without being called
#: truncated. OpenCV (FFmpeg backend) reports the stream's stored frame count when the
#: container keeps one (AVI, MP4, MOV: exact, checked on files OpenCV writes), else
#: ``round(duration * fps)`` (MKV, WebM, MPEG streams), where the rounding, the last frame's
#: display time and an audio track ending a packet later each add up to one frame: three in
#: all. A file cut short loses far more (its missing tail, usually hundreds of frames).
FRAME_COUNT_SLACK = 3


def iter_video(path: str | os.PathLike, frame_step: int = 1, max_frames: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """``(frame number, BGR image)`` of every ``frame_step``-th frame of a video.

    Every frame is decoded in order (frame numbers are the video's own, 0-based); reading stops
    after ``max_frames`` yielded frames, if given.

    Raises:
        VideoError: the file cannot be opened, no frame decodes, or decoding fails partway:
            a frame that does not decode, or the stream ending more than
            :data:`FRAME_COUNT_SLACK` frames before the frame count the container announced
            (a truncated or corrupt file). The message names the file, the frame where
            decoding failed and the announced count.
    """
    cap = _open_video(path)
    announced = max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), 0)
    step = max(int(frame_step), 1)
    i, read = 0, 0
    try:
        while max_frames is None or read < max_frames:
            if not cap.grab():
                if announced - i > FRAME_COUNT_SLACK:
                    raise VideoError(path, _decode_failure(i, announced, "the stream ending"))
                break
            if i % step == 0:
                ok, frame = cap.retrieve()
                if not ok or frame is None:
                    raise VideoError(path, _decode_failure(i, announced, "decoding failing"))
                read += 1
                yield i, frame
            i += 1
    finally:
        cap.release()
    if i == 0:
        raise VideoError(path, "expected video frames, found none that decode")


def _decode_failure(frame: int, announced: int, what: str) -> str:
    """One-line problem of a video whose decoding fails at ``frame`` (0-based)."""
    count = (f"{announced} frames (the count its container announces)" if announced
             else "frames that decode")
    return f"expected {count}, found {what} at frame {frame}: the file is truncated or corrupt"


def iter_images(folder: str | os.PathLike) -> Iterator[tuple[int, np.ndarray]]:
    """``(position, BGR image)`` of every image of a folder, in natural name order."""
    files = list_images(folder)
    if not files:
        raise VideoError(folder, f"expected images ({', '.join(IMAGE_EXTENSIONS)}), found none")
    for i, f in enumerate(files):
        img = cv2.imread(str(f), cv2.IMREAD_COLOR)
        if img is None:
            raise VideoError(f, "expected an image OpenCV can decode, found an unreadable file")
        yield i, img


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


def find_camera_sources(folder: str | os.PathLike) -> dict[str, Path]:
    """Calibration inputs of a folder: ``<cam>.<video ext>`` files and ``<cam>/`` image
    folders, by camera name, in natural name order.

    Raises VideoError when the folder is missing or holds none, or a camera has both.
    """
    p = Path(folder)
    if not p.is_dir():
        raise VideoError(p, "expected a folder of calibration videos or image folders, found none")
    found: dict[str, Path] = {}
    for entry in sorted(p.iterdir(), key=lambda e: natural_key(e.name)):
        if entry.name.startswith("."):
            continue
        if entry.is_file() and entry.suffix.lower() in VIDEO_EXTENSIONS:
            name = entry.stem
        elif entry.is_dir() and any(
            f.suffix.lower() in IMAGE_EXTENSIONS for f in entry.iterdir() if f.is_file()
        ):
            name = entry.name
        else:
            continue
        if name in found:
            raise VideoError(
                entry, f"expected one source for camera {name!r}, found {found[name]} too"
            )
        found[name] = entry
    if not found:
        raise VideoError(
            p,
            f"expected <camera>.<video> files ({', '.join(VIDEO_EXTENSIONS)}) or <camera>/ "
            "image folders, found none",
        )
    return found


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
