"""Lens distortion applied to an undistorted render, exactly as the lens model says.

The real camera's pixel ``(u, v)`` sees the ray whose normalised undistorted coordinates are
``undistort(K^-1 (u, v, 1))`` (:mod:`calibration.lens`, OpenCV's model); the render camera
(:func:`mocap.simulate.render.scene.render_camera`) shows that ray at ``K_r (x_n, y_n, 1)``.
The map from real pixels to render pixels is therefore the inverse map ``cv2.remap`` needs:
the distorted image is the render resampled there (bilinear). Pixel centres follow OpenCV's
convention (``(0, 0)`` is the centre of the top-left pixel) on both sides.
"""
from __future__ import annotations

import cv2
import numpy as np

from calibration import Camera
from calibration.camera import pixels_to_normalized
from calibration.lens import undistort

__all__ = ["lens_maps", "apply_lens"]


def lens_maps(cam: Camera, K_render: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The inverse map of ``cam``'s lens from an undistorted render with ``K_render``.

    Returns:
        ``(map_x, map_y)``: (H, W) float32 render-pixel coordinates of each of ``cam``'s
        pixels (its ``size_wh``); -1e6 where the lens model has no inverse.
    """
    W, H = cam.size_wh
    u, v = np.meshgrid(np.arange(W, dtype=float), np.arange(H, dtype=float))
    xy_d = pixels_to_normalized(np.stack([u, v], -1), cam.K)
    xy_n = undistort(xy_d, cam.dist, cam.model)
    Kr = np.asarray(K_render, float)
    mx = Kr[0, 0] * xy_n[..., 0] + Kr[0, 1] * xy_n[..., 1] + Kr[0, 2]
    my = Kr[1, 1] * xy_n[..., 1] + Kr[1, 2]
    bad = ~(np.isfinite(mx) & np.isfinite(my))
    mx[bad] = my[bad] = -1e6
    return mx.astype(np.float32), my.astype(np.float32)


def apply_lens(image: np.ndarray, maps: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """``image`` (h, w[, 3]) rendered undistorted, resampled through ``maps``
    (:func:`lens_maps`): (H, W[, 3]), same dtype; black where no ray exists."""
    return cv2.remap(image, maps[0], maps[1], interpolation=cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_CONSTANT, borderValue=0)
