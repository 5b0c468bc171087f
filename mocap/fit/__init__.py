"""SMPLify-style fitting of a body model to a whole sequence of one person's keypoints.

The pieces, each replaceable on its own:

- a stateless body layer: :func:`mocap.body.keypoints_forward` (shape, rotations,
  translation -> joints and the format's keypoints), batched over frames;
- a parameter container, :class:`BodyParams`: one shape per person, a rotation per fitted
  joint and a translation per frame (the root's rotation as a correction ``exp(d) R0`` of an
  initial guess, the others as axis-angle vectors);
- loss terms as a named dict, :data:`LOSSES`, each a pure function of the posed body and the
  observations: robust confidence-weighted 3D keypoints, optional multi-view 2D reprojection
  against the detections, joint limits, a pose prior, the lumbopelvic rhythm (how a trunk
  lean splits between the pelvis and the spine, which keypoints cannot tell), a shape prior,
  bone lengths (to start the shape), temporal smoothness, optional floor contact;
- per-stage weights as data, :data:`DEFAULT_STAGES`: the shape from the observed bone lengths,
  then shape and global orientation, then body pose, then everything together;
- one :class:`Monitor` per stage that stops it on convergence or on a non-finite loss (the
  last finite parameters are kept).

Every term is a mean per frame (sequence-level terms: per sequence) of squared residuals in
noise units (``FitOptions``), so that the weights read as relative trust. The optimiser is
L-BFGS with a strong-Wolfe line search over all frames at once, on unknowns scaled to
comparable curvature (:func:`parameter_scales`): torch on CPU, and on the GPU when there is
one (``device="auto"``).

Frames: keypoints in the world (Z up, metres); the body model's rest frame is turned into the
world by the root rotation.

The modules:

- :mod:`.options`: :class:`FitOptions`, :class:`Stage`, :data:`DEFAULT_STAGES`;
- :mod:`.params`: :class:`BodyParams`, :class:`FitData`, :class:`Views`, :class:`FitResult`;
- :mod:`.losses`: the loss terms and :data:`LOSSES`; :mod:`.projection`: the projection of
  the reprojection term (:class:`calibration.RigArrays` through :mod:`calibration.lens`);
- :mod:`.anatomy`: joint limits, prior spreads (:func:`pose_priors`), the torso and soles;
- :mod:`.data`: :func:`prepare_data` and what it measures (extended frames, bone lengths,
  stance and contact weights), :func:`views_from`;
- :mod:`.init`: the analytic start (:func:`initial_params`, :func:`initial_pose`), with
  :func:`calibration.rotations.kabsch`;
- :mod:`.optimise`: :class:`Monitor`, the stage runner and its preconditioner,
  :func:`fit_sequence`; :mod:`.chunks`: a long take in overlapping windows
  (:func:`fit_chunked`, ``[fit] chunk_frames``);
- :mod:`.people`: the stage over a take: :func:`fit_points3d` (pure: nothing is written;
  the app layer loads the body model and writes the files, :mod:`mocap.app.bodies`),
  :func:`body_motion`; :mod:`.runtime`: :func:`torch_threads` (the device:
  :func:`mocap.device.pick_device`).
"""
from __future__ import annotations

from .anatomy import SOLE, TORSO, pose_priors, spine_joints
from .chunks import fit_chunked
from .data import (contact_weights, extended_frames, extension_scores, median_bone_lengths,
                   prepare_data, stance_weights, views_from)
from .init import initial_params, initial_pose
from .losses import (LOSSES, bone_length_loss, floor_loss, gmof, joint_limit_loss,
                     keypoint_loss, loss_terms, lumbopelvic_loss, pose_prior_loss,
                     reprojection_loss, shape_prior_loss, smoothness_loss, spine_coupling_loss)
from .optimise import Monitor, fit_sequence, parameter_scales, rotation_scales, stage_constants
from .options import DEFAULT_STAGES, PARAMETERS, FitOptions, Stage
from .params import BodyParams, FitData, FitResult, Views, root_rotvec, rotations
from .people import PersonFit, body_motion, fit_points3d
from .projection import project_points
from .runtime import torch_threads

__all__ = ["FitOptions", "Stage", "DEFAULT_STAGES", "PARAMETERS", "BodyParams", "Views",
           "FitData", "FitResult", "rotations", "root_rotvec", "Monitor", "LOSSES",
           "fit_sequence", "prepare_data", "views_from", "gmof", "keypoint_loss",
           "reprojection_loss", "project_points", "joint_limit_loss", "pose_prior_loss",
           "lumbopelvic_loss", "spine_coupling_loss", "shape_prior_loss", "smoothness_loss",
           "floor_loss", "bone_length_loss", "loss_terms", "contact_weights", "pose_priors",
           "spine_joints", "TORSO", "SOLE", "initial_params", "initial_pose",
           "extended_frames", "extension_scores", "median_bone_lengths", "stance_weights",
           "parameter_scales", "rotation_scales", "stage_constants", "torch_threads",
           "body_motion", "PersonFit", "fit_points3d", "fit_chunked"]
