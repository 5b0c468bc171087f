"""Triangulation of 2D keypoints seen by calibrated cameras.

Conventions: world frame right-handed, Z up, metres; camera frame OpenCV, ``X_cam = R X + t``;
pixels with (0, 0) the centre of the top-left pixel. ``xy_n`` are undistorted *normalised*
image coordinates ``(x / z, y / z)``: lens distortion and intrinsics are removed before any
linear solve.

The algebraic method, bottom up:

- :mod:`.backend`: numpy or torch namespace of the batched core (the torch device is
  :func:`mocap.device.pick_device`'s);
- :mod:`.dlt`: the rig as the DLT sees it (:class:`~.dlt.DltRig`, from
  :class:`calibration.RigArrays`), the weighted DLT's normal equations, solved in closed form
  for every point at once; reprojection errors;
- :mod:`.undistort`: pixels -> undistorted normalised coordinates (lens maps, Newton steps on
  the lens model of :mod:`calibration.lens`);
- :mod:`.robust`: robust view selection (view-pair hypotheses, Tukey reweighting) and the
  parallel-ray test;
- :mod:`.points`: a batch of points in chunks, degenerate geometry flagged (``FLAG_*``);
- :mod:`.swaps`: left/right swap repair;
- :mod:`.take`: a whole take (swap repair, temporal check, flags logged), the main person;
- :mod:`.entry`: :func:`triangulate`, the pipeline's entry point, by ``settings.method``.
- :mod:`.health`: after a triangulation, each camera's contribution (a camera used for
  almost none of its joints is named with its likely cause) and why no one was reconstructed.

The volumetric method (torch, from heatmaps) is :mod:`.volumetric` with its optional learned
refinement :mod:`.v2v`; they import torch, so they are not imported here (import them from
their modules).

Every batched core function works on numpy arrays or torch tensors alike (the torch path runs
on a GPU when the tensors are there, and is differentiable).
"""
from .dlt import dlt_weighted, reprojection_errors
from .entry import triangulate
from .points import (FLAG_BEHIND_CAMERA, FLAG_FEW_VIEWS, FLAG_NO_CONSENSUS, FLAG_PARALLEL_RAYS,
                     Triangulation, triangulate_points, triangulate_views)
from .swaps import repair_swaps
from .take import TakeTriangulation, select_main_person, temporal_reference, triangulate_take
from .undistort import undistort_detections

__all__ = ["FLAG_FEW_VIEWS", "FLAG_NO_CONSENSUS", "FLAG_PARALLEL_RAYS", "FLAG_BEHIND_CAMERA",
           "Triangulation", "TakeTriangulation", "dlt_weighted", "reprojection_errors",
           "undistort_detections", "triangulate_points", "triangulate_views",
           "repair_swaps", "select_main_person", "temporal_reference", "triangulate_take",
           "triangulate"]
