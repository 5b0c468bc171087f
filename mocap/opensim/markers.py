"""Markers for OpenSim from 3D keypoints: which of Pose2Sim's marker sets serves a keypoint
format, each marker's keypoint, the frames where a person can be solved, and the upright
frames the model is scaled from. Pure numpy; nothing here imports OpenSim.

The marker sets, scaling and IK setups are Pose2Sim's (``Pose2Sim/OpenSim_Setup/`` of the
pinned pose2sim wheel, :func:`mocap.datasets.pose2sim_opensim_setup`), named after OpenPose's
joints (``LShoulder``, ``CHip``...). A marker takes the keypoint whose *native* name it bears
(BODY_25, BODY_25B and HALPE_26 use OpenPose's names), else the keypoint of the same canonical
name (:data:`MARKER_JOINTS`: COCO-17, BlazePose), else the format's virtual joint (the neck as
the shoulders' midpoint, the pelvis as the hips'). Markers no keypoint gives are left out of
the marker file and their IK tasks switched off.

Arrays: keypoints (F, K, 3) metres, world frame (right-handed, Z up), NaN = missing.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import OpenSimError
from ..keypoints import get_format

__all__ = ["MARKER_SETS", "MARKER_JOINTS", "MarkerSet", "marker_set_for", "markers_from_keypoints",
           "solvable_frames", "upright_frames"]

#: keypoint format -> the suffix of Pose2Sim's files (``Markers_<m>.xml``, ``*_Pose2Sim_<s>.xml``).
MARKER_SETS = {
    "body25": ("Body25", "Body25"),
    "body25b": ("Body25b", "Body25b"),
    "halpe26": ("Halpe26", "Halpe26"),
    "coco17": ("Coco17", "Coco17"),
    "blazepose33": ("BlazePose", "Blazepose"),
    "blazepose75": ("BlazePose", "Blazepose"),      # its body part; the hand points unused
}

#: Pose2Sim marker name -> canonical keypoint name (where the format's native names differ).
MARKER_JOINTS = {
    "Nose": "nose", "Neck": "neck", "Head": "head_top", "LEye": "left_eye", "REye": "right_eye",
    "CHip": "pelvis", "Hip": "pelvis",
    **{f"{s[0].upper()}{part}": f"{s}_{joint}" for s in ("left", "right")
       for part, joint in (("Shoulder", "shoulder"), ("Elbow", "elbow"), ("Wrist", "wrist"),
                           ("Hip", "hip"), ("Knee", "knee"), ("Ankle", "ankle"),
                           ("BigToe", "big_toe"), ("SmallToe", "small_toe"), ("Heel", "heel"),
                           ("Thumb", "thumb"), ("Pinky", "pinky"), ("Index", "index"))},
}


@dataclass(frozen=True)
class MarkerSet:
    """The markers of one keypoint format.

    Attributes:
        format: the keypoint format's name.
        files: (marker set, scaling setup, IK setup) file names in the OpenSim setup folder.
        names: (M,) marker names the keypoints give, in marker-file order.
        sources: (M,) for each marker, the keypoint indices averaged to make it (one index,
            or two for a virtual joint).
    """

    format: str
    files: tuple[str, str, str]
    names: tuple[str, ...]
    sources: tuple[tuple[int, ...], ...]


def _source(fmt, marker: str) -> "tuple[int, ...] | None":
    """Keypoint indices of one marker in format ``fmt`` (see the module docstring), or None."""
    if marker in fmt.native_names:
        return (fmt.native_names.index(marker),)
    joint = MARKER_JOINTS.get(marker)
    if joint in fmt.joint_names:
        return (fmt.joint_names.index(joint),)
    if joint in fmt.virtual:
        return tuple(fmt.joint_names.index(j) for j in fmt.virtual[joint])
    return None


def marker_set_for(format_name: str, model_markers, person: "int | None" = None) -> MarkerSet:
    """The markers keypoints of ``format_name`` give among ``model_markers`` (the names in the
    format's Pose2Sim marker file, in file order).

    Raises:
        OpenSimError: the format has no Pose2Sim marker set (naming the person when given).
    """
    fmt = get_format(format_name)
    who = "" if person is None else f"person {person}: "
    if fmt.name not in MARKER_SETS:
        raise OpenSimError(f"{who}keypoint format {fmt.name!r} has no OpenSim marker set; "
                           f"expected one of {', '.join(MARKER_SETS)}")
    m, s = MARKER_SETS[fmt.name]
    pairs = [(n, _source(fmt, n)) for n in model_markers]
    pairs = [(n, src) for n, src in pairs if src is not None]
    return MarkerSet(format=fmt.name, files=(f"Markers_{m}.xml", f"Scaling_Setup_Pose2Sim_{s}.xml",
                                             f"IK_Setup_Pose2Sim_{s}.xml"),
                     names=tuple(n for n, _ in pairs), sources=tuple(src for _, src in pairs))


def markers_from_keypoints(xyz: np.ndarray, markers: MarkerSet) -> np.ndarray:
    """(F, M, 3) marker positions from keypoints ``xyz`` (F, K, 3) metres, world frame; NaN
    where a keypoint it needs is missing."""
    xyz = np.asarray(xyz, float)
    return np.stack([xyz[:, list(src)].mean(1) for src in markers.sources], 1)


#: Markers a frame needs for IK: without one, a leg's angles are left to the solver's whim
#: (a missing ankle: the knee snaps to a range limit).
LEG_MARKERS = ("LHip", "RHip", "LKnee", "RKnee", "LAnkle", "RAnkle")


def solvable_frames(markers_xyz: np.ndarray, names, min_fraction: float = 0.6) -> np.ndarray:
    """(F,) bool: frames IK can solve, those with the hip, knee and ankle markers of both legs
    (:data:`LEG_MARKERS`) and at least ``min_fraction`` of all markers; markers_xyz (F, M, 3)."""
    ok = np.isfinite(markers_xyz).all(-1)
    legs = [names.index(n) for n in LEG_MARKERS if n in names]
    return ok[:, legs].all(1) & (ok.mean(1) >= min_fraction)


def _angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(F,) unsigned angle between (F, 3) vectors, degrees."""
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def upright_frames(xyz: np.ndarray, format_name: str, usable: np.ndarray,
                   max_knee_deg: float = 20.0, max_trunk_deg: float = 15.0,
                   min_frames: int = 10) -> np.ndarray:
    """Indices of the frames the model is scaled from: where the person stands upright.

    Upright: both knees within ``max_knee_deg`` of straight and the trunk (mid-hips to
    mid-shoulders) within ``max_trunk_deg`` of vertical, among the ``usable`` (F,) frames.
    When fewer than ``min_frames`` qualify (a walk, a jog), the ``min_frames`` usable frames
    with the straightest knees and trunk are taken instead; segment lengths between markers
    on one segment do not depend on the pose, so the straightest frames serve.

    Args:
        xyz: (F, K, 3) keypoints, metres, world frame (Z up).
    Returns:
        (S,) frame indices, sorted; empty when no frame is usable.
    """
    fmt = get_format(format_name)

    def at(name):
        if name in fmt.joint_names:
            return xyz[:, fmt.joint_names.index(name)]
        return xyz[:, [fmt.joint_names.index(j) for j in fmt.virtual[name]]].mean(1)
    knee = np.maximum(*[_angle_deg(at(f"{s}_knee") - at(f"{s}_hip"),
                                   at(f"{s}_ankle") - at(f"{s}_knee")) for s in ("left", "right")])
    mid = lambda a, b: 0.5 * (at(a) + at(b))     # noqa: E731
    trunk = _angle_deg(mid("left_shoulder", "right_shoulder") - mid("left_hip", "right_hip"),
                       np.array([[0.0, 0.0, 1.0]]))
    score = np.where(usable & np.isfinite(knee) & np.isfinite(trunk),
                     knee / max_knee_deg + trunk / max_trunk_deg, np.inf)
    with np.errstate(invalid="ignore"):
        good = np.flatnonzero((knee <= max_knee_deg) & (trunk <= max_trunk_deg)
                              & np.isfinite(score))
    if len(good) >= min_frames:
        return good
    best = np.argsort(score, kind="stable")[:min_frames]
    return np.sort(best[np.isfinite(score[best])])
