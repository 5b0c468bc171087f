"""What a fit does: its scales and solver settings (:class:`FitOptions`) and its stages with
their per-stage loss weights as data (:class:`Stage`, :data:`DEFAULT_STAGES`)."""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FitOptions", "Stage", "DEFAULT_STAGES", "PARAMETERS"]


@dataclass(frozen=True)
class FitOptions:
    """Scales and solver settings of a fit (the stage weights are in :class:`Stage`).

    Attributes:
        noise_m: 3D keypoint residual that costs 1 (metres). robust_m: Geman-McClure scale:
            residuals well beyond it stop pulling (metres).
        noise_px, robust_px: the same for the 2D reprojection term (pixels).
        accel_m_s2: joint acceleration that costs 1 in the smoothness term (m/s^2);
            angular_accel_rad_s2: the same for joint rotations (rad/s^2).
        limit_rad: joint-limit violation that costs 1 (radians).
        lumbopelvic_rad: departure of the pelvis's tilt from the lumbopelvic rhythm's share
            of the trunk's flexion that costs 1 (radians; :func:`lumbopelvic_loss`).
        spine_coupling_rad: departure of a spine joint's rotation from the spine's mean that
            costs 1 (radians; :func:`spine_coupling_loss`).
        floor_z_m: height of the floor (world z, metres) for the floor term.
        inner_iterations: L-BFGS iterations between two checks of the monitor.
        tolerance: relative decrease of the loss below which a stage has converged.
    """

    noise_m: float = 0.01
    robust_m: float = 0.1
    noise_px: float = 4.0
    robust_px: float = 40.0
    accel_m_s2: float = 15.0
    angular_accel_rad_s2: float = 150.0
    limit_rad: float = 0.05
    lumbopelvic_rad: float = 0.05
    spine_coupling_rad: float = 0.05
    floor_z_m: float = 0.0
    inner_iterations: int = 10
    tolerance: float = 1e-5


@dataclass(frozen=True)
class Stage:
    """One stage of the fit: which parameters move, how much each loss term weighs, for how
    many L-BFGS iterations at most.

    Attributes:
        name: for reports. optimise: subset of ``betas``, ``global_orient``, ``body_pose``,
            ``transl``. weights: loss name (:data:`LOSSES`) -> weight (absent or 0: off).
        max_iterations: L-BFGS iterations at most. torso_only: the keypoint terms see only
            the torso (hips, shoulders, neck, pelvis, spine). init_pose: before the stage,
            start the body pose analytically (:func:`initial_pose`). extended_only: the
            keypoint terms see only the frames closest to standing straight
            (``FitData.extended``), where the analytic start of the pose is good, so that the
            shape does not shrink or bend to make up for a poor start in a deep squat or bend.
        reprojection: whether the 2D reprojection term, when asked for (``extra_weights``),
            joins this stage (every default stage: in the last alone it costs a third as
            much, but the studio's jog then drifts 1.1 cm in height and the bend's elbow
            loses 0.3 deg).
    """

    name: str
    optimise: tuple[str, ...]
    weights: dict
    max_iterations: int
    torso_only: bool = False
    init_pose: bool = False
    extended_only: bool = False
    reprojection: bool = True


DEFAULT_STAGES = (
    Stage("shape", ("betas",), {"bone_length": 1.0, "shape_prior": 0.1}, max_iterations=30),
    Stage("shape_orient", ("betas", "global_orient", "transl"),
          {"keypoints": 1.0, "bone_length": 1.0, "shape_prior": 0.1, "smooth": 0.1},
          max_iterations=20, init_pose=True, extended_only=True),
    Stage("body_pose", ("global_orient", "transl", "body_pose"),
          {"keypoints": 1.0, "pose_prior": 0.05, "joint_limits": 1.0, "smooth": 0.1,
           "lumbopelvic": 1.0, "spine_coupling": 1.0},
          max_iterations=60, init_pose=True),
    Stage("refine", ("betas", "global_orient", "transl", "body_pose"),
          {"keypoints": 1.0, "pose_prior": 0.02, "joint_limits": 1.0, "shape_prior": 0.01,
           "smooth": 0.1, "lumbopelvic": 1.0, "spine_coupling": 1.0},
          max_iterations=40),
)
"""The default stages; a weight for ``reprojection`` or ``floor`` turns those terms on
(:func:`fit_sequence` adds them to the keypoint stages from its ``extra_weights``)."""

PARAMETERS = ("betas", "global_orient", "body_pose", "transl")
