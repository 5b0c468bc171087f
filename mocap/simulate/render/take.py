"""Rendered takes: body-model actors (:mod:`mocap.simulate.bodymodel`) dressed
(:mod:`.scene`), rendered by Blender through every camera of a rig (:mod:`.driver`), the
lens applied afterwards (:mod:`.lens_remap`), with the ground truth a benchmark needs."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Literal

import cv2
import numpy as np
import torch

from calibration import Rig
from calibration.camera import project_points
from calibration.rotations import rotmat_to_rotvec

from ...body.model import BodyModel, posed_vertices, rest_height
from ...errors import BodyModelError, SimulationError
from ...keypoints import format_names
from ..bodymodel import BodyActor, animate_body, body_keypoints
from .driver import run_blender
from .lens_remap import apply_lens, lens_maps
from .face_paint import face_paint
from .scene import (LOOKS, ActorLook, blender_camera, face_parts, painted_parts, render_camera,
                    vertex_parts)
from .visibility import keypoint_visibility

log = logging.getLogger(__name__)

__all__ = ["RenderSettings", "RenderedTake", "render_take", "animate_actors",
           "keypoint_truth", "take_truth", "project_truth", "render_job", "distorted_images"]


@dataclass(frozen=True)
class RenderSettings:
    """How a take is rendered.

    Attributes:
        engine: ``"workbench"`` (fast, flat studio lighting; tests) or ``"cycles"`` (path
            traced with ``samples`` samples per pixel and OpenImageDenoise; benchmarks).
        lighting: ``"studio"``; ``"flat"`` (Workbench only): unlit material colours on a
            black world (a white actor's pixel values are its coverage: silhouette checks).
        antialias: Workbench's 8-sample anti-aliasing (it moves edges by up to 0.4 px
            vertically, measured; off, each pixel shows its centre: exact silhouettes).
        floor: render the floor (a 12 m square). background: also render each camera's
            view without actors (:attr:`RenderedTake.backgrounds`).
        occlusion_tolerance_m: a keypoint is hidden when an actor's surface lies more than
            this in front of it along the camera's ray (joints lie inside the body; computed
            from the posed meshes by :mod:`.visibility`, not by Blender, so the images do
            not depend on where the truth places keypoints).
        margin_px: spare pixels around the undistorted render.
        face: paint the face (eyes, brows, lips: :mod:`.face_paint`) so that a detector can
            read it; False renders the plain skin of earlier takes.
        use_cache: reuse an identical earlier render (``<mocap cache>/renders``).
    """

    engine: Literal["workbench", "cycles"] = "workbench"
    samples: int = 16
    lighting: Literal["studio", "flat"] = "studio"
    antialias: bool = True
    floor: bool = True
    background: bool = False
    occlusion_tolerance_m: float = 0.12
    margin_px: int = 3
    face: bool = True
    use_cache: bool = True


@dataclass
class RenderedTake:
    """A rendered take.

    Attributes:
        rig: the cameras the images follow (lens included). fps: frame rate.
        images: per camera, (F, H, W, 3) uint8 RGB. backgrounds: per camera (H, W, 3) uint8
            RGB without actors, or None.
        vertices: per actor, (F, V, 3) float32 world metres; faces (T, 3).
        truth: the ground truth (written to ``gt.npz``; see :func:`render_take`).
    """

    rig: Rig
    fps: float
    images: list
    backgrounds: "list | None"
    vertices: list
    faces: np.ndarray
    truth: dict = field(default_factory=dict)


def animate_actors(model: BodyModel, actors, frames: int, fps: float) -> list:
    """:func:`animate_body` of each actor plus its posed mesh ``vertices`` (F, V, 3)."""
    anims = []
    for a in actors:
        an = animate_body(model, a, frames, fps)
        with torch.no_grad():
            an["vertices"] = posed_vertices(model, torch.as_tensor(an["betas"]),
                                            torch.as_tensor(an["rotations"]),
                                            torch.as_tensor(an["transl"])).numpy()
        anims.append(an)
    return anims


def keypoint_truth(model: BodyModel, anims: list, formats=None) -> dict:
    """Format name -> (F, P, K, 3) world keypoints, metres, for each of ``formats`` (None:
    every keypoint format) that the body model can regress."""
    out = {}
    for fmt in formats or format_names():
        try:
            out[fmt] = np.stack([body_keypoints(model, an, fmt) for an in anims], 1)
        except BodyModelError:
            log.debug("body model %s cannot place format %s", model.kind, fmt)
    return out


def project_truth(rig: Rig, xyz: np.ndarray) -> np.ndarray:
    """(C, ...,  2) pixels of world points (..., 3) in each camera, lens included."""
    return np.stack([project_points(xyz, c.K, c.dist, c.R_cam_from_world, c.t_cam_from_world,
                                    c.model)[0] for c in rig])


def _inside(rig: Rig, xy: np.ndarray) -> np.ndarray:
    """(C, ...) whether each projection (C, ..., 2) lies inside its camera's image."""
    size = np.array([c.size_wh for c in rig], float)
    size = size.reshape((len(rig),) + (1,) * (xy.ndim - 2) + (2,))
    with np.errstate(invalid="ignore"):
        return ((xy >= -0.5) & (xy <= size - 0.5)).all(-1)


def render_job(rig: Rig, frames: int, settings: RenderSettings,
               actors: int) -> tuple[dict, list]:
    """The Blender job (cameras, engine) and each camera's render intrinsics."""
    specs, Ks = [], []
    for cam in rig:
        K, size = render_camera(cam, settings.margin_px)
        specs.append(blender_camera(cam.name, K, cam.R_cam_from_world, cam.t_cam_from_world,
                                    size))
        Ks.append(K)
    job = {"cameras": specs, "frames": list(range(frames)), "engine": settings.engine,
           "samples": int(settings.samples) if settings.engine == "cycles" else 0,
           "lighting": settings.lighting,
           "aa": "8" if settings.antialias else "OFF",
           "floor": bool(settings.floor),
           "floor_size_m": 12.0, "background": bool(settings.background),
           "actors": actors}
    return job, Ks


def _read_png(path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise SimulationError(f"{path}: expected a rendered PNG, found none or unreadable")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def distorted_images(rig: Rig, folder, Ks: list, frames: int, background: bool):
    """Each camera's frames (F, H, W, 3) and background, lens applied."""
    images, backs = [], []
    for cam, K in zip(rig, Ks):
        maps = lens_maps(cam, K)
        images.append(np.stack([apply_lens(_read_png(folder / cam.name / f"{f:06d}.png"), maps)
                                for f in range(frames)]))
        if background:
            backs.append(apply_lens(_read_png(folder / cam.name / "background.png"), maps))
    return images, (backs if background else None)


def take_truth(model: BodyModel, rig: Rig, anims: list, formats=None,
               occlusion_tolerance_m: float = 0.12) -> dict:
    """The ground-truth arrays of animated actors (:func:`animate_actors`) seen by ``rig``
    (see :func:`render_take`), computed without Blender: keypoints of every format the model
    places (``formats``: None for all), their projections and visibility (ray cast against
    the posed meshes, :func:`~.visibility.keypoint_visibility`).

    Raises:
        SimulationError: the model places none of ``formats``.
    """
    kp = keypoint_truth(model, anims, formats)
    if not kp:
        raise SimulationError(f"render_take: the {model.kind} model places none of the "
                              f"formats {formats}")
    vis = keypoint_visibility(rig, [an["vertices"] for an in anims],
                              np.asarray(model.faces, np.int64),
                              np.concatenate(list(kp.values()), 2), occlusion_tolerance_m)
    return _truth(model, rig, anims, kp, vis)


def _truth(model: BodyModel, rig: Rig, anims: list, kp: dict, vis: np.ndarray) -> dict:
    """The ground-truth arrays (see :func:`render_take`); vis: (C, F, P, sum of K) over the
    formats of ``kp`` in order."""
    rot = np.stack([an["rotations"] for an in anims], 1)                   # (F, P, Jb, 3, 3)
    rv = rotmat_to_rotvec(rot)
    betas = np.stack([an["betas"] for an in anims])
    t = dict(joints=np.stack([an["joints"] for an in anims], 1), local_R=rot[:, :, 1:],
             root_R=rot[:, :, 0], root_pos=np.stack([an["joints"][:, 0] for an in anims], 1),
             betas=betas, heights_m=np.array([rest_height(model, b) for b in betas]),
             global_orient=rv[:, :, 0], body_pose=rv[:, :, 1:],
             transl=np.stack([an["transl"] for an in anims], 1),
             surface_model_type=np.array(model.kind), fitted_joints=np.array(model.fitted),
             shape_names=np.array(model.shape_names),
             camera_names=np.array(rig.names))
    start = 0
    for fmt, xyz in kp.items():
        K = xyz.shape[2]
        xy = project_truth(rig, xyz)
        t[f"xyz_{fmt}"] = xyz
        t[f"xy_{fmt}"] = xy
        t[f"visible_{fmt}"] = vis[..., start:start + K] & _inside(rig, xy)
        start += K
    return t


def render_take(rig: Rig, model: BodyModel, actors, frames: int, fps: float = 30.0,
                settings: RenderSettings = RenderSettings(),
                looks: "tuple[ActorLook, ...] | None" = None,
                formats: "tuple[str, ...] | None" = None) -> RenderedTake:
    """Render body-model ``actors`` (:class:`BodyActor`) through every camera of ``rig``.

    ``truth`` holds: ``joints`` (F, P, Jb, 3) fitted joints, ``local_R`` (F, P, Jb-1, 3, 3)
    and ``root_R`` (F, P, 3, 3), ``global_orient``/``body_pose``/``transl`` (axis-angle,
    metres), ``betas`` (P, B), ``heights_m`` (P,); and for every format the body model
    regresses: ``xyz_<fmt>`` (F, P, K, 3) world metres, ``xy_<fmt>`` (C, F, P, K, 2) pixels
    (OpenCV, lens included) and ``visible_<fmt>`` (C, F, P, K): inside the image and not
    hidden by any actor's surface.

    Raises:
        SimulationError: bad arguments. BlenderMissingError: no Blender environment.
        RenderError: Blender failed.
    """
    actors = tuple(actors)
    if not actors or not all(isinstance(a, BodyActor) for a in actors):
        raise SimulationError(f"render_take: expected one or more BodyActor, found {actors!r}")
    if frames < 1:
        raise SimulationError(f"render_take: expected frames >= 1, found {frames}")
    looks = tuple(looks or LOOKS)
    anims = animate_actors(model, actors, frames, fps)
    truth = take_truth(model, rig, anims, formats, settings.occlusion_tolerance_m)
    faces = np.asarray(model.faces, np.int64)
    weights = np.asarray(model.weights.detach().numpy() if hasattr(model.weights, "detach")
                         else model.weights)
    parts = face_parts(faces, vertex_parts(model.joint_names, weights))
    if settings.face:
        parts = painted_parts(parts, face_paint(model, parts))
    arrays = {"faces": faces.astype(np.int32), "face_part": parts.astype(np.int32)}
    for p, an in enumerate(anims):
        arrays[f"verts_{p}"] = an["vertices"].astype(np.float32)
        arrays[f"colors_{p}"] = looks[p % len(looks)].colors()
    job, Ks = render_job(rig, frames, settings, len(actors))
    folder = run_blender(arrays, job, use_cache=settings.use_cache)
    images, backs = distorted_images(rig, folder, Ks, frames, settings.background)
    return RenderedTake(rig=rig, fps=float(fps), images=images, backgrounds=backs,
                        vertices=[arrays[f"verts_{p}"] for p in range(len(actors))],
                        faces=faces, truth=truth)
