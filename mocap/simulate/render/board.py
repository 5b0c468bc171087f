"""A calibration board carried through the rendered studio: the printed board
(:func:`calibration.boards.board_image`) as a textured quad in the same Blender scene (floor,
lights, cameras), moved through the capture volume, the lens applied afterwards as for the
actors. With :mod:`mocap.app.render_session` this makes a studio day: calibrate from the
board, capture the actors, score both against the truth."""
from __future__ import annotations

import numpy as np

from scipy.spatial.transform import Rotation

from calibration import Camera, Rig
from calibration.boards.spec import BoardSpec, board_image
from calibration.render import board_corners_px, pose_matrix

from ...errors import SimulationError
from .driver import run_blender
from .take import RenderSettings, distorted_images, render_job

__all__ = ["board_quad", "carried_board_poses", "floor_board_pose", "render_board_frames"]


def board_quad(spec: BoardSpec, px_per_square: int, margin_px: float,
               texture_shape: tuple) -> np.ndarray:
    """(4, 3) corners of the texture of :func:`board_image` in the board frame, metres:
    top-left, top-right, bottom-right, bottom-left (the texture's pixel edges; the board's
    origin is its outer top-left corner, ``margin_px`` pixels in)."""
    ppm = px_per_square / spec.square_length_m
    h, w = texture_shape
    x0, y0 = -margin_px / ppm, -margin_px / ppm
    x1, y1 = (w - margin_px) / ppm, (h - margin_px) / ppm
    return np.array([[x0, y0, 0.0], [x1, y0, 0.0], [x1, y1, 0.0], [x0, y1, 0.0]])


def carried_board_poses(rig: Rig, spec: BoardSpec, frames: int, seed: int = 0) -> np.ndarray:
    """(F, 4, 4) ``T_world_from_board``: a board carried around the middle of the volume
    (centre within 0.8 m sideways and 0.4 m up or down of (0, 0, 1.2) m), held up facing two
    neighbouring cameras at a time (the midpoint of their centres; pairs in turn, so every
    camera shares views with its neighbours), tilted up to 10 degrees, turned in its plane up
    to 20 degrees."""
    rng = np.random.default_rng(seed)
    centres = np.stack([c.center for c in rig])
    C = len(centres)
    out = np.empty((frames, 4, 4))
    half = np.array([spec.size_m[0] / 2, spec.size_m[1] / 2, 0.0])
    for i in range(frames):
        k = i % C
        eye = (centres[k] + centres[(k + 1) % C]) / 2 if C > 1 else centres[0]
        centre = np.array([0.0, 0.0, 1.2]) + rng.uniform(-1, 1, 3) * np.array([0.8, 0.8, 0.4])
        look = Camera.look_at("v", (2, 2), np.eye(3), np.zeros(0), eye, centre)
        tilt = np.radians(10.0) * rng.uniform(-1, 1, 2)
        roll = np.radians(20.0) * rng.uniform(-1, 1)
        R = look.R_cam_from_world.T @ Rotation.from_euler("xyz", [*tilt, roll]).as_matrix()
        out[i] = pose_matrix(R, centre - R @ half)
    return out


def floor_board_pose(spec: BoardSpec, lift_m: float = 0.002) -> np.ndarray:
    """(4, 4) ``T_world_from_board`` of the board lying on the floor, printed face up, centred
    on the world origin, its x axis along the world's (the board frame's z points into the
    floor, as :mod:`calibration.world` expects of a floor board); ``lift_m`` above the floor
    so that the two surfaces do not fight in the render."""
    w, h = spec.size_m
    return pose_matrix(np.diag([1.0, -1.0, -1.0]), np.array([-w / 2, h / 2, lift_m]))


def render_board_frames(rig: Rig, spec: BoardSpec, poses: np.ndarray,
                        settings: RenderSettings = RenderSettings(),
                        px_per_square: int = 96) -> tuple[list, np.ndarray]:
    """Render the board at ``poses`` (F, 4, 4) through every camera of ``rig``.

    Returns:
        ``(images, corners_px)``: per camera (F, H, W, 3) uint8 RGB; (C, F, N, 2) true corner
        pixels (OpenCV convention, lens included), NaN outside the image.
    """
    poses = np.asarray(poses, float)
    if poses.ndim != 3 or poses.shape[1:] != (4, 4):
        raise SimulationError(f"board poses: expected (F, 4, 4), found {poses.shape}")
    tex, margin = board_image(spec, px_per_square)
    F = len(poses)
    arrays = {"faces": np.zeros((0, 3), np.int32), "face_part": np.zeros(0, np.int32),
              "board_texture": tex.astype(np.uint8),
              "board_quad": board_quad(spec, px_per_square, margin, tex.shape),
              "board_poses": poses}
    job, Ks = render_job(rig, F, settings, 0)
    job["board"] = True
    folder = run_blender(arrays, job, use_cache=settings.use_cache)
    images, _ = distorted_images(rig, folder, Ks, F, False)
    corners = np.stack([np.stack([board_corners_px(cam, spec, T) for T in poses])
                        for cam in rig])
    size = np.array([c.size_wh for c in rig], float)[:, None, None]
    with np.errstate(invalid="ignore"):
        inside = ((corners >= 0) & (corners <= size - 1)).all(-1)
    corners[~inside] = np.nan
    return images, corners
