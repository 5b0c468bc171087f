"""Body models behind one interface: buffers in a frozen :class:`BodyModel`, geometry in pure
batched torch functions.

Conventions, the same for every model (SMPL's):

- A model lives in its own *rest frame*, metres: Anny stands Z up facing -Y, SMPL files stand
  Y up facing +Z. The global orientation turns the model into the world (Z up);
  :func:`body_axes` says where the model's forward, left and up point.
- Shape: ``betas`` (B,) -> blend coefficients ``c`` (C,) (the identity for SMPL; Anny's
  phenotype interpolation, see :func:`shape_coefficients`) -> rest vertices
  ``template + c @ shapedirs`` (V, 3) and rest joints ``joint_template + c @ joint_shapedirs``
  (N, 3), both linear in ``c``.
- Pose: one *local* rotation per joint, expressed in the rest frame's axes (no per-bone
  axes): ``G_j = G_parent @ R_j`` and ``pos_j = pos_parent + G_parent @ (J_j - J_parent)``; the
  root turns about its rest joint and ``transl`` (3,) moves the whole body, so the posed root
  joint sits at ``J_root + transl`` (as in smplx and AMASS). Identity rotations give the rest
  mesh. This is also :mod:`exporters.skeleton`'s convention, with
  ``offsets[j] = J_j - J_parent``; :mod:`mocap.body.kinematics` computes it (numpy or torch).
- Skinning: linear blend skinning ``v' = sum_j w_vj (G_j (v - J_j) + pos_j)``, plus SMPL's
  pose-corrective offsets ``(R_j - I)`` flattened times ``posedirs`` where a model has them.
- Fitted joints: each model names the joints a fit moves (``fitted``, root first, parents
  before children). The other joints keep identity rotations, so their skinning weights fold
  into their nearest fitted ancestor exactly (:func:`merged_weights`): only the fitted joints
  are ever posed.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import torch

from ..errors import BodyModelError
from .kinematics import forward_kinematics

__all__ = ["KeypointSpec", "BodyModel", "BodySkeleton", "shape_coefficients", "rest_joints",
           "rest_vertices", "phenotype_coefficients", "forward_kinematics", "pose_features",
           "skin_points", "merged_weights", "fitted_posedir_rows", "posed_vertices",
           "all_joint_positions", "expand_rotations", "rest_height", "body_axes",
           "anatomical_frames", "neutral_pose", "skeleton_of", "as_tensor"]


@dataclass(frozen=True, eq=False)
class KeypointSpec:
    """Where a keypoint sits on a body: a weighted sum of rest vertices and joints, skinned
    like the vertices (a joint counts as a point fixed to its nearest fitted ancestor).

    Attributes:
        vertex_ids: (S,) int vertex indices; vertex_weights: (S,) their weights.
        joint_names: joints of the model's tree; joint_weights: their weights.
        Weights sum to 1 over both.
    """

    vertex_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    vertex_weights: np.ndarray = field(default_factory=lambda: np.zeros(0))
    joint_names: tuple[str, ...] = ()
    joint_weights: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @staticmethod
    def vertex(index: int) -> "KeypointSpec":
        return KeypointSpec(np.array([index], np.int64), np.ones(1))

    @staticmethod
    def joint(name: str) -> "KeypointSpec":
        return KeypointSpec(joint_names=(name,), joint_weights=np.ones(1))

    @staticmethod
    def mean(*specs: "KeypointSpec") -> "KeypointSpec":
        """The average of several keypoints (e.g. the pelvis as the midpoint of the hips)."""
        n = len(specs)
        return KeypointSpec(
            np.concatenate([s.vertex_ids for s in specs]).astype(np.int64),
            np.concatenate([s.vertex_weights for s in specs]) / n,
            tuple(j for s in specs for j in s.joint_names),
            np.concatenate([s.joint_weights for s in specs]) / n)


@dataclass(frozen=True, eq=False)
class BodyModel:
    """The buffers of a body model (float64, CPU). Build one with
    :func:`mocap.body.load_body_model`; compute with the functions of this module.

    Attributes:
        kind: ``"anny"``, ``"smpl"``, ``"smplh"`` or ``"smplx"``.
        gender: ``"neutral"``, ``"male"`` or ``"female"`` (Anny: ``"neutral"``; its gender is a
            shape parameter).
        joint_names: (N,) joints of the model's whole kinematic tree; parents: (N,) int, -1 for
            the root (joint 0), each parent before its children.
        fitted: names of the joints a fit moves, root first, in tree order.
        canonical: fitted joint name -> canonical name of :mod:`mocap.keypoints`
            (``"left_knee"``).
        template: (V, 3) rest vertices at ``c = 0``, metres, model frame; shapedirs: (C, V, 3).
        joint_template: (N, 3) rest joints at ``c = 0``; joint_shapedirs: (C, N, 3).
        weights: (V, N) skinning weights (rows sum to 1).
        faces: (T, 3) int triangles.
        posedirs: (9 (N - 1), V, 3) pose-corrective blend shapes, or None.
        shape_names: (B,) names of the shape parameters ``betas``; shape_mean, shape_std,
            shape_lower, shape_upper: (B,) prior mean and spread, and hard bounds (+-inf: none).
        keypoints: canonical keypoint name -> :class:`KeypointSpec`.
        phenotype: Anny only: the buffers of its phenotype interpolation (see
            :func:`shape_coefficients`); None for a linear shape space.
    """

    kind: str
    gender: str
    joint_names: tuple[str, ...]
    parents: np.ndarray
    fitted: tuple[str, ...]
    canonical: dict
    template: torch.Tensor
    shapedirs: torch.Tensor
    joint_template: torch.Tensor
    joint_shapedirs: torch.Tensor
    weights: torch.Tensor
    faces: np.ndarray
    shape_names: tuple[str, ...]
    shape_mean: np.ndarray
    shape_std: np.ndarray
    shape_lower: np.ndarray
    shape_upper: np.ndarray
    keypoints: dict
    posedirs: "torch.Tensor | None" = None
    phenotype: "dict | None" = None

    def __post_init__(self) -> None:
        N, V = len(self.joint_names), self.template.shape[0]
        C = self.shapedirs.shape[0]
        checks = [("parents", tuple(np.shape(self.parents)), (N,)),
                  ("shapedirs", tuple(self.shapedirs.shape), (C, V, 3)),
                  ("joint_template", tuple(self.joint_template.shape), (N, 3)),
                  ("joint_shapedirs", tuple(self.joint_shapedirs.shape), (C, N, 3)),
                  ("weights", tuple(self.weights.shape), (V, N))]
        if self.posedirs is not None:
            checks.append(("posedirs", tuple(self.posedirs.shape), (9 * (N - 1), V, 3)))
        for name, found, want in checks:
            if found != want:
                raise BodyModelError(f"{self.kind} model: {name} must have shape {want}, "
                                     f"found {found}")
        parents = np.asarray(self.parents)
        if parents[0] != -1 or any(not 0 <= p < j for j, p in enumerate(parents[1:], 1)):
            raise BodyModelError(f"{self.kind} model: parents must list the root first and "
                                 f"each parent before its children, found {parents.tolist()}")
        missing = [n for n in self.fitted if n not in self.joint_names]
        if missing or not self.fitted or self.fitted[0] != self.joint_names[0]:
            raise BodyModelError(f"{self.kind} model: fitted joints {missing or self.fitted} "
                                 f"must be joints of the model, the root first")

    @property
    def num_betas(self) -> int:
        return len(self.shape_names)

    @property
    def num_vertices(self) -> int:
        return int(self.template.shape[0])

    @cached_property
    def fitted_index(self) -> np.ndarray:
        """(Jb,) indices of the fitted joints in ``joint_names``."""
        return np.array([self.joint_names.index(n) for n in self.fitted])

    @cached_property
    def nearest_fitted(self) -> np.ndarray:
        """(N,) for each joint, the index into ``fitted`` of itself or its nearest fitted
        ancestor."""
        pos = {int(j): i for i, j in enumerate(self.fitted_index)}
        out = np.zeros(len(self.joint_names), np.int64)
        for j, p in enumerate(self.parents):
            out[j] = pos[j] if j in pos else out[p]
        return out

    @cached_property
    def fitted_parents(self) -> tuple[int, ...]:
        """(Jb,) parent of each fitted joint as an index into ``fitted`` (-1 for the root)."""
        out = []
        for j in self.fitted_index:
            p = int(self.parents[j])
            out.append(-1 if p < 0 else int(self.nearest_fitted[p]))
        if any(not p < i for i, p in enumerate(out)):
            raise BodyModelError(f"{self.kind} model: fitted joints must come in tree order, "
                                 f"found {self.fitted}")
        return tuple(out)


@dataclass(frozen=True, eq=False)
class BodySkeleton:
    """A body's skeleton for export: the tree of joints and where they sit at rest.

    Attributes:
        joint_names: (J,) names; parents: (J,) int, -1 for the root (joint 0).
        rest_positions: (J, 3) metres, the model's rest frame (see :func:`body_axes`).
        canonical: (J,) canonical names (``mocap.keypoints`` vocabulary) or "" where none.
    """

    joint_names: tuple[str, ...]
    parents: np.ndarray
    rest_positions: np.ndarray
    canonical: tuple[str, ...]


def as_tensor(x, like: torch.Tensor) -> torch.Tensor:
    """``x`` as a tensor of ``like``'s dtype and device."""
    return torch.as_tensor(x, dtype=like.dtype, device=like.device)


def shape_coefficients(model: BodyModel, betas: torch.Tensor) -> torch.Tensor:
    """Blend coefficients of a shape.

    Args:
        betas: (..., B) shape parameters (SMPL: PCA coefficients; Anny: phenotypes in [0, 1]
            named by ``model.shape_names``).
    Returns:
        (..., C) coefficients of ``model.shapedirs``. Differentiable.
    """
    return phenotype_coefficients(model.shape_names, model.phenotype, betas)


def phenotype_coefficients(shape_names: "tuple[str, ...]", phenotype: "dict | None",
                           betas: torch.Tensor) -> torch.Tensor:
    """:func:`shape_coefficients` from the buffers alone (``phenotype``: a model's
    ``phenotype`` dict, possibly moved to another device; None: the identity)."""
    if phenotype is None:
        return betas
    from anny.models.phenotype import phenotype_blendshape_weights
    lead = betas.shape[:-1]
    flat = betas.reshape(-1, betas.shape[-1])
    anchors = {k: as_tensor(v, flat) for k, v in phenotype["anchors"].items()}
    w = phenotype_blendshape_weights(flat, list(shape_names), anchors,
                                     as_tensor(phenotype["mask"], flat), extrapolate=False)
    return (w @ as_tensor(phenotype["projection"], flat)).reshape(*lead, -1)


def rest_joints(model: BodyModel, coeffs: torch.Tensor) -> torch.Tensor:
    """(..., N, 3) rest joint positions, metres, model frame, for coefficients (..., C)."""
    jt = as_tensor(model.joint_template, coeffs)
    return jt + torch.einsum("...c,cnd->...nd", coeffs, as_tensor(model.joint_shapedirs, coeffs))


def rest_vertices(model: BodyModel, coeffs: torch.Tensor) -> torch.Tensor:
    """(..., V, 3) rest vertices, metres, model frame, for coefficients (..., C)."""
    t = as_tensor(model.template, coeffs)
    return t + torch.einsum("...c,cvd->...vd", coeffs, as_tensor(model.shapedirs, coeffs))


def pose_features(rotmats: torch.Tensor) -> torch.Tensor:
    """(..., 9 (J - 1)) SMPL's pose-corrective features ``(R_j - I)`` of the non-root joints,
    each flattened row by row, from rotations (..., J, 3, 3)."""
    eye = torch.eye(3, dtype=rotmats.dtype, device=rotmats.device)
    return (rotmats[..., 1:, :, :] - eye).flatten(-3)


def skin_points(points_rest: torch.Tensor, weights: torch.Tensor, joints_rest: torch.Tensor,
                positions: torch.Tensor, rotations: torch.Tensor) -> torch.Tensor:
    """Linear blend skinning of rest points.

    Args:
        points_rest: (..., S, 3) rest positions, metres; weights: (S, J) skinning weights.
        joints_rest: (..., J, 3); positions: (..., J, 3) and rotations (..., J, 3, 3) from
            :func:`forward_kinematics`.
    Returns:
        (..., S, 3) posed points, metres.
    """
    A = torch.einsum("sj,...jab->...sab", weights, rotations)                # (..., S, 3, 3)
    t = positions - (rotations @ joints_rest[..., None])[..., 0]              # (..., J, 3)
    return (A @ points_rest[..., None])[..., 0] + torch.einsum("sj,...ja->...sa", weights, t)


def merged_weights(model: BodyModel) -> torch.Tensor:
    """(V, Jb) skinning weights of the fitted joints: each other joint's column added to its
    nearest fitted ancestor (exact while those joints keep identity rotations)."""
    W = model.weights
    out = torch.zeros(W.shape[0], len(model.fitted), dtype=W.dtype)
    out.index_add_(1, torch.as_tensor(model.nearest_fitted), W)
    return out


def expand_rotations(model: BodyModel, rotmats: torch.Tensor) -> torch.Tensor:
    """(..., N, 3, 3) rotations of every joint of the tree: the fitted ones from (..., Jb, 3, 3),
    identity elsewhere."""
    N = len(model.joint_names)
    out = torch.eye(3, dtype=rotmats.dtype, device=rotmats.device).expand(
        *rotmats.shape[:-3], N, 3, 3).clone()
    out[..., torch.as_tensor(model.fitted_index), :, :] = rotmats
    return out


def all_joint_positions(model: BodyModel, joints_rest_all: torch.Tensor,
                        positions: torch.Tensor, rotations: torch.Tensor) -> torch.Tensor:
    """(..., N, 3) posed positions of every joint of the tree from the fitted joints' pose.

    Args:
        joints_rest_all: (..., N, 3) rest joints (:func:`rest_joints`).
        positions: (..., Jb, 3), rotations (..., Jb, 3, 3) of the fitted joints.
    """
    a = torch.as_tensor(model.nearest_fitted, device=positions.device)
    rest_a = joints_rest_all[..., torch.as_tensor(model.fitted_index), :][..., a, :]
    off = joints_rest_all - rest_a
    return positions[..., a, :] + (rotations[..., a, :, :] @ off[..., None])[..., 0]


def posed_vertices(model: BodyModel, betas: torch.Tensor, rotmats: torch.Tensor,
                   transl: torch.Tensor) -> torch.Tensor:
    """The posed mesh.

    Args:
        betas: (B,) shape; rotmats: (F, Jb, 3, 3) local rotations of the fitted joints;
        transl: (F, 3) metres.
    Returns:
        (F, V, 3) vertices, metres, in the frame the global orientation maps to (the world).
    """
    c = shape_coefficients(model, betas)
    verts = rest_vertices(model, c)
    J_all = rest_joints(model, c)
    J = J_all[torch.as_tensor(model.fitted_index)]
    pos, glob = forward_kinematics(model.fitted_parents, J, rotmats, transl)
    if model.posedirs is not None:
        rows = fitted_posedir_rows(model)
        pd = as_tensor(model.posedirs, verts)[rows]                            # (P, V, 3)
        verts = verts + torch.einsum("fp,pvd->fvd", pose_features(rotmats), pd)
    return skin_points(verts, as_tensor(merged_weights(model), verts), J, pos, glob)


def fitted_posedir_rows(model: BodyModel) -> torch.Tensor:
    """Rows of ``posedirs`` that belong to the fitted non-root joints, in fitted order."""
    return torch.as_tensor(np.concatenate(
        [np.arange(9 * (j - 1), 9 * j) for j in model.fitted_index[1:]]).astype(np.int64))


def rest_height(model: BodyModel, betas) -> float:
    """Standing height of a shape: extent of the rest mesh along the model's up axis, metres."""
    b = torch.as_tensor(np.asarray(betas, float), dtype=torch.float64)
    v = rest_vertices(model, shape_coefficients(model, b)).detach().numpy()
    h = v @ body_axes(model)[:, 2]
    return float(h.max() - h.min())


def _snap(v: np.ndarray) -> np.ndarray:
    """The signed coordinate axis closest to ``v``."""
    out = np.zeros(3)
    k = int(np.argmax(np.abs(v)))
    out[k] = np.sign(v[k])
    return out


@functools.lru_cache(maxsize=16)
def body_axes(model: BodyModel) -> np.ndarray:
    """(3, 3) columns: the model's forward, left and up directions in its rest frame, from its
    hips and head (snapped to the coordinate axes). Anny: (-Y, +X, +Z); SMPL: (+Z, +X, +Y)."""
    J = model.joint_template.numpy()
    name = {c: n for n, c in model.canonical.items()}
    idx = model.joint_names.index
    up = _snap(J[idx(name["head"])] - J[idx(name["pelvis"])])
    left = _snap(J[idx(name["left_hip"])] - J[idx(name["right_hip"])])
    return np.stack([np.cross(left, up), left, up], -1)


# Segment that sets a joint's twist axis: joint -> child, or parent -> joint for end joints.
_SEGMENT = {"left_hip": ("left_hip", "left_knee"), "left_knee": ("left_knee", "left_ankle"),
            "left_ankle": ("left_knee", "left_ankle"), "left_foot": ("left_ankle", "left_foot"),
            "left_collar": ("left_collar", "left_shoulder"),
            "left_shoulder": ("left_shoulder", "left_elbow"),
            "left_elbow": ("left_elbow", "left_wrist"),
            "left_wrist": ("left_elbow", "left_wrist")}


@functools.lru_cache(maxsize=16)
def anatomical_frames(model: BodyModel) -> np.ndarray:
    """Per fitted joint, the axes its priors and limits are stated in.

    Columns (f, a, t): ``t`` runs along the joint's segment (trunk joints: up), ``f = t x
    forward`` is the hinge (flexion) axis, ``a = t x f`` the abduction axis. Flexion of a knee
    is a negative rotation about ``f``, of an elbow, hip, shoulder or a forward-bending spine a
    positive one, on both sides; abduction and twist mirror between left and right.

    Returns:
        (Jb, 3, 3) rotation matrices, model frame, from the mean shape's rest pose.
    """
    J = model.joint_template.numpy()
    axes = body_axes(model)
    fwd, up = axes[:, 0], axes[:, 2]
    by_canon = {c: model.joint_names.index(n) for n, c in model.canonical.items()}
    out = np.zeros((len(model.fitted), 3, 3))
    for i, name in enumerate(model.fitted):
        canon = model.canonical.get(name, "")
        key = canon.replace("right_", "left_")
        seg = _SEGMENT.get(key)
        t = up
        if seg is not None:
            a, b = (s.replace("left_", "right_") if canon.startswith("right_") else s
                    for s in seg)
            if a in by_canon and b in by_canon:
                t = J[by_canon[b]] - J[by_canon[a]]
                t = t / np.linalg.norm(t)
        f = np.cross(t, fwd)
        if np.linalg.norm(f) < 0.3:
            f = np.cross(fwd, up)
        f = f / np.linalg.norm(f)
        a = np.cross(t, f)
        a = a / np.linalg.norm(a)
        out[i] = np.stack([f, a, np.cross(f, a)], -1)
    return out


@functools.lru_cache(maxsize=16)
def neutral_pose(model: BodyModel) -> np.ndarray:
    """(Jb, 3) axis-angle local rotations of a relaxed standing pose: the rest pose with the
    upper arms hanging straight down (Anny rests in an A-pose, SMPL in a T-pose). The pose
    prior is centred here, and the studio's motions start from it."""
    out = np.zeros((len(model.fitted), 3))
    name = {c: n for n, c in model.canonical.items()}
    J = model.joint_template.numpy()
    down = -body_axes(model)[:, 2]
    for side in ("left", "right"):
        if f"{side}_shoulder" not in name or f"{side}_elbow" not in name:
            continue
        a = J[model.joint_names.index(name[f"{side}_shoulder"])]
        b = J[model.joint_names.index(name[f"{side}_elbow"])]
        u = (b - a) / np.linalg.norm(b - a)
        axis = np.cross(u, down)
        s = np.linalg.norm(axis)
        if s > 1e-9:
            out[model.fitted.index(name[f"{side}_shoulder"])] = (
                axis / s * np.arctan2(s, float(u @ down)))
    return out


def skeleton_of(model: BodyModel, betas, full: bool = False) -> BodySkeleton:
    """A body's skeleton, for exporters (:func:`mocap.body.to_exporters` builds
    ``exporters.Skeleton`` and ``Motion`` from it and a fitted motion).

    Args:
        betas: (B,) shape parameters.
        full: every joint of the model's tree (Anny: 104 bones) instead of the fitted ones.
    Returns:
        :class:`BodySkeleton` with rest positions in the model's rest frame, metres.
    """
    b = torch.as_tensor(np.asarray(betas, float), dtype=torch.float64)
    if b.shape != (model.num_betas,):
        raise BodyModelError(f"{model.kind} model: betas must have shape ({model.num_betas},), "
                             f"found {tuple(b.shape)}")
    J = rest_joints(model, shape_coefficients(model, b)).detach().numpy()
    if full:
        canon = tuple(model.canonical.get(n, "") for n in model.joint_names)
        return BodySkeleton(model.joint_names, np.asarray(model.parents).copy(), J, canon)
    return BodySkeleton(model.fitted, np.array(model.fitted_parents), J[model.fitted_index],
                        tuple(model.canonical.get(n, "") for n in model.fitted))
