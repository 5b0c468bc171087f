"""The result drawn back on every camera: a contact sheet of a few frames per camera, over
the video frames when the session has them, else over a blank canvas, with the 2D detections
(green rings) beside the reprojected 3D keypoints and bones (one colour per person). Each
thumbnail is an inline JPEG ``<img>``. Pure: the video frames come in already read
(:func:`mocap.report.inputs.read_overlay_videos`).
"""
from __future__ import annotations

import base64
import html

import cv2
import numpy as np

from ..errors import MocapError
from ..keypoints import get_format
from .data import frame_shift
from .figures import PERSON_COLORS_RGB

__all__ = ["crop_box", "contact_sheet"]


def crop_box(xy: np.ndarray, size_wh: tuple[int, int], pad_frac: float = 0.15,
             min_size_frac: float = 0.25) -> tuple[float, float, float, float]:
    """The part of an image to show around some points, with the image's aspect ratio.

    Args:
        xy: (N, 2) pixels (NaN rows ignored). size_wh: the image (width, height), pixels.
        pad_frac: margin added on each side, as a fraction of the box's larger side.
        min_size_frac: the box is at least this fraction of the image's width.
    Returns:
        (x0, y0, x1, y1) pixels inside the image, ``(x1 - x0) / (y1 - y0) == W / H``; the
        whole image when no point is inside it.
    """
    W, H = size_wh
    xy = xy[np.isfinite(xy).all(-1)]
    xy = xy[(xy[:, 0] >= 0) & (xy[:, 0] <= W) & (xy[:, 1] >= 0) & (xy[:, 1] <= H)]
    if xy.shape[0] == 0:
        return 0.0, 0.0, float(W), float(H)
    lo, hi = xy.min(0), xy.max(0)
    centre = 0.5 * (lo + hi)
    size = hi - lo + 2 * pad_frac * (hi - lo).max()
    w = min(max(size[0], size[1] * W / H, min_size_frac * W), W)
    h = w * H / W
    x0 = float(np.clip(centre[0] - w / 2, 0, W - w))
    y0 = float(np.clip(centre[1] - h / 2, 0, H - h))
    return x0, y0, x0 + w, y0 + h


def _draw_overlay(canvas: np.ndarray, origin_xy: np.ndarray, scale: float,
                  det: "np.ndarray | None", det_ok: "np.ndarray | None", proj: np.ndarray,
                  bones: np.ndarray, label: str) -> np.ndarray:
    """Draw detections (green rings) and the reprojected 3D keypoints and bones (one colour
    per person, :data:`PERSON_COLORS_RGB`) on a canvas.

    Args:
        canvas: (h, w, 3) uint8 BGR, drawn on in place; it shows the image region whose
            top-left corner is ``origin_xy`` (2,) image px, at ``scale`` canvas px per image px.
        det: (P, J, 2) detections, image px, or None. det_ok: (P, J) bool.
        proj: (P, J, 2) projections of the 3D keypoints, image px (NaN = missing).
        bones: (B, 2) joint indices.
    """
    r = max(2, canvas.shape[1] // 120)

    def px(xy):
        # clipped so that a point projected far outside cannot overflow OpenCV's int coordinates
        return tuple(int(round(v)) for v in np.clip((xy - origin_xy) * scale, -1e5, 1e5))

    if det is not None:
        for p in range(det.shape[0]):
            for j in np.flatnonzero(det_ok[p] & np.isfinite(det[p]).all(-1)):
                cv2.circle(canvas, px(det[p, j]), r + 1, (60, 200, 60), 1, cv2.LINE_AA)
    ok = np.isfinite(proj).all(-1)
    for p in range(proj.shape[0]):
        bgr = tuple(int(v) for v in PERSON_COLORS_RGB[p % len(PERSON_COLORS_RGB)][::-1])
        for a, b in bones:
            if ok[p, a] and ok[p, b]:
                cv2.line(canvas, px(proj[p, a]), px(proj[p, b]), bgr, 1, cv2.LINE_AA)
        for j in np.flatnonzero(ok[p]):
            cv2.circle(canvas, px(proj[p, j]), r - 1, bgr, -1, cv2.LINE_AA)
    cv2.rectangle(canvas, (0, 0), (canvas.shape[1], 18), (30, 30, 30), -1)
    cv2.putText(canvas, label, (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 255), 1,
                cv2.LINE_AA)
    return canvas


def _background(img: "np.ndarray | None", box, size_wh, out_wh) -> np.ndarray:
    """The thumbnail's background: the video frame's ``box`` (camera pixels) resized to
    ``out_wh``, or a blank canvas. A video of another resolution than the calibration but the
    same aspect ratio is scaled to it."""
    w, h = out_wh
    if img is None:
        return np.full((h, w, 3), 245, np.uint8)
    sx, sy = img.shape[1] / size_wh[0], img.shape[0] / size_wh[1]
    x0, y0, x1, y1 = box
    part = img[int(y0 * sy):max(int(np.ceil(y1 * sy)), int(y0 * sy) + 1),
               int(x0 * sx):max(int(np.ceil(x1 * sx)), int(x0 * sx) + 1)]
    return cv2.resize(part, (w, h), interpolation=cv2.INTER_AREA)


def _jpeg(img: np.ndarray) -> str:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 82])
    if not ok:
        raise MocapError("overlay: JPEG encoding failed")
    data = base64.b64encode(buf.tobytes()).decode("ascii")
    return f'<img class="thumb" alt="overlay" src="data:image/jpeg;base64,{data}">'


def _usable_images(cam, video, images: dict, n_frames: int, notes: list) -> tuple[str, dict]:
    """The camera's line in the list of backgrounds, and its video frames, dropped (with a
    note) when their aspect ratio is not the calibrated image's."""
    W, H = cam.size_wh
    if video is None:
        return f"{cam.name}: no video, blank canvas", images
    source = f"{cam.name}: {video.name} ({len(images)}/{n_frames} frames read)"
    shapes = {img.shape[:2] for img in images.values()}
    if any(abs(w / h - W / H) > 0.01 * W / H for h, w in shapes):
        notes.append(f"overlays: {video} has frames of {sorted(shapes)} (h, w), "
                     f"not the aspect of the calibrated {W}x{H}; not drawn over")
        images = {}
    return source, images


def _camera_row(cam, c: int, points, det, frames: np.ndarray, images: dict, shift: int,
                bones: np.ndarray, min_conf: float, width_px: int) -> str:
    """One camera's row of thumbnails (HTML)."""
    W, H = cam.size_wh
    proj = cam.project(points.xyz[frames])                          # (k, P, J, 2)
    d_all = det.xy[c, frames] if det is not None else np.zeros((0, 2))
    box = crop_box(np.concatenate([proj.reshape(-1, 2), d_all.reshape(-1, 2)]), (W, H))
    scale = width_px / (box[2] - box[0])
    out_wh = (width_px, int(round(width_px * H / W)))
    cells = []
    for i, f in enumerate(frames):
        canvas = _background(images.get(int(f) - shift), box, (W, H), out_wh)
        d = det.xy[c, f] if det is not None else None
        ok = det.conf[c, f] >= min_conf if det is not None else None
        label = f"{cam.name}  frame {int(f)}  t={f / points.fps:.2f} s"
        cells.append(_jpeg(_draw_overlay(canvas, np.array(box[:2]), scale, d, ok, proj[i],
                                         bones, label)))
    return f'<div class="sheet-row">{"".join(cells)}</div>'


def contact_sheet(rig, points, det, offsets: "np.ndarray | None", videos: list,
                  frames: np.ndarray, min_conf: float, width_px: int) -> tuple[str, list[str]]:
    """The overlay section's body: a legend, the backgrounds used, one row per camera.

    Args:
        rig: C cameras. points: the 3D result (F, P, J). det: the 2D detections on the take's
            frames, or None (not drawn when their (F, P, J) differs from the result's).
        offsets: (C,) frames each camera runs late, or None.
        videos: per camera ``(video path or None, {camera frame: BGR image})`` (see
            :func:`mocap.report.inputs.read_overlay_videos`). frames: (k,) take frames shown.
        min_conf: detections below it are not drawn. width_px: thumbnail width.
    Returns:
        HTML, and notes on what could not be drawn.
    """
    notes = []
    fmt = get_format(points.format) if points.format else None
    bones = fmt.bone_indices if fmt is not None else np.zeros((0, 2), int)
    if det is not None and det.shape[1:] != points.xyz.shape[:3]:
        notes.append(f"overlays: detections {det.shape[1:]} and 3D keypoints "
                     f"{points.xyz.shape[:3]} (F, P, J) differ; detections not drawn")
        det = None
    rows, sources = [], []
    for c, cam in enumerate(rig):
        source, images = _usable_images(cam, *videos[c], len(frames), notes)
        sources.append(source)
        rows.append(_camera_row(cam, c, points, det, frames, images, frame_shift(offsets, c),
                                bones, min_conf, width_px))
    legend = ("<p>Green rings: 2D detections (confidence at least "
              f"{min_conf:g}). Dots and lines: the 3D result projected into the camera, with "
              f"its bones (person 0 red, 1 blue, 2 green, ...). "
              f"Frames: {', '.join(str(int(f)) for f in frames)} of {points.num_frames}.</p>")
    src = "<p class=\"small\">Background: " + html.escape("; ".join(sources)) + ".</p>"
    return legend + src + "".join(rows), notes
