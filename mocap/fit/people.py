"""The fit stage: every person of a take's 3D keypoints fitted with a body model.

:func:`fit_points3d` is the pure stage: keypoints, settings and a body model in, one
:class:`PersonFit` per person out (nothing written). The app layer
(:func:`mocap.app.bodies.fit_people`, for ``mocap run`` and ``mocap fit``) checks ``[fit]``,
loads the body model, fits and writes each person's files (:mod:`mocap.app.fit_files`).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from ..body import BodyMotion, keypoint_layer, rest_height
from ..errors import FitError
from ..body.regressors import KeypointLayer
from ..keypoints import get_format
from ..device import pick_device
from .chunks import fit_chunked, windows
from .data import prepare_data, views_from
from .optimise import fit_sequence
from .params import FitResult
from .runtime import torch_threads

log = logging.getLogger(__name__)

__all__ = ["PersonFit", "body_motion", "fit_points3d", "require_format", "body_points"]


@dataclass
class PersonFit:
    """One person's fit.

    Attributes:
        person: the person's index in the keypoints (``Points3D.xyz[:, person]``).
        body: the fitted :class:`mocap.body.BodyMotion`. height_m: its standing height,
            metres (:func:`mocap.body.rest_height`). report: the stages' reports
            (:attr:`FitResult.report`).
    """

    person: int
    body: BodyMotion
    height_m: float
    report: list

    def summary(self) -> dict:
        """The manifest's account of the fit: ``height_m`` (rounded to 0.1 mm) and per stage
        its name, iterations, why it stopped, seconds and final losses."""
        return {"height_m": round(self.height_m, 4),
                "stages": [{k: r[k] for k in ("stage", "iterations", "stopped", "seconds",
                                              "losses")} for r in self.report]}


def body_motion(layer: KeypointLayer, result: FitResult, fps: float):
    """The :class:`mocap.body.BodyMotion` of a fit (all joints of the model's tree in
    ``poses``, the joints not fitted at zero)."""
    model = layer.model
    F = result.transl.shape[0]
    poses = np.zeros((F, len(model.joint_names), 3))
    poses[:, model.fitted_index[0]] = result.global_orient
    poses[:, model.fitted_index[1:]] = result.body_pose
    return BodyMotion(surface_model_type=model.kind, gender=model.gender,
                      joint_names=model.joint_names, fitted_joints=model.fitted,
                      shape_names=model.shape_names, betas=result.betas, poses=poses,
                      trans=result.transl, fps=float(fps), joints=result.joints,
                      keypoints=result.keypoints, keypoint_format=layer.format,
                      keypoint_names=layer.keypoint_names, observed=result.observed)


def require_format(points) -> None:
    """Raise FitError when the 3D keypoints name no keypoint format (a body cannot be fitted
    to them)."""
    if not points.format:
        raise FitError("the 3D keypoints do not name their keypoint format; cannot fit a body")


def body_points(points):
    """The keypoints a body is fitted to: of a whole-body format (body plus hands), its body
    part (the format's ``body_format``; the hand points are left out: the body models' finger
    joints are not fitted), else ``points`` itself. Same frames and people.

    Args:
        points: :class:`mocap.types.Points3D` in a named format.
    """
    body = get_format(points.format).body_format
    if not body:
        return points
    idx = [points.joint_names.index(n) for n in get_format(body).joint_names]
    pick = lambda a: None if a is None else a[:, :, idx]  # noqa: E731
    return points.replace(xyz=points.xyz[:, :, idx], conf=points.conf[:, :, idx],
                          joint_names=tuple(points.joint_names[i] for i in idx), format=body,
                          views_used=pick(points.views_used),
                          reproj_err_px=pick(points.reproj_err_px))


def _extra_weights(settings, use_views: bool) -> dict:
    """The weights ``[fit]`` adds to the keypoint stages (reprojection, floor; 0: left out)."""
    return {k: w for k, w in (("reprojection", settings.reprojection_weight if use_views
                               else 0.0), ("floor", settings.floor_weight)) if w}


def _seen(points, p: int) -> bool:
    """Whether person ``p`` has a finite keypoint with a positive confidence."""
    return bool((np.isfinite(points.xyz[:, p]).all(-1) & (points.conf[:, p] > 0)).any())


def _chunked(settings, frames: int) -> bool:
    """Whether a take of ``frames`` is fitted in windows (``[fit] chunk_frames``)."""
    chunk = settings.chunk_frames
    if chunk and settings.chunk_overlap_frames >= chunk:
        raise FitError(f"[fit] chunk_overlap_frames must be below chunk_frames "
                       f"({chunk}), found {settings.chunk_overlap_frames}")
    return bool(chunk) and frames > chunk


def _every_window_observed(xyz: np.ndarray, conf: np.ndarray, settings) -> bool:
    """Whether each window of ``[fit] chunk_frames`` holds a frame where the person is seen
    (xyz (F, K, 3) metres, conf (F, K)); a window with none cannot be fitted alone."""
    seen = (np.isfinite(xyz).all(-1) & (conf > 0)).any(-1)
    return all(seen[s:e].any() for s, e in windows(len(xyz), settings.chunk_frames,
                                                   settings.chunk_overlap_frames))


def _fit_person(layer: KeypointLayer, points, p: int, settings, extra: dict,
                views) -> PersonFit:
    """The fit of person ``p`` (``views``: their 2D detections, or None)."""
    xyz, conf = points.xyz[:, p], points.conf[:, p]
    t0 = time.perf_counter()
    chunked = _chunked(settings, len(xyz))
    if chunked and not _every_window_observed(xyz, conf, settings):
        log.warning("person %d is not seen for a whole window of [fit] chunk_frames = %d: "
                    "fitted over the whole take at once", p, settings.chunk_frames)
        chunked = False
    if chunked:
        result = fit_chunked(layer, xyz, conf, points.fps, views, settings.chunk_frames,
                             settings.chunk_overlap_frames, extra, settings.iteration_scale,
                             parts_once=settings.parts_once)
    else:
        data = prepare_data(layer, xyz, conf, points.fps, views, parts_once=settings.parts_once)
        result = fit_sequence(layer, data, extra_weights=extra,
                              iteration_scale=settings.iteration_scale)
    body = body_motion(layer, result, points.fps)
    height = rest_height(layer.model, body.betas)
    log.info("person %d: %s body fitted to %d frames in %.1f s, height %.3f m", p,
             layer.model.kind, body.num_frames, time.perf_counter() - t0, height)
    return PersonFit(person=p, body=body, height_m=height, report=result.report)


def fit_points3d(points, settings, model, detections=None, rig=None) -> list[PersonFit]:
    """Fit a body to every person seen in ``points`` (the pure stage: nothing is written).

    Args:
        points: :class:`mocap.types.Points3D` (filtered), in a named keypoint format.
        settings: ``[fit]`` (:class:`mocap.settings.FitSettings`, its values checked when it
            was built). model: the body model (:func:`mocap.body.load_body_model`).
        detections, rig: the 2D detections and cameras (same order), for the reprojection
            term (used when both are given and ``reprojection_weight > 0``).
    Returns:
        one :class:`PersonFit` per person seen, in person order.
    Raises:
        FitError: the keypoints name no format, or a person cannot be placed.
    """
    require_format(points)
    points = body_points(points)
    use_views = settings.reprojection_weight > 0 and detections is not None and rig is not None
    extra = _extra_weights(settings, use_views)
    fits = []
    with torch_threads(settings.threads):
        device = pick_device(settings.device, FitError, "[fit] device")
        layer = keypoint_layer(model, points.format, device=device)
        for p in range(points.xyz.shape[1]):
            if not _seen(points, p):
                continue
            where = "cpu" if _chunked(settings, len(points.xyz)) else device   # per window
            views = (views_from(detections, rig, p, points.format, where, layer.dtype)
                     if use_views else None)
            fits.append(_fit_person(layer, points, p, settings, extra, views))
    return fits
