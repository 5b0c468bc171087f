"""The fit's data containers: the parameters of one person (:class:`BodyParams`, with the
rotations they stand for), the observations (:class:`FitData`, :class:`Views`) and what a fit
produced (:class:`FitResult`)."""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import torch

from calibration import RigArrays
from calibration.rotations import rotmat_to_rotvec, rotvec_to_rotmat

from ..body.planar import matmul_planar, rotvec_to_rotmat_planar, to_planar

__all__ = ["BodyParams", "rotations", "rotations_planar", "root_rotvec", "Views", "FitData", "FitResult"]


@dataclass
class BodyParams:
    """The parameters of one person's fit (leaf tensors on the fit's device).

    Attributes:
        betas: (B,) shape.
        global_orient: (F, 3) axis-angle correction ``d`` of the root rotation
            ``exp(d) @ orient_init`` (world-frame axes, radians).
        body_pose: (F, Jb - 1, 3) axis-angle deviation ``e`` of the other fitted joints from
            the neutral pose: local rotation ``neutral @ exp(e)`` (rest-frame axes, radians).
        transl: (F, 3) metres.
        orient_init: (F, 3, 3) the initial root rotation; neutral: (Jb - 1, 3, 3) the neutral
            pose's local rotations (:func:`mocap.body.model.neutral_pose`); not optimised.
    """

    betas: torch.Tensor
    global_orient: torch.Tensor
    body_pose: torch.Tensor
    transl: torch.Tensor
    orient_init: torch.Tensor
    neutral: torch.Tensor

    def tensors(self, names) -> list[torch.Tensor]:
        return [getattr(self, n) for n in names]

    def copy(self) -> "BodyParams":
        return BodyParams(*(t.detach().clone() for t in (
            self.betas, self.global_orient, self.body_pose, self.transl, self.orient_init,
            self.neutral)))


def rotations(params: BodyParams) -> torch.Tensor:
    """(F, Jb, 3, 3) local rotations of the fitted joints (root first)."""
    root = rotvec_to_rotmat(params.global_orient) @ params.orient_init
    body = params.neutral @ rotvec_to_rotmat(params.body_pose)
    return torch.cat([root[:, None], body], 1)


def rotations_planar(params: BodyParams) -> torch.Tensor:
    """:func:`rotations` in the planar layout (:mod:`mocap.body.planar`): (3, 3, Jb, F)."""
    root = matmul_planar(rotvec_to_rotmat_planar(to_planar(params.global_orient)),
                         to_planar(params.orient_init, 2))                   # (3, 3, F)
    neutral = params.neutral.permute(1, 2, 0)[..., None]                    # (3, 3, Jb-1, 1)
    body = matmul_planar(neutral, rotvec_to_rotmat_planar(to_planar(params.body_pose)))
    return torch.cat([root[:, :, None], body], 2)


def root_rotvec(params: BodyParams) -> torch.Tensor:
    """(F, 3) the root rotation as an axis-angle vector."""
    return rotmat_to_rotvec(rotvec_to_rotmat(params.global_orient) @ params.orient_init)


@dataclass(frozen=True, eq=False)
class Views:
    """Cameras and their 2D detections of one person, for the reprojection term.

    Attributes:
        cameras: the C cameras as :class:`calibration.RigArrays` tensors on the fit's device
            and dtype (``K`` (C, 3, 3) pixels, ``dist`` (C, 8) zero-padded lens coefficients,
            ``fisheye`` (C,) bool, ``R_cam_from_world`` (C, 3, 3), ``t_cam_from_world``
            (C, 3) metres, ...).
        xy: (C, F, K, 2) pixels (0 where missing); conf: (C, F, K) (0 where missing).
    """

    cameras: RigArrays
    xy: torch.Tensor
    conf: torch.Tensor

    @functools.cached_property
    def xy_planes(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The detections' u and v, each (C, F K) contiguous (as
        :func:`mocap.fit.projection.project_planes` gives the projections), made once."""
        C = self.xy.shape[0]
        return tuple(self.xy[..., i].reshape(C, -1).contiguous() for i in (0, 1))


@dataclass(frozen=True, eq=False)
class FitData:
    """Observations of one person and the constants the terms need (tensors on the device).

    Attributes:
        xyz: (F, K, 3) metres (0 where missing); weight: (F, K) confidences (0 = missing).
        torso: (K,) bool keypoints the torso-only stages use.
        fps: frames per second.
        bones: (Bn, 2) keypoint index pairs; bone_lengths: (Bn,) observed robust lengths,
            metres; bone_weight: (Bn,) 0 where a bone was never seen.
        sole: (S,) keypoint indices for the floor term; sole_height: (S,) their height above
            the soles at rest, metres; contact: (F - 1, S) floor-contact weights.
        views: optional 2D detections and cameras.
        extended: (F,) 1 for the frames closest to standing straight (:func:`extended_frames`),
            else 0; None: every frame counts as one.
        stance: (F,) 1 where the person stands on their feet (hips well above the ankles,
            :func:`stance_weights`), 0 lying or upside down, ramping between; None: all 1.
    """

    xyz: torch.Tensor
    weight: torch.Tensor
    torso: torch.Tensor
    fps: float
    bones: torch.Tensor
    bone_lengths: torch.Tensor
    bone_weight: torch.Tensor
    sole: torch.Tensor
    sole_height: torch.Tensor
    contact: torch.Tensor
    views: "Views | None" = None
    extended: "torch.Tensor | None" = None
    stance: "torch.Tensor | None" = None


@dataclass
class FitResult:
    """What a fit produced (numpy, float64).

    Attributes:
        betas: (B,); global_orient: (F, 3) root axis-angle; body_pose: (F, Jb - 1, 3);
        transl: (F, 3); rotations: (F, Jb, 3, 3) local rotations; joints: (F, Jb, 3) and
        keypoints: (F, K, 3) world metres; observed: (F,) bool.
        report: one dict per stage: name, iterations, stopped ("converged", "max_iterations",
            "nan"), seconds, and the unweighted value of every active term at the end.
    """

    betas: np.ndarray
    global_orient: np.ndarray
    body_pose: np.ndarray
    transl: np.ndarray
    rotations: np.ndarray
    joints: np.ndarray
    keypoints: np.ndarray
    observed: np.ndarray
    report: list = field(default_factory=list)
