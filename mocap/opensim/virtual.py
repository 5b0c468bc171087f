"""Virtual markers on a fitted body, for OpenSim scaling and inverse kinematics
(``[opensim] markers = "body"``).

A lab places skin markers where bones show (pelvic spines, femoral epicondyles, malleoli,
heel, toes...), several on each segment and never three on one line. We place such points on
the fitted body instead: each marker is fixed to one segment of the body's skeleton (the
frame of the fitted joint that moves the segment), so it moves rigidly with it, and its spot
is chosen in the body's *neutral* standing pose (:func:`mocap.body.model.neutral_pose`, the
zero of the ISB angles) from the body's own joints and foot keypoints. The pelvis carries six
markers (both hip joint centres, both anterior and posterior spines: not collinear, unlike
the three pelvis keypoints), each thigh, shank and foot three or four, the trunk, head, upper
arms and forearms three or four.

The same markers in the neutral pose (:attr:`VirtualMarkers.neutral`) place the OpenSim
model's markers (:mod:`mocap.opensim.placement`): the model standing at all coordinates zero
then carries exactly the body's neutral markers, so OpenSim's zero angles are the body's
neutral pose.

Arrays: metres. ``xyz`` world frame (right-handed, Z up); ``neutral`` the body frame (x
forward, y left, z up; origin midway between the hip joint centres).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from calibration.rotations import rotvec_to_rotmat

from ..body.kinematics import forward_kinematics
from ..body.model import (BodyModel, body_axes, neutral_pose, rest_joints, rest_vertices,
                          shape_coefficients)
from ..errors import OpenSimError

__all__ = ["VirtualMarkers", "MARKERS", "MARKER_SEGMENTS", "MARKER_WEIGHTS", "virtual_markers", "segment_lengths"]

#: Segments the markers ride on: name -> the canonical joint whose frame moves it.
SEGMENT_JOINTS = {"pelvis": "pelvis", "thigh": "{s}_hip", "shank": "{s}_knee",
                  "foot": "{s}_ankle", "trunk": "spine3", "head": "head",
                  "upper_arm": "{s}_shoulder", "forearm": "{s}_elbow"}


def _side_markers(s: str) -> dict:
    """The markers of one side ``s`` ("left"/"right"): name -> (segment, spot); a spot is
    a list of (weight, point, offset) terms (see :func:`_spots`)."""
    S = s[0].upper()
    return {
        f"{S}HJC": ("pelvis", [(1, f"{s}_hip", ())]),
        f"{S}ASI": ("pelvis", [(1, f"{s}_hip", ("w", 0.45, 0.25, 0.45))]),
        f"{S}PSI": ("pelvis", [(1, f"{s}_hip", ("w", -0.75, -0.20, 0.60))]),
        f"{S}KNE": ("thigh", [(1, f"{s}_knee", ("t", 0, 0.13, 0))]),
        f"{S}KNM": ("thigh", [(1, f"{s}_knee", ("t", 0, -0.13, 0))]),
        f"{S}THI": ("thigh", [(0.45, f"{s}_hip", ()), (0.55, f"{s}_knee", ("t", 0.22, 0.1, 0))]),
        f"{S}THL": ("thigh", [(0.6, f"{s}_hip", ()), (0.4, f"{s}_knee", ("t", 0, 0.25, 0))]),
        f"{S}ANK": ("shank", [(1, f"{s}_ankle", ("k", 0, 0.09, 0))]),
        f"{S}ANM": ("shank", [(1, f"{s}_ankle", ("k", 0, -0.09, 0))]),
        f"{S}TIB": ("shank", [(0.7, f"{s}_knee", ()), (0.3, f"{s}_ankle", ("k", 0.16, 0, 0))]),
        f"{S}SHL": ("shank", [(0.45, f"{s}_knee", ()), (0.55, f"{s}_ankle", ("k", 0, 0.16, 0))]),
        f"{S}HEE": ("foot", [(1, f"{s}_heel", ())]),
        f"{S}TOE": ("foot", [(1, f"{s}_big_toe", ())]),
        f"{S}MT5": ("foot", [(1, f"{s}_small_toe", ())]),
        f"{S}ACR": ("trunk", [(1, f"{s}_shoulder", ("T", 0, 0, 0.08))]),
        f"{S}SJC": ("upper_arm", [(1, f"{s}_shoulder", ())]),
        f"{S}ELB": ("upper_arm", [(1, f"{s}_elbow", ("a", 0, 0.15, 0))]),
        f"{S}ELM": ("upper_arm", [(1, f"{s}_elbow", ("a", 0, -0.15, 0))]),
        f"{S}UPA": ("upper_arm", [(0.5, f"{s}_shoulder", ()), (0.5, f"{s}_elbow",
                                                            ("a", 0.2, 0.1, 0))]),
        f"{S}WRA": ("forearm", [(1, f"{s}_wrist", ("a", 0.12, 0, 0))]),
        f"{S}WRB": ("forearm", [(1, f"{s}_wrist", ("a", -0.12, 0, 0))]),
        f"{S}FRM": ("forearm", [(0.5, f"{s}_elbow", ()), (0.5, f"{s}_wrist", ("a", 0, 0.15, 0))]),
    }


#: The markers without a side: name -> (segment, spot).
MIDDLE_MARKERS = {
    "C7": ("trunk", [(1, "neck", ("T", -0.14, 0, 0))]),
    "CLAV": ("trunk", [(1, "neck", ("T", 0.12, 0, -0.06))]),
    "STRN": ("trunk", [(0.5, "neck", ()), (0.5, "spine3", ("T", 0.3, 0, 0))]),
    "T10": ("trunk", [(1, "spine3", ("T", -0.25, 0, 0))]),
    "HTOP": ("head", [(1, "head", ("T", 0, 0, 0.3))]),
    "HFRO": ("head", [(1, "head", ("T", 0.2, 0, 0.12))]),
    "LHEA": ("head", [(1, "head", ("T", 0, 0.15, 0.12))]),
    "RHEA": ("head", [(1, "head", ("T", 0, -0.15, 0.12))]),
}

MARKERS = {**MIDDLE_MARKERS, **_side_markers("left"), **_side_markers("right")}
#: marker name -> (segment, side): where each marker rides.
MARKER_SEGMENTS = {n: (seg, "" if n in MIDDLE_MARKERS else ("left" if n[0] == "L" else "right"))
                   for n, (seg, _) in MARKERS.items()}
#: IK weight of each marker: the arms and head half (no clavicle in the OpenSim model: the
#: body's shoulders move where the model's cannot follow).
MARKER_WEIGHTS = {n: 0.5 if seg in ("upper_arm", "forearm", "head") else 1.0
                  for n, (seg, _) in MARKER_SEGMENTS.items()}


@dataclass(frozen=True)
class VirtualMarkers:
    """Virtual markers of one person.

    Attributes:
        names: (M,) marker names. segments: (M,) (segment, side) each rides on
            (:data:`MARKER_SEGMENTS`).
        xyz: (F, M, 3) per frame, metres, world frame (Z up); NaN where the body is not
            observed.
        neutral: (M, 3) in the neutral pose, metres, body frame (x forward, y left, z up,
            origin midway between the hip joint centres).
        lengths: the body's segment lengths in metres (:func:`segment_lengths`).
        joints: canonical joint name -> (3,) its neutral position, metres, body frame.
        weights: (M,) each marker's IK weight (:data:`MARKER_WEIGHTS`).
    """

    names: tuple[str, ...]
    segments: tuple[tuple[str, str], ...]
    xyz: np.ndarray
    neutral: np.ndarray
    lengths: dict
    joints: dict
    weights: tuple[float, ...] = tuple(MARKER_WEIGHTS.values())


def _rest_points(model: BodyModel, betas) -> dict:
    """Canonical name -> (3,) rest position, metres, model rest frame: the fitted joints and
    the foot keypoints (heel, toes) of the body's shape."""
    c = shape_coefficients(model, torch.as_tensor(np.asarray(betas, float)))
    J_all = rest_joints(model, c).detach().numpy()
    V = rest_vertices(model, c).detach().numpy()
    out = {model.canonical[n]: J_all[model.joint_names.index(n)] for n in model.fitted}
    for s in ("left", "right"):
        for k in ("heel", "big_toe", "small_toe"):
            spec = model.keypoints[f"{s}_{k}"]
            p = spec.vertex_weights @ V[spec.vertex_ids]
            for name, w in zip(spec.joint_names, spec.joint_weights):
                p = p + w * J_all[model.joint_names.index(name)]
            out[f"{s}_{k}"] = p
    return out


def _neutral_pose(model: BodyModel, rest: dict) -> tuple[dict, np.ndarray, np.ndarray]:
    """The neutral pose facing the body frame, from the body's rest points
    (:func:`_rest_points`): (canonical name -> (3,) point, body frame), (Jb, 3) joint positions
    and (Jb, 3, 3) joint rotations, body frame. The foot keypoints ride on the ankles (legs are
    at rest in the neutral pose)."""
    C = body_axes(model)
    R = rotvec_to_rotmat(np.asarray(neutral_pose(model), float))
    R[0] = C.T @ R[0]                                  # face the body frame: x forward
    J = np.stack([rest[model.canonical[n]] for n in model.fitted])
    pos, G = forward_kinematics(model.fitted_parents, J, R, np.zeros(3))
    pts = {model.canonical[n]: pos[i] for i, n in enumerate(model.fitted)}
    for s in ("left", "right"):
        a = model.fitted.index(next(n for n in model.fitted
                                    if model.canonical[n] == f"{s}_ankle"))
        for k in ("heel", "big_toe", "small_toe"):
            pts[f"{s}_{k}"] = pos[a] + G[a] @ (rest[f"{s}_{k}"] - J[a])
    mid = 0.5 * (pts["left_hip"] + pts["right_hip"])
    return {k: v - mid for k, v in pts.items()}, pos - mid, G


def segment_lengths(points: dict) -> dict:
    """Segment lengths, metres, of the neutral pose's points (:func:`_neutral_pose`):
    hip width, thigh, shank, trunk (mid-hips to mid-shoulders), upper arm, forearm (both sides
    averaged)."""
    d = lambda a, b: float(np.linalg.norm(points[a] - points[b]))     # noqa: E731
    both = lambda a, b: 0.5 * (d(f"left_{a}", f"left_{b}") + d(f"right_{a}", f"right_{b}"))  # noqa: E731
    mid = lambda j: 0.5 * (points[f"left_{j}"] + points[f"right_{j}"])  # noqa: E731
    return {"hip_width": d("left_hip", "right_hip"), "thigh": both("hip", "knee"),
            "shank": both("knee", "ankle"), "trunk": float(np.linalg.norm(mid("shoulder")
                                                                          - mid("hip"))),
            "upper_arm": both("shoulder", "elbow"), "forearm": both("elbow", "wrist")}


def _spots(points: dict, lengths: dict) -> np.ndarray:
    """(M, 3) each marker's spot in the neutral pose, body frame: the weighted sum of its
    terms, each a point plus an offset (forward, left, up) in units of a segment length: "w"
    hip width, "t" thigh, "k" shank, "T" trunk, "a" upper arm; "left" is mirrored to the
    outside on the right side."""
    unit = {"w": lengths["hip_width"], "t": lengths["thigh"], "k": lengths["shank"],
            "T": lengths["trunk"], "a": lengths["upper_arm"]}
    out = []
    for name, (_, terms) in MARKERS.items():
        mirror = -1.0 if MARKER_SEGMENTS[name][1] == "right" else 1.0
        p = np.zeros(3)
        for w, point, off in terms:
            q = np.array(points[point], float)
            if len(off) == 4:
                q = q + unit[off[0]] * np.array([off[1], mirror * off[2], off[3]])
            p = p + w * q
        out.append(p)
    return np.stack(out)


def virtual_markers(model: BodyModel, betas, rotations: np.ndarray, transl: np.ndarray,
                    observed: "np.ndarray | None" = None) -> VirtualMarkers:
    """The virtual markers of a posed body over a take.

    Args:
        model: the body model. betas: (B,) the body's shape.
        rotations: (F, Jb, 3, 3) local rotations of the fitted joints (root first: the
            global orientation), model rest-frame axes. transl: (F, 3) metres.
        observed: optional (F,) bool; markers of the other frames are NaN.
    Raises:
        OpenSimError: rotations or transl of the wrong shape.
    """
    rotations, transl = np.asarray(rotations, float), np.asarray(transl, float)
    F, Jb = len(rotations), len(model.fitted)
    if rotations.shape != (F, Jb, 3, 3) or transl.shape != (F, 3):
        raise OpenSimError(f"virtual markers: rotations must be (F, {Jb}, 3, 3) and transl "
                           f"(F, 3), found {rotations.shape} and {transl.shape}")
    rest = _rest_points(model, betas)
    points, pos0, G0 = _neutral_pose(model, rest)
    lengths = segment_lengths(points)
    spots = _spots(points, lengths)                                    # (M, 3) body frame
    seg = [model.fitted.index(next(n for n in model.fitted if model.canonical[n]
                                   == SEGMENT_JOINTS[s].format(s=side)))
           for s, side in MARKER_SEGMENTS.values()]
    local = np.einsum("mba,mb->ma", G0[seg], spots - pos0[seg])        # segment-local offsets
    J = np.stack([rest[model.canonical[n]] for n in model.fitted])
    pos, G = forward_kinematics(model.fitted_parents, J, rotations, transl)
    xyz = pos[:, seg] + np.einsum("fmab,mb->fma", G[:, seg], local)
    if observed is not None:
        xyz[~np.asarray(observed, bool)] = np.nan
    return VirtualMarkers(names=tuple(MARKERS), segments=tuple(MARKER_SEGMENTS.values()),
                          xyz=xyz, neutral=spots, lengths=lengths,
                          joints={model.canonical[n]: pos0[i] for i, n in enumerate(model.fitted)})
