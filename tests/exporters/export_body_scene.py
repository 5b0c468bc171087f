"""A small synthetic body model and a fitted motion of it, with known truth, for the export tests
(the real models are Anny, 48 MB and 45 s to build, and SMPL, whose files users must fetch).

The model has SMPL's 24-joint tree standing in SMPL's rest frame (Y up, facing +Z), a box of
skin around every bone with linear-blend weights, a linear 2-parameter shape space, no pose
correctives; its fit moves SMPL's 22 body joints (the hands' weights fold into the wrists).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from exporters import Skeleton
from exporters.mesh import bone_boxes
from mocap.body import BodyModel, BodyMotion
from mocap.body.model import forward_kinematics, rest_joints, shape_coefficients
from mocap.body.smpl_model import SMPL_FITTED

NAMES = ("pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2", "left_ankle",
         "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar", "right_collar", "head",
         "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
         "left_hand", "right_hand")
PARENTS = np.array([-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21])
# offsets in SMPL's rest frame (x: the body's left, y: up, z: forward), metres
OFFSETS = np.array([
    [0.0, 0.0, 0.0], [0.06, -0.09, 0.0], [-0.06, -0.09, 0.0], [0.0, 0.11, -0.02], [0.04, -0.38, 0.0],
    [-0.04, -0.38, 0.0], [0.0, 0.13, 0.0], [-0.01, -0.40, -0.04], [0.01, -0.40, -0.04], [0.0, 0.05, 0.02],
    [0.02, -0.06, 0.12], [-0.02, -0.06, 0.12], [0.0, 0.21, -0.03], [0.07, 0.12, -0.01], [-0.07, 0.12, -0.01],
    [0.0, 0.09, 0.05], [0.11, 0.04, -0.01], [-0.11, 0.04, -0.01], [0.26, -0.01, -0.02], [-0.26, -0.01, -0.02],
    [0.25, 0.01, 0.0], [-0.25, 0.01, 0.0], [0.08, -0.01, -0.01], [-0.08, -0.01, -0.01],
])


def synthetic_model() -> BodyModel:
    """The model (float64 buffers), rest pelvis at the origin of its frame."""
    rest = np.zeros((24, 3))
    for j, p in enumerate(PARENTS):
        rest[j] = OFFSETS[j] if p < 0 else rest[p] + OFFSETS[j]
    mesh = bone_boxes(Skeleton(NAMES, PARENTS, np.vstack([rest[:1], OFFSETS[1:]])), half_width_m=0.04)
    triangles = np.concatenate([mesh.faces[:, [0, 1, 2]], mesh.faces[:, [0, 2, 3]]])
    rng = np.random.default_rng(21)
    vertices = len(mesh.vertices)
    return BodyModel(
        kind="smpl", gender="neutral", joint_names=NAMES, parents=PARENTS, fitted=SMPL_FITTED,
        canonical={n: n for n in SMPL_FITTED}, template=torch.tensor(mesh.vertices),
        shapedirs=torch.as_tensor(rng.normal(scale=0.01, size=(2, vertices, 3))),
        joint_template=torch.as_tensor(rest), joint_shapedirs=torch.as_tensor(rng.normal(scale=0.01, size=(2, 24, 3))),
        weights=torch.tensor(mesh.weights), faces=triangles, shape_names=("b0", "b1"),
        shape_mean=np.zeros(2), shape_std=np.ones(2), shape_lower=np.full(2, -np.inf),
        shape_upper=np.full(2, np.inf), keypoints={})


def synthetic_body(model: BodyModel, frames: int = 30, fps: float = 30.0) -> BodyMotion:
    """A fitted motion: the body turned from SMPL's Y-up rest frame into the Z-up world, walking
    forward with swinging limbs; ``joints`` from the model's own forward kinematics."""
    rng = np.random.default_rng(5)
    t = np.arange(frames) / fps
    poses = np.zeros((frames, 24, 3))
    fitted = [NAMES.index(n) for n in model.fitted]
    swing = rng.normal(scale=0.4, size=(len(fitted), 3))
    poses[:, fitted] = np.sin(2 * np.pi * t)[:, None, None] * swing[None]
    upright = Rotation.from_euler("x", 90, degrees=True)            # model Y up -> world Z up
    turn = Rotation.from_euler("z", (40 * t)[:, None], degrees=True)
    poses[:, 0] = (turn * upright).as_rotvec()
    trans = np.stack([0.3 * t, 1.1 * t, np.full(frames, 0.95)], axis=1)
    betas = np.array([0.5, -1.0])
    coeffs = shape_coefficients(model, torch.as_tensor(betas))
    rest = rest_joints(model, coeffs)[torch.as_tensor(model.fitted_index)]
    rotations = torch.as_tensor(Rotation.from_rotvec(poses[:, fitted].reshape(-1, 3)).as_matrix()).reshape(
        frames, len(fitted), 3, 3)
    joints, _ = forward_kinematics(model.fitted_parents, rest, rotations, torch.as_tensor(trans))
    return BodyMotion(surface_model_type="smpl", gender="neutral", joint_names=NAMES, fitted_joints=model.fitted,
                      shape_names=model.shape_names, betas=betas, poses=poses, trans=trans, fps=fps,
                      joints=joints.numpy(), keypoints=np.zeros((frames, 0, 3)), keypoint_format="smpl24",
                      keypoint_names=(), observed=np.ones(frames, bool))
