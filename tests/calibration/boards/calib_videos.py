"""Calibration videos cut short, shared by the video tests (imported by name: a uniquely
named module; ``tests/mocap/calibration/conftest.py`` puts this folder on the path)."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np

FRAMES = 30
BOARD = dict(kind="charuco", squares_x=5, squares_y=7, square_length_m=0.15,
             marker_length_m=0.11, dictionary="DICT_4X4_50")
BOARD_TOML = "[calibration.board]\n" + "".join(
    f"{k} = {v!r}\n".replace("'", '"') for k, v in BOARD.items())


def mjpg_video(folder: Path) -> tuple[bytes, list[int]]:
    """A real 30-frame MJPG ``.avi`` written by OpenCV into ``folder``: its bytes and the byte
    offset where each frame's chunk starts (cutting there leaves exactly that many whole
    frames)."""
    path = folder / "cam.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (96, 72))
    rng = np.random.default_rng(0)
    for f in range(FRAMES):
        img = rng.integers(0, 255, (72, 96, 3), dtype=np.uint8)
        cv2.putText(img, str(f), (20, 50), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255, 255, 255), 2)
        writer.write(img)
    writer.release()
    data = path.read_bytes()
    movi = data.index(b"movi")           # frame chunks follow the 'movi' list, each '00dc'
    index = data.index(b"idx1")          # then the index, which repeats the tags
    starts = [m.start() for m in re.finditer(b"00dc", data) if movi < m.start() < index]
    assert len(starts) == FRAMES
    return data, starts


def cut(tmp_path: Path, mjpg_video, frames_kept: int, name: str = "cam1.avi") -> Path:
    """The video with its bytes cut where frame ``frames_kept`` starts (index lost too)."""
    data, starts = mjpg_video
    path = tmp_path / name
    path.write_bytes(data[:starts[frames_kept]])
    return path
