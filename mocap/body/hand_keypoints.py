"""Where MediaPipe Hands' 21 points sit on a body model's hands (the truth of the hand
keypoints in the rendered studio, and what a fit to them would regress).

MediaPipe marks the wrist, each digit's joints and each fingertip (see
:data:`mocap.keypoints.HAND21`). On a body model these are joint centres of its finger
skeleton, and a fingertip is the vertex of the last phalanx farthest from that phalanx's
joint:

* Anny (MakeHuman's skeleton): the thumb is ``finger1-1`` (its CMC joint), ``finger1-2``
  (MCP), ``finger1-3`` (IP); finger ``k`` of 2..5 (index .. pinky) hangs from a metacarpal,
  its MCP, PIP and DIP joints are the heads of ``finger<k>-1``, ``-2`` and ``-3``.
* SMPL-H / SMPL-X: ``<side>_thumb1..3`` (CMC, MCP, IP) and ``<side>_<finger>1..3`` (MCP,
  PIP, DIP).

The hand's own wrist point (``hand_wrist``) is the wrist joint's centre. A model without
finger joints (SMPL) gets no hand points: formats that need them then raise
:class:`~mocap.errors.BodyModelError` there.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .model import BodyModel, KeypointSpec

__all__ = ["add_hand_landmarks", "hand_joint_map"]

_DIGITS = ("index", "middle", "ring", "pinky")
_JOINTS = ("mcp", "pip", "dip")


def hand_joint_map(joint_names, side: str) -> "dict[str, str] | None":
    """Canonical hand point (without the side) -> the model joint at it, plus ``"<digit>_tip"``
    -> the last phalanx whose far end is the tip; None when the model has no finger joints.

    Args:
        joint_names: the model's joint names. side: ``"left"`` or ``"right"``.
    """
    names = set(joint_names)
    s = "L" if side == "left" else "R"
    if f"finger2-3.{s}" in names:                                     # Anny
        out = {"hand_wrist": f"wrist.{s}", "thumb_cmc": f"finger1-1.{s}",
               "thumb_mcp": f"finger1-2.{s}", "thumb_ip": f"finger1-3.{s}",
               "thumb_tip": f"finger1-3.{s}"}
        for k, digit in enumerate(_DIGITS, start=2):
            out.update({f"{digit}_{j}": f"finger{k}-{i}.{s}" for i, j in enumerate(_JOINTS, 1)})
            out[f"{digit}_tip"] = f"finger{k}-3.{s}"
    elif f"{side}_index3" in names:                                   # SMPL-H, SMPL-X
        out = {"hand_wrist": f"{side}_wrist", "thumb_cmc": f"{side}_thumb1",
               "thumb_mcp": f"{side}_thumb2", "thumb_ip": f"{side}_thumb3",
               "thumb_tip": f"{side}_thumb3"}
        for digit in _DIGITS:
            out.update({f"{digit}_{j}": f"{side}_{digit}{i}" for i, j in enumerate(_JOINTS, 1)})
            out[f"{digit}_tip"] = f"{side}_{digit}3"
    else:
        return None
    return out if set(out.values()) <= names else None


def _tip_vertex(model: BodyModel, joint: int) -> int:
    """The vertex skinned mostly to ``joint`` that lies farthest from its rest centre."""
    W = np.asarray(model.weights.detach().numpy() if hasattr(model.weights, "detach")
                   else model.weights)
    V = model.template.numpy()
    own = np.flatnonzero(W.argmax(1) == joint)
    J = model.joint_template.numpy()[joint]
    return int(own[np.argmax(np.linalg.norm(V[own] - J, axis=1))])


def add_hand_landmarks(model: BodyModel) -> BodyModel:
    """The model with MediaPipe Hands' 21 points per hand added to its keypoints (canonical
    names ``<side>_<point>`` of :data:`mocap.keypoints.HAND21`); unchanged when the model
    has no finger joints. Points already present are kept."""
    kp = dict(model.keypoints)
    names = list(model.joint_names)
    for side in ("left", "right"):
        joints = hand_joint_map(names, side)
        if joints is None:
            return model
        for point, joint in joints.items():
            spec = KeypointSpec.vertex(_tip_vertex(model, names.index(joint))) \
                if point.endswith("_tip") else KeypointSpec.joint(joint)
            kp.setdefault(f"{side}_{point}", spec)
    return dataclasses.replace(model, keypoints=kp)
