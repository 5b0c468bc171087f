"""The rendered studio's scene description, pure (no Blender here): what each actor wears,
which part of the body mesh each face belongs to, and the cameras Blender renders through.

Cameras. The session's cameras follow OpenCV (``x`` right, ``y`` down, ``z`` forward; pixel
``(0, 0)`` is the CENTRE of the top-left pixel, so an image of width ``W`` spans
``[-0.5, W - 0.5]``). Blender's camera looks down its ``-z`` axis with ``y`` up, and its image
plane spans the sensor edge to edge: the pixel with OpenCV coordinate ``u`` has its centre at
``u + 0.5`` pixel widths from the sensor's left edge. Hence, for square pixels, focal length
``f`` px and principal point ``(cx, cy)`` px on an image ``W x H``::

    lens_mm / sensor_width_mm = f / W                       (sensor fit HORIZONTAL)
    shift_x = ((W - 1) / 2 - cx) / max(W, H)                 (the half-pixel term: (W - 1) / 2,
    shift_y = (cy - (H - 1) / 2) / max(W, H)                  not W / 2, is the image centre)
    world_from_blender_camera = [R.T @ diag(1, -1, -1) | centre]

Blender renders no lens distortion, so each camera is rendered through an undistorted
*render camera* (:func:`render_camera`: square pixels, the camera's ``fx``, a field of view
covering every pixel of the real image once undistorted) and the real camera's image is then
resampled from it (:mod:`mocap.simulate.render.lens_remap`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from calibration import Camera, Rig
from calibration.camera import pixels_to_normalized
from calibration.lens import undistort_normalized

from ...errors import SimulationError
from .face_paint import FACE_PARTS

__all__ = ["ActorLook", "LOOKS", "PART_NAMES", "BODY_PARTS", "painted_parts", "vertex_parts",
           "face_parts", "render_camera", "blender_camera", "scale_camera", "scale_rig", "SENSOR_WIDTH_MM"]

#: The clothing parts of the body, then the painted face's (:mod:`.face_paint`): the parts a
#: look colours, in the order of the colour rows.
BODY_PARTS = ("skin", "shirt", "trousers", "shoes")
PART_NAMES = BODY_PARTS + FACE_PARTS
SENSOR_WIDTH_MM = 36.0

# Anny bone-name prefixes of each clothed part (the rest is skin: head, neck, forearms, hands).
_SHIRT = ("spine", "clavicle", "shoulder01", "upperarm")
_TROUSERS = ("root", "pelvis", "upperleg", "lowerleg")
_SHOES = ("foot", "toe")


@dataclass(frozen=True)
class ActorLook:
    """Colours of an actor, linear RGB in [0, 1]: skin, shirt, trousers, shoes, and the painted
    face (:mod:`.face_paint`): the eyes' white and iris (with the pupil), brows, lips."""

    skin: tuple[float, float, float]
    shirt: tuple[float, float, float]
    trousers: tuple[float, float, float]
    shoes: tuple[float, float, float]
    sclera: tuple[float, float, float] = (0.75, 0.75, 0.72)
    iris: tuple[float, float, float] = (0.02, 0.015, 0.01)
    brow: tuple[float, float, float] = (0.035, 0.025, 0.018)
    lips: tuple[float, float, float] = (0.45, 0.10, 0.09)

    def colors(self) -> np.ndarray:
        """(8, 3) the colours in :data:`PART_NAMES` order."""
        return np.array([getattr(self, name) for name in PART_NAMES], float)


#: A few actors' looks (skin tones from light to dark; contrasting clothes).
LOOKS = (
    ActorLook((0.80, 0.55, 0.42), (0.10, 0.25, 0.60), (0.08, 0.08, 0.10), (0.60, 0.60, 0.60)),
    ActorLook((0.45, 0.27, 0.17), (0.70, 0.12, 0.10), (0.30, 0.35, 0.45), (0.05, 0.05, 0.05)),
    ActorLook((0.62, 0.42, 0.30), (0.85, 0.75, 0.20), (0.20, 0.25, 0.15), (0.40, 0.20, 0.10)),
    ActorLook((0.25, 0.15, 0.10), (0.15, 0.55, 0.25), (0.45, 0.40, 0.35), (0.80, 0.80, 0.80)),
)


def vertex_parts(joint_names: "tuple[str, ...]", weights: np.ndarray) -> np.ndarray:
    """(V,) part index (:data:`PART_NAMES`) of each vertex: that of the bone skinning it most.

    Args:
        joint_names: (N,) the body model's bones (Anny's names). weights: (V, N) skinning
            weights.
    """
    bone_part = np.zeros(len(joint_names), np.int64)
    for part, prefixes in ((1, _SHIRT), (2, _TROUSERS), (3, _SHOES)):
        for j, name in enumerate(joint_names):
            if name.startswith(prefixes):
                bone_part[j] = part
    return bone_part[np.asarray(weights).argmax(1)]


def face_parts(faces: np.ndarray, vpart: np.ndarray) -> np.ndarray:
    """(T,) part of each face (T, 3): the highest part index among its corners, so that
    clothes cover their seams."""
    return vpart[np.asarray(faces)].max(1)


def painted_parts(parts: np.ndarray, paint: np.ndarray) -> np.ndarray:
    """(T,) :data:`PART_NAMES` index of each face: the clothing ``parts`` (T,), with the skin
    faces that ``paint`` (T,) gives a face part (index into :data:`FACE_PARTS`, -1: none)
    showing it instead."""
    parts, paint = np.asarray(parts), np.asarray(paint)
    return np.where((paint >= 0) & (parts == 0), len(BODY_PARTS) + paint, parts)


def scale_camera(cam: Camera, width: int) -> Camera:
    """The same camera with an image ``width`` pixels wide (height in proportion, rounded):
    intrinsics scaled about the pixel corner ``(-0.5, -0.5)``, lens and pose unchanged."""
    W, H = cam.size_wh
    s = width / W
    h = int(round(H * s))
    K = cam.K.copy()
    K[0, 0] *= s
    K[1, 1] *= h / H
    K[0, 2] = (K[0, 2] + 0.5) * s - 0.5
    K[1, 2] = (K[1, 2] + 0.5) * h / H - 0.5
    return Camera(cam.name, (int(width), h), K, cam.dist, cam.R_cam_from_world,
                  cam.t_cam_from_world, cam.model)


def scale_rig(rig: Rig, width: int) -> Rig:
    """Every camera of ``rig`` at ``width`` pixels (:func:`scale_camera`); same order."""
    return Rig([scale_camera(c, width) for c in rig])


def _border_pixels(size_wh, step: float = 2.0) -> np.ndarray:
    """(N, 2) pixel coordinates along the image's outer edge (the pixel corners)."""
    W, H = size_wh
    xs = np.append(np.arange(-0.5, W - 0.5, step), W - 0.5)
    ys = np.append(np.arange(-0.5, H - 0.5, step), H - 0.5)
    return np.concatenate([np.stack([xs, np.full_like(xs, -0.5)], 1),
                           np.stack([xs, np.full_like(xs, H - 0.5)], 1),
                           np.stack([np.full_like(ys, -0.5), ys], 1),
                           np.stack([np.full_like(ys, W - 0.5), ys], 1)])


def render_camera(cam: Camera, margin_px: int = 3) -> tuple[np.ndarray, tuple[int, int]]:
    """The undistorted camera Blender renders for ``cam``.

    Square pixels of the camera's ``fx``; the image centred on the optical axis and large
    enough that every pixel of ``cam``'s image, undistorted, falls inside it with
    ``margin_px`` to spare (so bilinear resampling never reads outside).

    Returns:
        ``(K, (W, H))``: (3, 3) intrinsics with ``cx = (W - 1) / 2``, ``cy = (H - 1) / 2``.
    """
    xy_n = undistort_normalized(pixels_to_normalized(_border_pixels(cam.size_wh), cam.K),
                                cam.dist, cam.model)
    xy_n = xy_n[np.isfinite(xy_n).all(1)]
    f = float(cam.K[0, 0])
    half = np.abs(xy_n).max(0) * f + margin_px + 1.0
    W, H = (2 * np.ceil(half)).astype(int)
    K = np.array([[f, 0.0, (W - 1) / 2], [0.0, f, (H - 1) / 2], [0.0, 0.0, 1.0]])
    return K, (int(W), int(H))


def blender_camera(name: str, K: np.ndarray, R_cam_from_world: np.ndarray,
                   t_cam_from_world: np.ndarray, size_wh) -> dict:
    """Blender's camera (see the module docstring) for a distortion-free OpenCV camera with
    square pixels and no skew.

    Args:
        K: (3, 3) px. R_cam_from_world: (3, 3), t_cam_from_world: (3,) metres, world ->
            OpenCV camera. size_wh: (W, H) px.

    Returns:
        ``{"name", "size_wh", "lens_mm", "sensor_width_mm", "shift_x", "shift_y",
        "matrix_world"}`` (4x4 nested lists, world <- Blender camera).
    """
    K = np.asarray(K, float)
    W, H = (int(v) for v in size_wh)
    if abs(K[0, 0] - K[1, 1]) > 1e-9 * K[0, 0] or abs(K[0, 1]) > 1e-12:
        raise SimulationError(f"camera {name}: a render camera needs square pixels and no skew, "
                         f"found fx={K[0, 0]}, fy={K[1, 1]}, skew={K[0, 1]}")
    R = np.asarray(R_cam_from_world, float)
    centre = -R.T @ np.asarray(t_cam_from_world, float)
    M = np.eye(4)
    M[:3, :3] = R.T @ np.diag([1.0, -1.0, -1.0])
    M[:3, 3] = centre
    big = float(max(W, H))
    return {"name": name, "size_wh": [W, H],
            "lens_mm": float(K[0, 0] * SENSOR_WIDTH_MM / W), "sensor_width_mm": SENSOR_WIDTH_MM,
            "shift_x": float(((W - 1) / 2 - K[0, 2]) / big),
            "shift_y": float((K[1, 2] - (H - 1) / 2) / big),
            "matrix_world": M.tolist()}
