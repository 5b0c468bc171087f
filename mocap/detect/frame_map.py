"""A camera's video frames against the pixel frame of its calibration.

A video can hold frames of another size than the calibration states (``size_wh``) for two
reasons, and they need different maps:

* **padded / cropped** by a codec (1088 rows stored as 1080, or 1080 padded to 1088): the
  pixels are the calibration's, the extra or missing rows/columns are at the bottom/right;
  detections are used as they are.
* **scaled**, the calibration's frame resized (a proxy, a re-encode to another resolution),
  possibly with black bars (letterbox rows at the top and bottom, pillarbox columns at the
  sides) to reach the new size; detections must be scaled back and the bars taken off.

Which one is decided from the video itself: black bars are the rows/columns at the edges that
are dark in every sampled frame (:func:`black_bars`); a scaled frame's active area (inside
the bars) has the calibration's aspect ratio, a padded/cropped one differs from the
calibration by a few rows or columns with no bars on top or on the left
(:func:`decide_frame_map`). The result is one affine per camera (:class:`FrameMap`) from video
pixels to calibration pixels, applied to the detections where they enter the pipeline
(:func:`map_detections`).

Pixel (0, 0) is the centre of the top-left pixel; pixel edges sit at half-integers. A frame
scaled by ``s`` and moved by ``o`` (pixels, edge to edge) maps a calibration pixel centre
``c`` to ``s (c + 0.5) + o - 0.5`` in the video.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import cv2
import numpy as np

from ..errors import SessionError
from ..types import Detections2D

log = logging.getLogger(__name__)

__all__ = ["FrameMap", "Bars", "black_bars", "decide_frame_map", "map_detections",
           "warp_to_calibration",
           "BLACK_LEVEL", "FRAME_SIZE_TOLERANCE", "ANISOTROPY_TOLERANCE_PX"]

#: Frames may differ from the calibration's size by this share of it (a codec's padding).
FRAME_SIZE_TOLERANCE = 0.02
#: A row or column is black when 95 % of its pixels stay under this (0-255) in every frame.
BLACK_LEVEL = 40.0
#: A scaled frame's active area may differ from the calibration's aspect by this many pixels
#: over the frame (a bar's edge row half dark, counted on either side).
ANISOTROPY_TOLERANCE_PX = 2.5
#: Two explanations whose maps differ by less than this (pixels, anywhere in the frame) agree.
AGREE_PX = 1.0


@dataclass(frozen=True)
class Bars:
    """Black rows/columns at each edge of a video's frames (pixels); ``content`` is False
    when every row is black (nothing to measure)."""

    top: int
    bottom: int
    left: int
    right: int
    content: bool = True

    @property
    def any(self) -> bool:
        return self.content and (self.top + self.bottom + self.left + self.right) > 0


@dataclass(frozen=True)
class FrameMap:
    """How one camera's video pixels map to its calibration's pixels.

    Attributes:
        camera: the camera. kind: ``"padded"`` (pixels used as they are) or ``"scaled"``.
        video_wh, calib_wh: (width, height) of the video's frames and of the calibration.
        A_calib_from_video: (2, 3) affine, video pixel ``(x, y, 1)`` -> calibration pixel.
        reason: what was found (one phrase, for logs and ``detections.json``).
    """

    camera: str
    kind: str
    video_wh: tuple[int, int]
    calib_wh: tuple[int, int]
    A_calib_from_video: np.ndarray
    reason: str

    def apply(self, xy_video: np.ndarray) -> np.ndarray:
        """(..., 2) video pixels -> (..., 2) calibration pixels (NaN stays NaN)."""
        A = np.asarray(self.A_calib_from_video, float)
        return np.asarray(xy_video, float) @ A[:, :2].T + A[:, 2]

    def to_json(self) -> dict:
        return {"kind": self.kind, "video_wh": list(self.video_wh),
                "calib_wh": list(self.calib_wh),
                "A_calib_from_video": np.asarray(self.A_calib_from_video).tolist(),
                "reason": self.reason}


def _edge_run(black: np.ndarray) -> int:
    """How many leading entries of a boolean vector are True."""
    return int(np.argmin(black)) if not black.all() else len(black)


def black_bars(frames: "list[np.ndarray]", level: float = BLACK_LEVEL) -> Bars:
    """The black bars of a video: rows/columns at each edge dark in every frame.

    Args:
        frames: sampled (H, W, 3) or (H, W) uint8 frames of one video (any channel order).
        level: a row/column is dark when its 95th percentile stays under this.
    """
    peak = np.max(np.stack([f if f.ndim == 2 else f.max(-1) for f in frames]), 0)
    rows = np.percentile(peak, 95, axis=1) < level
    if rows.all():
        return Bars(0, 0, 0, 0, content=False)
    cols = np.percentile(peak, 95, axis=0) < level
    return Bars(_edge_run(rows), _edge_run(rows[::-1]), _edge_run(cols), _edge_run(cols[::-1]))


def _scaled_affine(video_wh, calib_wh, bars: Bars) -> "tuple[np.ndarray, float, float]":
    """The affine (2, 3) of a scaled frame inside ``bars``, its scale and its anisotropy
    (pixels over the calibration's frame)."""
    (Wv, Hv), (Wc, Hc) = video_wh, calib_wh
    sx = (Wv - bars.left - bars.right) / Wc
    sy = (Hv - bars.top - bars.bottom) / Hc
    # an axis without bars gives the scale exactly; a barred one only to a row or so
    s = sx if bars.left == bars.right == 0 else sy if bars.top == bars.bottom == 0 \
        else 0.5 * (sx + sy)
    # bars within a row of each other are centred ones whose edge row is half dark (the
    # Pose2Sim demo's cam_01: 7 and 6 rows found, 7.06 each in fact)
    ox = (0.5 * Wv if abs(bars.left - bars.right) <= 1 else
          0.5 * (bars.left + Wv - bars.right)) - 0.5 * s * Wc
    oy = (0.5 * Hv if abs(bars.top - bars.bottom) <= 1 else
          0.5 * (bars.top + Hv - bars.bottom)) - 0.5 * s * Hc
    A = np.array([[1 / s, 0.0, (0.5 - ox) / s - 0.5], [0.0, 1 / s, (0.5 - oy) / s - 0.5]])
    return A, s, abs(sx - sy) * max(Wc, Hc)


def _max_disagreement_px(A: np.ndarray, B: np.ndarray, video_wh) -> float:
    """Largest distance (calibration pixels) between two maps at the video's corners."""
    w, h = video_wh
    corners = np.array([[0, 0, 1], [w - 1, 0, 1], [0, h - 1, 1], [w - 1, h - 1, 1]], float)
    return float(np.linalg.norm(corners @ (A - B).T, axis=1).max())


def _bars_text(bars: Bars) -> str:
    return (f"black bars top {bars.top}, bottom {bars.bottom}, left {bars.left}, right "
            f"{bars.right} px" if bars.any else "no black bars")


def decide_frame_map(camera: str, video_wh, calib_wh, bars: Bars,
                     tolerance: float = FRAME_SIZE_TOLERANCE) -> FrameMap:
    """Padded/cropped or scaled: the map of a video whose size is not its calibration's.

    * scaled: the active area (inside the bars) has the calibration's aspect ratio (within
      :data:`ANISOTROPY_TOLERANCE_PX`); letterbox evidence is bars on both opposite sides;
    * padded: the size is within ``tolerance`` of the calibration's and nothing is black on
      top or on the left (a codec pads or crops the bottom/right).

    Both consistent: letterbox bars decide for scaled; otherwise padded, with a warning when the
    two maps differ by more than :data:`AGREE_PX`. Scaled without any bar (a uniform resize)
    is taken with a warning (the camera may crop its sensor at this resolution instead).

    Args:
        camera: its name. video_wh, calib_wh: (width, height) px. bars: from
            :func:`black_bars`. tolerance: the share of the size a codec may pad or crop.
    Raises:
        SessionError: no explanation fits (naming the camera and both sizes).
    """
    video_wh, calib_wh = tuple(int(v) for v in video_wh), tuple(int(v) for v in calib_wh)
    sizes = (f"camera {camera}: frames of {video_wh[0]} x {video_wh[1]} px, the calibration "
             f"says {calib_wh[0]} x {calib_wh[1]}")
    near = all(abs(v - c) <= tolerance * c for v, c in zip(video_wh, calib_wh))
    padded_ok = near and (not bars.content or bars.top == bars.left == 0)
    A_pad = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    scaled_ok = False
    if bars.content:
        A_scaled, s, aniso = _scaled_affine(video_wh, calib_wh, bars)
        scaled_ok = aniso <= ANISOTROPY_TOLERANCE_PX
    letterbox = scaled_ok and ((bars.top > 0 and bars.bottom > 0) or
                               (bars.left > 0 and bars.right > 0))
    if scaled_ok and (letterbox or not padded_ok):
        reason = f"the calibration's frame scaled by {s:.4f}, {_bars_text(bars)}"
        if not bars.any:
            log.warning("%s: taken as %s (same aspect); if the camera crops its sensor at "
                        "this resolution, calibrate at it", sizes, reason)
        return FrameMap(camera, "scaled", video_wh, calib_wh, A_scaled, reason)
    if padded_ok:
        reason = f"a codec's padding/cropping at the bottom/right, {_bars_text(bars)}"
        if scaled_ok and _max_disagreement_px(A_pad, A_scaled, video_wh) > AGREE_PX:
            log.warning("%s: padded or scaled by %.4f cannot be told apart (%s); taken as "
                        "padded, used as they are", sizes, s, _bars_text(bars))
        return FrameMap(camera, "padded", video_wh, calib_wh, A_pad, reason)
    found = ("frames all black" if not bars.content else
             f"{_bars_text(bars)}, the active area's aspect off by {aniso:.1f} px")
    raise SessionError(f"{sizes} ({found}): neither a codec's padding (within "
                       f"{100 * tolerance:g} %) nor the calibration's frame scaled; detect on "
                       f"the video the camera was calibrated at, or calibrate at this resolution")


def map_detections(det: Detections2D, maps: "list[FrameMap | None]") -> Detections2D:
    """Detections in each camera's calibration frame: keypoints moved by the camera's map,
    heatmap affines composed with it (None: the camera's frames are the calibration's).

    Args:
        det: (C, F, P, J, 2) video pixels. maps: (C,) in the rig's order.
    """
    if all(m is None for m in maps):
        return det
    xy = np.array(det.xy, float)
    aff = None if det.heatmap_affine is None else np.array(det.heatmap_affine, float)
    for c, fm in enumerate(maps):
        if fm is None:
            continue
        xy[c] = fm.apply(xy[c])
        if aff is not None:
            A = np.asarray(fm.A_calib_from_video, float)
            lin = np.einsum("ij,...jk->...ik", A[:, :2], aff[c])
            lin[..., 2] += A[:, 2]
            aff[c] = lin
    return replace(det, xy=xy, heatmap_affine=aff)


def warp_to_calibration(img: np.ndarray, A_calib_from_video: np.ndarray,
                        calib_wh: "tuple[int, int]") -> np.ndarray:
    """A video frame resampled into its calibration's pixel frame (what the detections are in
    after :func:`map_detections`), for overlays and viewers.

    Args:
        img: (h, w, 3) uint8 video frame. A_calib_from_video: (2, 3) the camera's map.
        calib_wh: the calibration's (width, height) px.
    Returns:
        (H, W, 3) uint8; outside the video, black.
    """
    A = np.asarray(A_calib_from_video, np.float64)
    shrink = abs(np.linalg.det(A[:, :2])) < 1.0
    return cv2.warpAffine(img, A, tuple(int(v) for v in calib_wh),
                          flags=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)
