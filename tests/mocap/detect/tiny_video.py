"""A tiny grey video for the detection tests (written by :func:`calibration.render.write_video`)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from calibration.render import write_video


def grey_video(path: Path, frames: int = 12, fps: float = 30.0, size: tuple = (64, 48)) -> Path:
    """An MJPG AVI of ``frames`` frames of ``size`` = (width, height) px whose frame i is
    uniformly grey level 10 i (mod 256)."""
    levels = ((10 * np.arange(frames)) % 256).astype(np.uint8)
    return write_video(path, np.ascontiguousarray(
        np.broadcast_to(levels[:, None, None], (frames, size[1], size[0]))), fps)
