"""Frames of a camera's calibration source: a video (every ``frame_step``-th frame, numbered as
the video's own 0-based frames) or an image folder (natural name order, ``img2`` before
``img10``, image ``i`` counting as frame ``i``), and the sources of a folder by camera name."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from calibration.errors import VideoError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".mpg", ".mpeg", ".webm", ".wmv")


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
