"""Render a calibration board through virtual cameras: images with known truth.

For tests and benchmarks. Each output pixel is split into ``supersample`` x ``supersample``
sub-pixels; each sub-pixel's ray is found by inverting the camera's full lens model
(:func:`calibration.lens.undistort`, so distortion is exact, pinhole or fisheye), intersected with
the board plane, and the printed board (:func:`calibration.boards.board_image`, drawn by
``cv2.aruco``) is sampled there; the sub-pixels are then averaged. Optional Gaussian blur,
motion blur, sensor noise, lighting changes and occluding rectangles (partial views) follow.
The true corner positions are the camera's projection of :attr:`BoardSpec.object_points`.

Board poses are ``T_world_from_board`` (4, 4): ``X_world = R @ X_board + t``, metres, board
frame as in :mod:`calibration.boards`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from scipy.spatial.transform import Rotation

from calibration.boards.spec import BoardSpec, board_image
from calibration.camera import Camera, pixels_to_normalized
from calibration.errors import VideoError
from calibration.lens import PINHOLE, undistort
from calibration.rig import Rig


@dataclass(frozen=True)
class RenderStyle:
    """How a rendered view is degraded (all optional).

    Attributes:
        supersample: sub-pixels per pixel along each axis (anti-aliasing).
        blur_sigma_px: Gaussian blur (focus), standard deviation in pixels.
        motion_blur_px: length of a linear motion-blur streak in pixels (0: none).
        noise_std: Gaussian sensor noise, standard deviation in grey levels.
        occluders: number of grey rectangles drawn over the board (partial views).
        background: grey level behind the board.
        contrast: (low, high) range of a random gain on the board's contrast.
        px_per_square: resolution of the board texture.
    """

    supersample: int = 2
    blur_sigma_px: float = 0.0
    motion_blur_px: float = 0.0
    noise_std: float = 0.0
    occluders: int = 0
    background: int = 110
    contrast: tuple[float, float] = (1.0, 1.0)
    px_per_square: int = 64


def pose_matrix(R: np.ndarray, t: np.ndarray) -> np.ndarray:
    """(4, 4) homogeneous transform of a rotation (3, 3) and a translation (3,)."""
    T = np.eye(4)
    T[:3, :3] = R
    T[:3, 3] = t
    return T


def camera_pose(camera: Camera) -> np.ndarray:
    """(4, 4) ``T_cam_from_world`` of a camera."""
    return pose_matrix(camera.R_cam_from_world, camera.t_cam_from_world)


_RAY_CACHE: dict[tuple, np.ndarray] = {}
_RAY_CACHE_SIZE = 8


def pixel_rays(camera: Camera, supersample: int = 1) -> np.ndarray:
    """Camera-frame rays ``(x_n, y_n, 1)`` of every sub-pixel centre.

    The rays depend only on the intrinsics; the last few are cached (read-only arrays).

    Returns:
        (H * s, W * s, 3) float64; NaN where the lens model cannot be inverted.
    """
    key = (camera.size_wh, camera.model, camera.K.tobytes(), camera.dist.tobytes(), int(supersample))
    if key not in _RAY_CACHE:
        if len(_RAY_CACHE) >= _RAY_CACHE_SIZE:
            _RAY_CACHE.pop(next(iter(_RAY_CACHE)))
        rays = _pixel_rays(camera, supersample).astype(np.float32)
        rays.setflags(write=False)
        _RAY_CACHE[key] = rays
    return _RAY_CACHE[key]


def _pixel_rays(camera: Camera, supersample: int) -> np.ndarray:
    w, h = camera.size_wh
    s = int(supersample)
    u = (np.arange(w * s) + 0.5) / s - 0.5
    v = (np.arange(h * s) + 0.5) / s - 0.5
    uu, vv = np.meshgrid(u, v)
    xy_px = np.stack([uu, vv], axis=-1)
    guess = None
    if camera.model == PINHOLE:
        # OpenCV's five fixed-point iterations make a close first guess; Newton polishes it.
        guess = cv2.undistortPoints(xy_px.reshape(-1, 1, 2), camera.K, camera.dist)
        guess = guess.reshape(xy_px.shape).astype(np.float64)
    xy = undistort(pixels_to_normalized(xy_px, camera.K), camera.dist, camera.model, guess)
    return np.concatenate([xy, np.ones(xy.shape[:-1] + (1,))], axis=-1)


def board_corners_px(camera: Camera, spec: BoardSpec, T_world_from_board: np.ndarray) -> np.ndarray:
    """(N, 2) true pixel positions of the board's corners (NaN behind the camera or where the
    board faces away from it)."""
    X = spec.object_points @ T_world_from_board[:3, :3].T + T_world_from_board[:3, 3]
    xy = camera.project(X)
    if not board_faces_camera(camera, T_world_from_board):
        xy[:] = np.nan
    return xy


def board_faces_camera(camera: Camera, T_world_from_board: np.ndarray) -> bool:
    """Whether the printed side (the side opposite the board's +z) faces the camera."""
    normal_out = -T_world_from_board[:3, 2]
    return bool(normal_out @ (camera.center - T_world_from_board[:3, 3]) > 0)


def _motion_kernel(length_px: float, angle_rad: float) -> np.ndarray:
    n = int(np.ceil(length_px)) | 1
    k = np.zeros((n, n), np.float32)
    c = n // 2
    d = np.array([np.cos(angle_rad), np.sin(angle_rad)])
    for a in np.linspace(-length_px / 2, length_px / 2, 4 * n):
        x, y = c + a * d
        k[int(round(y)), int(round(x))] += 1.0
    return k / k.sum()


def render_board(
    camera: Camera,
    spec: BoardSpec,
    T_world_from_board: np.ndarray,
    style: RenderStyle = RenderStyle(),
    rng: np.random.Generator | None = None,
    rays: np.ndarray | None = None,
    texture: tuple[np.ndarray, float] | None = None,
) -> np.ndarray:
    """One grey image of the board seen by ``camera``.

    Args:
        camera: the virtual camera (any model).
        spec: the board.
        T_world_from_board: (4, 4) board pose, metres.
        style: degradations.
        rng: random generator for noise, contrast and occluders (None: a fixed seed 0).
        rays: :func:`pixel_rays` of ``camera`` at ``style.supersample`` (cache it across frames).
        texture: :func:`board_image` of ``spec`` at ``style.px_per_square`` (cache it).

    Returns:
        (H, W) uint8 image.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    s = int(style.supersample)
    if rays is None:
        rays = pixel_rays(camera, s)
    tex, margin = board_image(spec, style.px_per_square) if texture is None else texture
    lo, hi = sorted(style.contrast)
    gain = rng.uniform(lo, hi)
    w, h = camera.size_wh
    box = _board_box(camera, spec, T_world_from_board)
    if box is not None:
        img = _warp_board(camera, spec, T_world_from_board, rays, tex, margin, style, gain, box)
    else:  # nothing of the board to draw: skip the per-pixel work
        img = np.full((h, w), float(style.background), np.float32)
    img = _occlude(img, camera, spec, T_world_from_board, style, rng)
    if style.blur_sigma_px > 0:
        img = cv2.GaussianBlur(img, (0, 0), style.blur_sigma_px)
    if style.motion_blur_px > 0:
        img = cv2.filter2D(img, -1, _motion_kernel(style.motion_blur_px, rng.uniform(0, np.pi)))
    if style.noise_std > 0:
        img = img + rng.normal(0.0, style.noise_std, img.shape).astype(np.float32)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def _board_box(camera: Camera, spec: BoardSpec, T_world_from_board: np.ndarray) -> tuple[int, int, int, int] | None:
    """Pixel box ``(x0, y0, x1, y1)`` (inclusive, clipped to the image, padded) that holds the
    printed board and its white margin, or None when none of it can be seen."""
    if not board_faces_camera(camera, T_world_from_board):
        return None
    w, h = spec.size_m
    m = spec.square_length_m
    u, v = np.meshgrid(np.linspace(-m, w + m, 17), np.linspace(-m, h + m, 17))
    X = np.stack([u.ravel(), v.ravel(), np.zeros(u.size)], axis=1)
    xy = camera.project(X @ T_world_from_board[:3, :3].T + T_world_from_board[:3, 3])
    W, H = camera.size_wh
    ok = np.all(np.isfinite(xy), axis=1) & (xy[:, 0] > -W) & (xy[:, 0] < 2 * W) \
        & (xy[:, 1] > -H) & (xy[:, 1] < 2 * H)
    if not ok.any():
        return None
    if not ok.all():  # part of the board folds behind the lens model: draw it all
        return (0, 0, W - 1, H - 1)
    lo = np.floor(xy.min(axis=0)).astype(int) - 3
    hi = np.ceil(xy.max(axis=0)).astype(int) + 3
    x0, y0 = max(lo[0], 0), max(lo[1], 0)
    x1, y1 = min(hi[0], W - 1), min(hi[1], H - 1)
    if x0 > x1 or y0 > y1:
        return None
    return (int(x0), int(y0), int(x1), int(y1))


def _warp_board(camera, spec, T_world_from_board, rays, tex, margin, style, gain, box) -> np.ndarray:
    """The board over the background, (H, W) float32 grey levels: sampled per sub-pixel
    inside ``box`` (see :func:`_board_box`) and averaged."""
    s = int(style.supersample)
    x0, y0, x1, y1 = box
    r = rays[y0 * s:(y1 + 1) * s, x0 * s:(x1 + 1) * s]
    T = camera_pose(camera) @ T_world_from_board  # cam_from_board
    R, t = T[:3, :3].astype(np.float32), T[:3, 3].astype(np.float32)
    # rows: R^T d, written out (a (N, 3) @ (3, 3) product would wake BLAS threads for nothing)
    A = r[..., 0:1] * R[0] + r[..., 1:2] * R[1] + r[..., 2:3] * R[2]
    b = R.T @ t
    with np.errstate(all="ignore"):
        lam = b[2] / A[..., 2]
        ok = np.isfinite(lam) & (lam > 0)
        ppm = np.float32(style.px_per_square / spec.square_length_m)
        off = np.float32(margin - 0.5)
        mx = np.where(ok, (lam * A[..., 0] - b[0]) * ppm + off, np.float32(-1e6))
        my = np.where(ok, (lam * A[..., 1] - b[1]) * ppm + off, np.float32(-1e6))
    board = (tex.astype(np.float32) - 128.0) * np.float32(gain) + 128.0
    roi = cv2.remap(board, mx.astype(np.float32), my.astype(np.float32), cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_CONSTANT, borderValue=float(style.background))
    if s > 1:
        roi = cv2.resize(roi, (x1 - x0 + 1, y1 - y0 + 1), interpolation=cv2.INTER_AREA)
    w, h = camera.size_wh
    img = np.full((h, w), float(style.background), np.float32)
    img[y0:y1 + 1, x0:x1 + 1] = roi
    return img


def _occlude(img, camera, spec, T_world_from_board, style, rng) -> np.ndarray:
    """Draw ``style.occluders`` grey rectangles, each over about a quarter of the board."""
    if style.occluders <= 0:
        return img
    xy = board_corners_px(camera, spec, T_world_from_board)
    xy = xy[np.all(np.isfinite(xy), axis=1)]
    if len(xy) < 2:
        return img
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    size = hi - lo
    out = img.copy()
    for _ in range(style.occluders):
        wh = size * rng.uniform(0.25, 0.45, 2)
        p0 = lo + rng.uniform(0, 1, 2) * (size - wh)
        p1 = p0 + wh
        cv2.rectangle(out, tuple(int(v) for v in p0), tuple(int(v) for v in p1),
                      float(rng.uniform(40, 200)), thickness=-1)
    return out


def random_board_poses(
    rig: Rig,
    spec: BoardSpec,
    n: int,
    target_m: Sequence[float],
    extent_m: Sequence[float] = (0.6, 0.6, 0.4),
    tilt_deg: float = 35.0,
    roll_deg: float = 25.0,
    face: str = "rig",
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Board poses as someone waving a board in front of a rig would make them.

    The board's centre is drawn uniformly in a box of half-sizes ``extent_m`` around
    ``target_m`` (world, metres); its printed side faces the mean of the camera centres
    (``face="rig"``) or a randomly chosen camera (``face="camera"``), then tilts by up to
    ``tilt_deg`` and turns in its plane by up to ``roll_deg``.

    Returns:
        (n, 4, 4) ``T_world_from_board``.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    centres = np.stack([c.center for c in rig])
    out = np.empty((n, 4, 4))
    half = np.array([spec.size_m[0] / 2, spec.size_m[1] / 2, 0.0])
    for i in range(n):
        centre = np.asarray(target_m, float) + rng.uniform(-1, 1, 3) * np.asarray(extent_m, float)
        eye = centres.mean(axis=0) if face == "rig" else centres[rng.integers(len(centres))]
        # A camera at the eye looking at the board sees it upright: board axes = its axes.
        look = Camera.look_at("v", (2, 2), np.eye(3), np.zeros(0), eye, centre)
        R = look.R_cam_from_world.T  # world_from_board, board axes = the viewer's axes
        tilt = np.radians(tilt_deg) * rng.uniform(-1, 1, 2)
        roll = np.radians(roll_deg) * rng.uniform(-1, 1)
        R = R @ Rotation.from_euler("xyz", [tilt[0], tilt[1], roll]).as_matrix()
        out[i] = pose_matrix(R, centre - R @ half)
    return out


@dataclass(frozen=True)
class RenderedTake:
    """Rendered board views of a rig and their truth.

    Attributes:
        images: (C, F, H, W) uint8, per camera in rig order (all cameras of equal size) — or a
            list of (F, H_c, W_c) arrays when sizes differ.
        corners_px: (C, F, N, 2) true corner pixels, NaN where not visible.
        poses: (F, 4, 4) ``T_world_from_board``.
    """

    images: list
    corners_px: np.ndarray
    poses: np.ndarray


def render_take(
    rig: Rig,
    spec: BoardSpec,
    poses: np.ndarray,
    style: RenderStyle = RenderStyle(),
    seed: int = 0,
    styles: dict[tuple[int, int], RenderStyle] | None = None,
) -> RenderedTake:
    """Render every board pose through every camera of ``rig``.

    Args:
        rig: virtual cameras.
        spec: the board.
        poses: (F, 4, 4) ``T_world_from_board``.
        style: degradations for every view.
        seed: random seed (noise, contrast, occluders).
        styles: per (camera index, frame index) overrides of ``style``.
    """
    rng = np.random.default_rng(seed)
    texture = board_image(spec, style.px_per_square)
    images, corners = [], []
    for c, cam in enumerate(rig):
        ray_cache: dict[int, np.ndarray] = {}
        frames, cxy = [], []
        for f, T in enumerate(poses):
            st = (styles or {}).get((c, f), style)
            if st.supersample not in ray_cache:
                ray_cache[st.supersample] = pixel_rays(cam, st.supersample)
            tex = texture if st.px_per_square == style.px_per_square else None
            frames.append(render_board(cam, spec, T, st, rng, ray_cache[st.supersample], tex))
            xy = board_corners_px(cam, spec, T)
            w, h = cam.size_wh
            inside = (xy[:, 0] >= 0) & (xy[:, 0] <= w - 1) & (xy[:, 1] >= 0) & (xy[:, 1] <= h - 1)
            xy[~inside] = np.nan
            cxy.append(xy)
        images.append(np.stack(frames))
        corners.append(np.stack(cxy))
    return RenderedTake(images=images, corners_px=np.stack(corners), poses=np.asarray(poses))


def write_video(path: str | os.PathLike, frames: np.ndarray, fps: float = 30.0) -> Path:
    """Write (F, H, W) uint8 grey frames as a lossless-enough MJPG ``.avi`` (or ``.mp4``)."""
    p = Path(path)
    fourcc = cv2.VideoWriter_fourcc(*("mp4v" if p.suffix.lower() == ".mp4" else "MJPG"))
    h, w = frames.shape[1:3]
    writer = cv2.VideoWriter(str(p), fourcc, float(fps), (w, h), True)
    if not writer.isOpened():
        raise VideoError(p, "expected a writable video (codec MJPG/mp4v), found none")
    try:
        for fr in frames:
            writer.write(cv2.cvtColor(fr, cv2.COLOR_GRAY2BGR))
    finally:
        writer.release()
    return p
