"""Crops of a person out of a frame, and the affines between crop, heatmap and image pixels.

Conventions (stated once here, repeated in names):

* Image and crop pixels follow OpenCV: pixel (0, 0) is the *centre* of the top-left pixel.
  Models that give coordinates on a crop in "edge" units (0 = left edge of the crop, N = its
  right edge, as BlazePose does) are converted with :func:`image_from_crop_edge`.
* A region of interest (:class:`Roi`) is a square of side ``size_px`` centred on
  ``center_xy`` (image pixels) and rotated by ``angle_rad``: the crop's "up" (0, -1) points
  along ``R(angle) @ (0, -1)`` in the image, with ``R = [[cos, -sin], [sin, cos]]`` (image y
  points down). An upright person has angle 0.
* Affines are (2, 3) float64 matrices ``A`` acting on ``(x, y, 1)``; names say the direction
  (``image_from_crop``). A heatmap of ``h x w`` cells over an ``N x N`` crop has its cell
  ``(u, v)`` (column, row) centred on crop edge coordinates ``((u + 0.5) N / w, (v + 0.5) N / h)``.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["Roi", "roi_from_two_points", "roi_from_box", "box_from_points", "rotation_2d",
           "image_from_crop_affine", "crop_from_image_affine", "image_from_heatmap_affine",
           "apply_affine", "invert_affine", "compose_affines", "image_from_crop_edge",
           "normalize_angle", "body_mask", "share_inside", "paint_out"]


@dataclass(frozen=True)
class Roi:
    """A rotated square region of a frame (see the module's conventions).

    Attributes:
        center_xy: (2,) image pixels.
        size_px: side length in image pixels.
        angle_rad: rotation, radians; 0 = upright.
    """

    center_xy: tuple[float, float]
    size_px: float
    angle_rad: float = 0.0

    def corners(self) -> np.ndarray:
        """(4, 2) image pixels of the square's corners (top-left, top-right, bottom-right,
        bottom-left in crop terms)."""
        h = 0.5 * self.size_px
        local = np.array([[-h, -h], [h, -h], [h, h], [-h, h]])
        return np.asarray(self.center_xy) + local @ rotation_2d(self.angle_rad).T

    def iou(self, other: "Roi") -> float:
        """Intersection over union of the axis-aligned bounding boxes of two regions."""
        a, b = self.corners(), other.corners()
        a0, a1, b0, b1 = a.min(0), a.max(0), b.min(0), b.max(0)
        inter = np.prod(np.clip(np.minimum(a1, b1) - np.maximum(a0, b0), 0, None))
        union = np.prod(a1 - a0) + np.prod(b1 - b0) - inter
        return float(inter / union) if union > 0 else 0.0


def normalize_angle(angle_rad: float) -> float:
    """An angle wrapped into [-pi, pi)."""
    return float((angle_rad + np.pi) % (2 * np.pi) - np.pi)


def rotation_2d(angle_rad: float) -> np.ndarray:
    """(2, 2) rotation ``[[cos, -sin], [sin, cos]]`` (image axes, y down)."""
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    return np.array([[c, -s], [s, c]])


def roi_from_two_points(center_xy: np.ndarray, scale_xy: np.ndarray, scale: float = 1.25,
                        target_angle_rad: float = np.pi / 2) -> Roi:
    """The BlazePose region from two alignment points.

    ``center_xy`` is the body's centre (mid-hip), ``scale_xy`` a point whose distance from it
    is half the body's extent and whose direction gives the body's rotation. The square's side
    is ``2 * distance * scale``; the rotation brings the centre->scale direction to
    ``target_angle_rad`` (90 degrees: straight up in the crop).

    Args:
        center_xy, scale_xy: (2,) image pixels.
    """
    d = np.asarray(scale_xy, float) - np.asarray(center_xy, float)
    size = 2.0 * float(np.hypot(*d)) * scale
    angle = normalize_angle(target_angle_rad - np.arctan2(-d[1], d[0]))
    return Roi((float(center_xy[0]), float(center_xy[1])), size, angle)


def box_from_points(xy: np.ndarray, conf: np.ndarray, min_conf: float = 0.3
                    ) -> "np.ndarray | None":
    """Axis-aligned box (x0, y0, x1, y1) around the confident points, or None.

    Args:
        xy: (J, 2) image pixels (NaN = missing); conf: (J,).
    """
    ok = np.isfinite(xy).all(-1) & (conf >= min_conf)
    if ok.sum() < 2:
        return None
    p = xy[ok]
    return np.concatenate([p.min(0), p.max(0)])


def roi_from_box(box_xyxy: np.ndarray, scale: float = 1.25) -> Roi:
    """An upright square around a box (x0, y0, x1, y1), its long side times ``scale``."""
    x0, y0, x1, y1 = (float(v) for v in box_xyxy)
    return Roi((0.5 * (x0 + x1), 0.5 * (y0 + y1)), max(x1 - x0, y1 - y0, 1.0) * scale, 0.0)


def image_from_crop_affine(roi: Roi, crop_px: int) -> np.ndarray:
    """(2, 3) affine from crop pixel centres (OpenCV convention) of an ``crop_px`` square crop
    of ``roi`` to image pixels."""
    lin = rotation_2d(roi.angle_rad) * (roi.size_px / crop_px)
    offset = np.asarray(roi.center_xy) + lin @ np.full(2, 0.5 - 0.5 * crop_px)
    return np.concatenate([lin, offset[:, None]], 1)


def invert_affine(a: np.ndarray) -> np.ndarray:
    """Inverse of a (2, 3) affine."""
    lin_inv = np.linalg.inv(a[:, :2])
    return np.concatenate([lin_inv, -(lin_inv @ a[:, 2])[:, None]], 1)


def crop_from_image_affine(roi: Roi, crop_px: int) -> np.ndarray:
    """(2, 3) affine from image pixels to crop pixel centres (what ``cv2.warpAffine`` takes)."""
    return invert_affine(image_from_crop_affine(roi, crop_px))


def image_from_crop_edge(roi: Roi, crop_px: int, xy_edge: np.ndarray) -> np.ndarray:
    """Crop coordinates in edge units (0 .. crop_px) to image pixels.

    Args:
        xy_edge: (..., 2) crop coordinates, 0 = the crop's left/top edge.
    Returns:
        (..., 2) image pixels (OpenCV convention).
    """
    return apply_affine(image_from_crop_affine(roi, crop_px), np.asarray(xy_edge) - 0.5)


def image_from_heatmap_affine(image_from_crop: np.ndarray, crop_px: "tuple[int, int]",
                              heatmap_hw: "tuple[int, int]", cell_offset: float = 0.5
                              ) -> np.ndarray:
    """(2, 3) affine from heatmap cells ``(u, v)`` to the image pixels they stand for.

    Args:
        image_from_crop: (2, 3) from crop pixel centres to image pixels.
        crop_px: (width, height) of the crop in pixels.
        heatmap_hw: (rows, columns) of the heatmap.
        cell_offset: where in its cell a model puts the point a cell stands for, in cells:
            0.5 for the cell's centre (the convention of this module), 0 for its top-left
            corner (BlazePose's heatmaps, measured: see :mod:`.blazepose`).
    """
    sx, sy = crop_px[0] / heatmap_hw[1], crop_px[1] / heatmap_hw[0]
    # crop edge coordinate of cell u: (u + offset) * s; pixel centre coordinate: that - 0.5
    crop_from_hm = np.array([[sx, 0.0, cell_offset * sx - 0.5],
                             [0.0, sy, cell_offset * sy - 0.5]])
    return compose_affines(image_from_crop, crop_from_hm)


def compose_affines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The (2, 3) affine ``a o b`` (apply b, then a)."""
    return np.concatenate([a[:, :2] @ b[:, :2], (a[:, :2] @ b[:, 2] + a[:, 2])[:, None]], 1)


def apply_affine(a: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Apply a (2, 3) affine to points (..., 2)."""
    xy = np.asarray(xy, float)
    return xy @ a[:, :2].T + a[:, 2]



def body_mask(shape_hw: "tuple[int, int]", bodies_xy: "list[np.ndarray]", shape: str = "hull",
              margin: float = 0.03) -> np.ndarray:
    """(H, W) bool: the image area people cover, for the person detector to look past them.

    Args:
        shape_hw: the frame's (H, W).
        bodies_xy: per person (J, 2) image pixels (points not finite are ignored).
        shape: ``"hull"`` (the points' convex hull) or ``"box"`` (their bounding box), each
            grown by ``margin`` times the body's extent (the larger side of its box).
    """
    out = np.zeros(shape_hw, np.uint8)
    for xy in bodies_xy:
        xy = np.asarray(xy, np.float64)
        xy = xy[np.isfinite(xy).all(-1)]
        if len(xy) < 3:
            continue
        grow = margin * float(np.ptp(xy, axis=0).max())
        if shape == "box":
            lo, hi = np.floor(xy.min(0) - grow), np.ceil(xy.max(0) + grow)
            cv2.rectangle(out, lo.astype(int).tolist(), hi.astype(int).tolist(), 1, -1)
            continue
        hull = cv2.convexHull(np.round(xy).astype(np.int32))
        cv2.fillConvexPoly(out, hull, 1)
        cv2.polylines(out, [hull], True, 1, 2 * int(np.ceil(grow)) + 1)
    return out.astype(bool)


def share_inside(xy: np.ndarray, mask: np.ndarray) -> float:
    """The share of the points (J, 2) image pixels that lie in ``mask`` (H, W) bool (points
    outside the frame or not finite count as outside)."""
    xy = np.asarray(xy, np.float64)
    ok = np.isfinite(xy).all(-1)
    ij = np.round(np.where(ok[:, None], xy, -1.0)).astype(int)
    h, w = mask.shape
    ok &= (ij[:, 0] >= 0) & (ij[:, 0] < w) & (ij[:, 1] >= 0) & (ij[:, 1] < h)
    return float(mask[ij[ok, 1], ij[ok, 0]].sum() / max(len(xy), 1))


def paint_out(rgb: np.ndarray, bodies_xy: "list[np.ndarray]", margin: float = 0.03
              ) -> np.ndarray:
    """The frame (H, W, 3) with the bodies' hulls (:func:`body_mask`) painted black."""
    return np.where(body_mask(rgb.shape[:2], bodies_xy, "hull", margin)[..., None], 0, rgb)
