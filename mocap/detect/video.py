"""Frames of a take: one video file or image folder per camera, checked and decoded ahead.

* :func:`probe_source` opens a camera's source and reads its frame count, frame rate and size
  (a video that cannot be decoded, or whose last frame cannot be reached, is refused here,
  before any model runs).
* :func:`check_sources` compares the cameras: a different frame rate is an error (it cannot
  be fixed by dropping frames); different frame counts give a warning and the shortest count
  is used.
* :class:`FrameReader` decodes in a background thread into a small queue, so the model never
  waits for the decoder; a source that ends early raises :class:`VideoError`.

Frames are RGB uint8 (H, W, 3); frame index from 0.
"""
from __future__ import annotations

import logging
import os
import queue
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import VideoError

log = logging.getLogger(__name__)

__all__ = ["VideoInfo", "probe_source", "check_sources", "FrameReader", "sample_frames",
           "VIDEO_EXTENSIONS", "IMAGE_EXTENSIONS", "find_source"]

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
_NUM = re.compile(r"(\d+)(?!.*\d)")


@dataclass(frozen=True)
class VideoInfo:
    """What a camera's source holds.

    Attributes:
        camera: camera name. path: the video file or image folder.
        num_frames: frames in the source (the container's count for a video).
        fps: frames per second (for an image folder: the value it was probed with).
        size_wh: (width, height) in pixels.
        images: the image files in frame order (image folders only).
    """

    camera: str
    path: Path
    num_frames: int
    fps: float
    size_wh: tuple[int, int]
    images: tuple[Path, ...] = ()

    @property
    def is_images(self) -> bool:
        return bool(self.images)


def find_source(folder: "str | os.PathLike", camera: str) -> "Path | None":
    """``folder/<camera>.<video ext>`` or the image folder ``folder/<camera>/``, or None."""
    folder = Path(folder)
    for ext in VIDEO_EXTENSIONS:
        for cand in (folder / f"{camera}{ext}", folder / f"{camera}{ext.upper()}"):
            if cand.is_file():
                return cand
    if (folder / camera).is_dir():
        return folder / camera
    return None


def _image_files(folder: Path) -> tuple[Path, ...]:
    files = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS]
    keyed = []
    for p in files:
        m = _NUM.search(p.stem)
        if m is None:
            raise VideoError(f"{p}: expected a frame number in the image's name, found none")
        keyed.append((int(m.group(1)), p))
    keyed.sort()
    numbers = [n for n, _ in keyed]
    if len(set(numbers)) != len(numbers):
        raise VideoError(f"{folder}: two images carry the same frame number")
    return tuple(p for _, p in keyed)


def _read_image(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise VideoError(f"{path}: not a readable image")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def probe_source(path: "str | os.PathLike", camera: str, fps: "float | None" = None
                 ) -> VideoInfo:
    """Open a camera's video (or image folder) and read what it holds.

    Args:
        path: a video file or a folder of numbered images.
        camera: its camera's name (for messages).
        fps: frame rate of an image folder (ignored for videos, which carry their own).
    Raises:
        VideoError: missing, not decodable, no frames, or truncated (the last frame the
            container announces cannot be decoded).
    """
    path = Path(path)
    if path.is_dir():
        images = _image_files(path)
        if not images:
            raise VideoError(f"camera {camera}: {path} holds no images "
                             f"({', '.join(IMAGE_EXTENSIONS)})")
        h, w = _read_image(images[0]).shape[:2]
        return VideoInfo(camera, path, len(images), float(fps or 0.0), (w, h), images)
    if not path.is_file():
        raise VideoError(f"camera {camera}: video {path} not found")
    cap = cv2.VideoCapture(str(path))
    try:
        count = int(round(cap.get(cv2.CAP_PROP_FRAME_COUNT))) if cap.isOpened() else -1
        ok, frame = cap.read() if cap.isOpened() else (False, None)
        if not ok or count <= 0:
            raise VideoError(f"camera {camera}: {path} cannot be decoded as a video (the file "
                             f"is damaged, incomplete or not a video)")
        rate = float(cap.get(cv2.CAP_PROP_FPS))
        if not np.isfinite(rate) or rate <= 0:
            raise VideoError(f"camera {camera}: {path} does not state its frame rate")
        h, w = frame.shape[:2]
        if count > 1:
            cap.set(cv2.CAP_PROP_POS_FRAMES, count - 1)
            if not cap.read()[0]:
                raise VideoError(f"camera {camera}: {path} is truncated: its header announces "
                                 f"{count} frames but frame {count - 1} cannot be decoded "
                                 f"(re-copy or re-encode the file)")
    finally:
        cap.release()
    return VideoInfo(camera, path, count, rate, (w, h))


def sample_frames(info: VideoInfo, count: int = 8) -> list[np.ndarray]:
    """Up to ``count`` frames spread evenly over a source, (H, W, 3) uint8 (BGR for a video,
    RGB for images: for measuring, not for a model); frames that do not decode are skipped."""
    picks = np.unique(np.linspace(0, info.num_frames - 1, min(count, info.num_frames))
                      .round().astype(int))
    if info.is_images:
        return [_read_image(info.images[int(f)]) for f in picks]
    cap = cv2.VideoCapture(str(info.path))
    frames = []
    try:
        for f in picks:
            cap.set(cv2.CAP_PROP_POS_FRAMES, int(f))
            ok, bgr = cap.read()
            if ok and bgr is not None:
                frames.append(bgr)
    finally:
        cap.release()
    return frames


def check_sources(infos: "list[VideoInfo]", fps_rel_tol: float = 1e-3) -> int:
    """Check that the cameras' sources fit together; return the frame count to use.

    Raises:
        VideoError: a camera whose frame rate differs from the first camera's.
    Warns (log) when frame counts differ: the shortest is used, and ``mocap sync`` estimates
    the offsets if the cameras did not start together.
    """
    if not infos:
        raise VideoError("no camera sources to check")
    ref = infos[0]
    for info in infos[1:]:
        if abs(info.fps - ref.fps) > fps_rel_tol * ref.fps:
            raise VideoError(
                f"camera {info.camera}: {info.path.name} runs at {info.fps:g} fps, camera "
                f"{ref.camera} at {ref.fps:g} fps; all cameras must share one frame rate "
                f"(re-encode it, e.g. `ffmpeg -i {info.path.name} -r {ref.fps:g} OUT`)")
    counts = {i.camera: i.num_frames for i in infos}
    n = min(counts.values())
    if len(set(counts.values())) > 1:
        log.warning("cameras have different frame counts %s; using the first %d frames of "
                    "each (trim the videos to one length, or check the offsets with "
                    "`mocap sync`)", counts, n)
    return n


class FrameReader:
    """Iterate ``(frame index, RGB frame)`` over frames ``start`` to ``num_frames - 1`` of a
    source, decoded ahead in a background thread.

    A video is read from its first frame and the frames before ``start`` are decoded and
    dropped (exact on every container; seeking by frame number is not, for some codecs and
    stream-copied files); an image folder starts at its ``start``-th image.

    Use as a context manager (the thread stops when the block ends, even on error)::

        with FrameReader(info, num_frames) as frames:
            for f, rgb in frames: ...

    Raises:
        VideoError: while iterating, if the source ends (or a frame fails to decode) before
            ``num_frames`` frames.
    """

    _END = object()

    def __init__(self, info: VideoInfo, num_frames: "int | None" = None, prefetch: int = 4,
                 start: int = 0):
        self.info = info
        self.num_frames = info.num_frames if num_frames is None else int(num_frames)
        self.start = max(0, int(start))
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, prefetch))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"decode-{info.camera}",
                                        daemon=True)

    def __enter__(self) -> "FrameReader":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        while self._thread.is_alive():
            try:
                self._queue.get(timeout=0.05)
            except queue.Empty:
                pass
        self._thread.join()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _frames(self):
        if self.info.is_images:
            for p in self.info.images[self.start:self.num_frames]:
                yield _read_image(p)
            return
        cap = cv2.VideoCapture(str(self.info.path))
        try:
            for _ in range(min(self.start, self.num_frames)):
                if not cap.grab():
                    return
            for _ in range(self.start, self.num_frames):
                ok, bgr = cap.read()
                if not ok:
                    return
                yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        finally:
            cap.release()

    def _run(self) -> None:
        n = self.start
        try:
            for rgb in self._frames():
                if not self._put((n, rgb)):
                    return
                n += 1
            if n < self.num_frames:
                raise VideoError(
                    f"camera {self.info.camera}: {self.info.path} is truncated: expected "
                    f"{self.num_frames} frames, only {n} could be decoded")
            self._put(self._END)
        except Exception as exc:  # handed to the consumer, re-raised there
            self._put(exc)

    def __iter__(self):
        while True:
            item = self._queue.get()
            if item is self._END:
                return
            if isinstance(item, Exception):
                raise item
            yield item
