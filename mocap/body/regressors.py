"""From a body to the keypoints of a format, computing only what those keypoints need.

Each keypoint of a format is a weighted sum of a few rest vertices and joints
(:class:`~mocap.body.model.KeypointSpec`, looked up by canonical name in ``model.keypoints``),
posed by linear blend skinning. Skinning is linear in the rest points, so the sum over a
keypoint's vertices can be taken once, ahead of time, per fitted joint ``j``:

    kp_k = sum_j  M_kj pos_j + G_j (P_kj(c) - M_kj J_j(c))      (+ G_j PD_kj (R - I) for SMPL)

with ``M_kj = sum_v r_kv w_vj`` (mass), ``P_kj(c) = sum_v r_kv w_vj v_v(c)`` (moment, linear in
the shape coefficients ``c``) and ``pos_j, G_j`` the posed joints. That is exactly the
regression of the skinned vertices, at a cost of K x Jb per frame instead of the whole mesh:
:class:`KeypointLayer` holds these moments for one (model, format) pair and
:func:`keypoints_forward` evaluates them.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from ..keypoints import get_format
from ..errors import BodyModelError
from .kinematics import forward_kinematics
from .model import (BodyModel, KeypointSpec, body_axes, fitted_posedir_rows, merged_weights,
                    phenotype_coefficients, pose_features)

__all__ = ["KeypointLayer", "keypoint_layer", "keypoints_forward", "shape_moments",
           "posed_keypoints", "layer_coefficients",
           "layer_rest_joints", "spec_rest_position", "add_face_landmarks"]


@dataclass(frozen=True, eq=False)
class KeypointLayer:
    """A body model reduced to what posing one keypoint format needs (tensors on one device).

    Attributes:
        model: the body model it came from (names, shape prior).
        format: keypoint format name; keypoint_names: (K,) its canonical joint names.
        parents: (Jb,) parents of the fitted joints (-1: root).
        joint_template: (Jb, 3) rest fitted joints at c = 0; joint_shapedirs: (C, Jb, 3).
        mass: (K, Jb); moment_template: (K, Jb, 3); moment_shapedirs: (C, K, Jb, 3).
        moment_posedirs: (K, Jb, 3, 9 (Jb - 1)) or None (models without pose correctives).
        phenotype: the model's phenotype buffers on the layer's device, or None.
    """

    model: BodyModel
    format: str
    keypoint_names: tuple[str, ...]
    parents: tuple[int, ...]
    joint_template: torch.Tensor
    joint_shapedirs: torch.Tensor
    mass: torch.Tensor
    moment_template: torch.Tensor
    moment_shapedirs: torch.Tensor
    moment_posedirs: "torch.Tensor | None"
    phenotype: "dict | None"

    @property
    def dtype(self) -> torch.dtype:
        return self.mass.dtype

    @property
    def device(self) -> torch.device:
        return self.mass.device

    @property
    def num_joints(self) -> int:
        return len(self.parents)


def spec_rest_position(model: BodyModel, spec: KeypointSpec) -> np.ndarray:
    """(3,) where a keypoint sits on the mean-shape rest mesh, metres, model frame."""
    T = model.template.numpy()
    J = model.joint_template.numpy()
    p = (spec.vertex_weights[:, None] * T[spec.vertex_ids]).sum(0)
    for name, w in zip(spec.joint_names, spec.joint_weights):
        p = p + w * J[model.joint_names.index(name)]
    return p


def add_face_landmarks(model: BodyModel) -> BodyModel:
    """Add the inner and outer eye corners and the mouth corners (BlazePose) as the vertices
    nearest to where they sit relative to the eyes and the nose."""
    kp = dict(model.keypoints)
    need = ("left_eye", "right_eye", "nose")
    if any(n not in kp for n in need):
        return model
    T = model.template.numpy()
    fwd, left, up = body_axes(model).T
    eye = {s: spec_rest_position(model, kp[f"{s}_eye"]) for s in ("left", "right")}
    nose = spec_rest_position(model, kp["nose"])
    d = float(np.linalg.norm(eye["left"] - eye["right"]))

    def nearest(p: np.ndarray) -> KeypointSpec:
        return KeypointSpec.vertex(int(np.argmin(np.linalg.norm(T - p, axis=1))))

    for side, other, sgn in (("left", "right", 1.0), ("right", "left", -1.0)):
        toward = eye[other] - eye[side]
        kp.setdefault(f"{side}_eye_inner", nearest(eye[side] + 0.25 * toward))
        kp.setdefault(f"{side}_eye_outer", nearest(eye[side] - 0.25 * toward))
        kp.setdefault(f"{side}_mouth",
                      nearest(nose - 0.55 * d * up - 0.15 * d * fwd + sgn * 0.4 * d * left))
    return dataclasses.replace(model, keypoints=kp)


def _moments(model: BodyModel, specs: list) -> tuple:
    """Mass (K, Jb), moments (K, Jb, 3), their shape directions (C, K, Jb, 3) and pose
    directions (K, Jb, 3, P) or None, float64."""
    Wf = merged_weights(model)
    K, Jb, C = len(specs), len(model.fitted), model.shapedirs.shape[0]
    mass = torch.zeros(K, Jb, dtype=torch.float64)
    P0 = torch.zeros(K, Jb, 3, dtype=torch.float64)
    Pd = torch.zeros(C, K, Jb, 3, dtype=torch.float64)
    PD = None
    if model.posedirs is not None:
        pd_rows = model.posedirs[fitted_posedir_rows(model)]                 # (P, V, 3)
        PD = torch.zeros(K, Jb, 3, pd_rows.shape[0], dtype=torch.float64)
    for k, spec in enumerate(specs):
        if len(spec.vertex_ids):
            ids = torch.as_tensor(spec.vertex_ids)
            A = torch.as_tensor(spec.vertex_weights)[:, None] * Wf[ids]           # (S, Jb)
            mass[k] += A.sum(0)
            P0[k] += A.T @ model.template[ids]
            Pd[:, k] += torch.einsum("sj,csd->cjd", A, model.shapedirs[:, ids])
            if PD is not None:
                PD[k] += torch.einsum("sj,psd->jdp", A, pd_rows[:, ids])
        for name, w in zip(spec.joint_names, spec.joint_weights):
            n = model.joint_names.index(name)
            a = int(model.nearest_fitted[n])
            mass[k, a] += w
            P0[k, a] += w * model.joint_template[n]
            Pd[:, k, a] += w * model.joint_shapedirs[:, n]
    return mass, P0, Pd, PD


def keypoint_layer(model: BodyModel, fmt: str, device: "torch.device | str | None" = None,
                   dtype: torch.dtype = torch.float32) -> KeypointLayer:
    """The reduced model for one keypoint format.

    Raises:
        BodyModelError: the model cannot place a keypoint of the format.
    """
    kf = get_format(fmt)
    missing = [n for n in kf.joint_names if n not in model.keypoints]
    if missing:
        raise BodyModelError(f"{model.kind} model has no keypoints {missing} needed by format "
                             f"{kf.name!r}")
    mass, P0, Pd, PD = _moments(model, [model.keypoints[n] for n in kf.joint_names])
    idx = torch.as_tensor(model.fitted_index)
    to = dict(device=device, dtype=dtype)
    ph = None
    if model.phenotype is not None:
        ph = {"mask": model.phenotype["mask"].to(**to),
              "projection": model.phenotype["projection"].to(**to),
              "anchors": {k: v.to(**to) for k, v in model.phenotype["anchors"].items()}}
    return KeypointLayer(
        model=model, format=kf.name, keypoint_names=kf.joint_names,
        parents=model.fitted_parents, joint_template=model.joint_template[idx].to(**to),
        joint_shapedirs=model.joint_shapedirs[:, idx].to(**to), mass=mass.to(**to),
        moment_template=P0.to(**to), moment_shapedirs=Pd.to(**to),
        moment_posedirs=None if PD is None else PD.to(**to), phenotype=ph)


def layer_coefficients(layer: KeypointLayer, betas: torch.Tensor) -> torch.Tensor:
    """(C,) shape coefficients of betas (B,) (see :func:`mocap.body.model.shape_coefficients`)."""
    return phenotype_coefficients(layer.model.shape_names, layer.phenotype, betas)


def layer_rest_joints(layer: KeypointLayer, coeffs: torch.Tensor) -> torch.Tensor:
    """(Jb, 3) rest positions of the fitted joints for coefficients (C,)."""
    return layer.joint_template + torch.einsum("c,cjd->jd", coeffs, layer.joint_shapedirs)


def shape_moments(layer: KeypointLayer, betas: torch.Tensor) -> tuple[torch.Tensor,
                                                                       torch.Tensor]:
    """The shape-dependent constants of :func:`posed_keypoints`: rest fitted joints (Jb, 3)
    and keypoint moments about them ``Q = P(c) - M J(c)`` (K, Jb, 3), for betas (B,)."""
    c = layer_coefficients(layer, betas)
    J = layer_rest_joints(layer, c)
    P = layer.moment_template + torch.einsum("c,ckjd->kjd", c, layer.moment_shapedirs)
    return J, P - layer.mass[..., None] * J


def posed_keypoints(layer: KeypointLayer, J: torch.Tensor, Q: torch.Tensor,
                    rotmats: torch.Tensor, transl: torch.Tensor,
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`keypoints_forward` for a shape given by :func:`shape_moments`."""
    pos, glob = forward_kinematics(layer.parents, J, rotmats, transl)
    kp = layer.mass @ pos                                                    # (F, K, 3)
    if layer.moment_posedirs is None:
        kp = kp + torch.einsum("fjab,kjb->fka", glob, Q)
    else:
        Qf = Q + torch.einsum("kjdp,fp->fkjd", layer.moment_posedirs, pose_features(rotmats))
        kp = kp + torch.einsum("fjab,fkjb->fka", glob, Qf)
    return pos, kp, glob


def keypoints_forward(layer: KeypointLayer, betas: torch.Tensor, rotmats: torch.Tensor,
                      transl: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pose the body and place the format's keypoints.

    Args:
        betas: (B,) shape of the person; rotmats: (F, Jb, 3, 3) local rotations of the fitted
            joints (rest-frame axes); transl: (F, 3) metres.
    Returns:
        joints (F, Jb, 3) and keypoints (F, K, 3), metres, in the frame the global orientation
        maps to; global joint rotations (F, Jb, 3, 3). Differentiable in all inputs.
    """
    J, Q = shape_moments(layer, betas)
    return posed_keypoints(layer, J, Q, rotmats, transl)
