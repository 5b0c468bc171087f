"""Keypoint formats: joint names, bones, left/right pairs, and the mapping between formats.

Every format lists its joints in the order its tool writes them (``native_names``, e.g.
OpenPose's ``"LShoulder"``) and, in the same order, a *canonical* name from one shared
vocabulary (``"left_shoulder"``). Two formats share a joint when they share its canonical name,
which is how data moves from one format to another and how the virtual studio knows where each
joint sits on its body.

``bones`` are (parent, child) pairs of canonical names that form a tree; formats without a
joint at the pelvis or neck declare *virtual* joints, midpoints of two real joints, so that the
tree has a root (the pelvis) for skeleton export. Left/right pairs are derived from the
``left_``/``right_`` prefixes, so they are symmetric by construction.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from .errors import KeypointFormatError

__all__ = ["KeypointFormat", "get_format", "FORMATS", "format_names", "convert_keypoints",
           "BODY_PARTS", "body_part"]


@dataclass(frozen=True)
class KeypointFormat:
    """A named keypoint layout.

    Attributes:
        name: registry key, e.g. ``"body25"``.
        joint_names: canonical names, in the format's own order, (J,).
        native_names: the names the format's tool uses, same order, (J,).
        bones: (parent, child) canonical names forming a tree rooted at ``root``; may use
            virtual joints.
        virtual: virtual joint name -> (a, b): the midpoint of real joints a and b.
        root: canonical name of the tree's root (a real or virtual joint).
        description: one line for help texts.
        kinematic: the joints are the centres of a skeleton's joints (SMPL, Human3.6M), so
            every bone keeps its length; otherwise they are landmarks on the body and only
            bones within one rigid segment do (see :attr:`rigid_bone_indices`).
        body_format: for a whole-body format (body plus hands), the format of its body part,
            which a body is fitted to (empty: the format itself).
    """

    name: str
    joint_names: tuple[str, ...]
    native_names: tuple[str, ...]
    bones: tuple[tuple[str, str], ...]
    virtual: dict = field(default_factory=dict)
    root: str = "pelvis"
    description: str = ""
    kinematic: bool = False
    body_format: str = ""

    def __post_init__(self) -> None:
        if len(self.joint_names) != len(self.native_names):
            raise KeypointFormatError(
                f"format {self.name!r}: {len(self.joint_names)} canonical names but "
                f"{len(self.native_names)} native names")
        if len(set(self.joint_names)) != len(self.joint_names):
            raise KeypointFormatError(f"format {self.name!r}: duplicate joint names")

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    def index(self, name: str) -> int:
        """Index of a joint given by canonical or native name."""
        for names in (self.joint_names, self.native_names):
            if name in names:
                return names.index(name)
        raise KeypointFormatError(
            f"format {self.name!r} has no joint {name!r}; its joints are "
            f"{', '.join(self.joint_names)}")

    @cached_property
    def lr_pairs(self) -> tuple[tuple[int, int], ...]:
        """(left index, right index) for every joint whose mirror is also in the format."""
        pairs = []
        for i, n in enumerate(self.joint_names):
            if n.startswith("left_"):
                mirror = "right_" + n[len("left_"):]
                if mirror in self.joint_names:
                    pairs.append((i, self.joint_names.index(mirror)))
        return tuple(pairs)

    @cached_property
    def flip_permutation(self) -> np.ndarray:
        """(J,) int: index permutation that exchanges left and right joints."""
        perm = np.arange(self.num_joints)
        for a, b in self.lr_pairs:
            perm[a], perm[b] = b, a
        return perm

    @cached_property
    def bone_indices(self) -> np.ndarray:
        """(B, 2) int: bones between two *real* joints of the format, as indices."""
        idx = {n: i for i, n in enumerate(self.joint_names)}
        return np.array([(idx[a], idx[b]) for a, b in self.bones if a in idx and b in idx],
                        dtype=int).reshape(-1, 2)

    @cached_property
    def rigid_bone_indices(self) -> np.ndarray:
        """(B', 2) int: the bones whose length stays constant while the body moves: every
        bone of a kinematic format; for landmark formats, the bones within one rigid segment
        (thigh, shank, upper arm, forearm, foot, skull, pelvis), not chords across the spine,
        the shoulder girdle or the neck (BODY_25's neck-to-mid-hip spans 541-615 mm
        through a squat)."""
        if self.kinematic:
            return self.bone_indices
        side = lambda n: n.removeprefix("left_").removeprefix("right_")  # noqa: E731
        keep = [(a, b) for a, b in self.bone_indices.tolist()
                if frozenset((side(self.joint_names[a]), side(self.joint_names[b]))) in RIGID_PAIRS]
        return np.array(keep, dtype=int).reshape(-1, 2)

    @cached_property
    def part_weights(self) -> np.ndarray:
        """(J,) float: each keypoint's share of the rigid body part it measures,
        ``1 / n`` where ``n`` is the number of this format's keypoints on that part
        (:func:`body_part`): BlazePose's 11 face points weigh 1/11 each, so that the head
        counts as much as a hip, not eleven times; a keypoint alone on its part weighs 1.

        A detector's error on one part is mostly shared by all its points (a constant
        offset of the whole face, say), so n points on one rigid part carry about one
        point's worth of evidence about the body's pose; weighted by count, the part with
        most points would pull the fitted body to its own bias.
        """
        parts = [body_part(n) for n in self.joint_names]
        counts = {p: parts.count(p) for p in parts}
        return np.array([1.0 / counts[p] for p in parts])

    @cached_property
    def tree(self) -> tuple[tuple[str, ...], np.ndarray]:
        """The export tree: names (real joints then virtual ones, ordered parents first) and
        parents (N,) int with -1 for the root."""
        parent_of = {c: p for p, c in self.bones}
        names_all = list(self.joint_names) + [v for v in self.virtual if v not in self.joint_names]
        order: list[str] = []

        def visit(n: str) -> None:
            if n in order:
                return
            if n in parent_of:
                visit(parent_of[n])
            order.append(n)

        visit(self.root)
        for n in names_all:
            visit(n)
        parents = np.array([order.index(parent_of[n]) if n in parent_of else -1 for n in order])
        return tuple(order), parents

    def tree_positions(self, xyz: np.ndarray) -> np.ndarray:
        """Positions of the export tree's joints.

        Args:
            xyz: (..., J, 3) positions of this format's joints (NaN = missing).
        Returns:
            (..., N, 3) positions in the order of ``tree[0]``; virtual joints are midpoints.
        """
        names, _ = self.tree
        out = []
        for n in names:
            if n in self.joint_names:
                out.append(xyz[..., self.joint_names.index(n), :])
            else:
                a, b = self.virtual[n]
                ia, ib = self.joint_names.index(a), self.joint_names.index(b)
                out.append(0.5 * (xyz[..., ia, :] + xyz[..., ib, :]))
        return np.stack(out, axis=-2)


#: Canonical joint names (sides dropped) that lie on one rigid body segment: the landmark
#: bones that keep their length.
RIGID_PAIRS = frozenset(frozenset(p) for p in (
    ("hip", "knee"), ("knee", "ankle"), ("shoulder", "elbow"), ("elbow", "wrist"),
    ("ankle", "heel"), ("ankle", "big_toe"), ("ankle", "small_toe"), ("big_toe", "small_toe"),
    ("heel", "big_toe"), ("ankle", "foot"), ("hip", "pelvis"), ("head_top", "upper_neck"),
    ("nose", "eye"), ("eye", "ear"), ("nose", "eye_inner"), ("eye_inner", "eye"),
    ("eye", "eye_outer"), ("eye_outer", "ear"), ("nose", "mouth"), ("head_top", "nose"),
    # finger bones (phalanges) and the palm's (metacarpals) of the hand formats
    ("thumb_cmc", "thumb_mcp"), ("thumb_mcp", "thumb_ip"), ("thumb_ip", "thumb_tip"),
    ("hand_wrist", "thumb_cmc"),
    *(("hand_wrist", f"{d}_mcp") for d in ("index", "middle", "ring", "pinky")),
    *((f"{d}_{a}", f"{d}_{b}") for d in ("index", "middle", "ring", "pinky")
      for a, b in (("mcp", "pip"), ("pip", "dip"), ("dip", "tip"))),
))


#: Rigid body parts that several keypoints of a format can measure together, by canonical
#: name without the side: the head (the face's landmarks, the top of the head, SMPL's head
#: joint), each hand (the wrist, BlazePose's knuckles ``pinky``, ``index``, ``thumb``, SMPL's
#: hand joint, and the palm's points of the hand formats) and each foot (the ankle, heel,
#: toes, SMPL's foot joint). Every other keypoint is a part of its own.
BODY_PARTS = {
    "head": ("nose", "eye", "eye_inner", "eye_outer", "ear", "mouth", "head_top", "head"),
    "hand": ("wrist", "pinky", "index", "thumb", "hand", "hand_wrist", "thumb_cmc",
             "index_mcp", "middle_mcp", "ring_mcp", "pinky_mcp"),
    "foot": ("ankle", "heel", "big_toe", "small_toe", "foot"),
}
_PART_OF = {n: part for part, names in BODY_PARTS.items() for n in names}


def body_part(canonical: str) -> str:
    """The rigid body part a keypoint lies on (:data:`BODY_PARTS`), with its side for the
    sided parts (``"left_pinky"`` -> ``"left_hand"``, ``"left_eye"`` -> ``"head"``); a
    keypoint on no listed part is its own part (its canonical name)."""
    side, base = "", canonical
    for s in ("left_", "right_"):
        if canonical.startswith(s):
            side, base = s, canonical[len(s):]
    part = _PART_OF.get(base)
    if part is None:
        return canonical
    return part if part == "head" else side + part


def _fmt(name, pairs, bones, virtual=None, root="pelvis", description="", kinematic=False,
         body_format=""):
    native = tuple(p[0] for p in pairs)
    canon = tuple(p[1] for p in pairs)
    return KeypointFormat(name=name, joint_names=canon, native_names=native,
                          bones=tuple(bones), virtual=dict(virtual or {}), root=root,
                          description=description, kinematic=kinematic,
                          body_format=body_format)


def _limbs(root: str, neck: str) -> list[tuple[str, str]]:
    """Bones of arms and legs shared by most formats."""
    bones = []
    for s in ("left", "right"):
        bones += [(root, f"{s}_hip"), (f"{s}_hip", f"{s}_knee"), (f"{s}_knee", f"{s}_ankle"),
                  (neck, f"{s}_shoulder"), (f"{s}_shoulder", f"{s}_elbow"),
                  (f"{s}_elbow", f"{s}_wrist")]
    return bones


def _feet() -> list[tuple[str, str]]:
    bones = []
    for s in ("left", "right"):
        bones += [(f"{s}_ankle", f"{s}_heel"), (f"{s}_ankle", f"{s}_big_toe"),
                  (f"{s}_big_toe", f"{s}_small_toe")]
    return bones


def _face(head: str) -> list[tuple[str, str]]:
    return [(head, "left_eye"), (head, "right_eye"), ("left_eye", "left_ear"),
            ("right_eye", "right_ear")]


_COCO17 = [("nose", "nose"), ("left_eye", "left_eye"), ("right_eye", "right_eye"),
           ("left_ear", "left_ear"), ("right_ear", "right_ear"),
           ("left_shoulder", "left_shoulder"), ("right_shoulder", "right_shoulder"),
           ("left_elbow", "left_elbow"), ("right_elbow", "right_elbow"),
           ("left_wrist", "left_wrist"), ("right_wrist", "right_wrist"),
           ("left_hip", "left_hip"), ("right_hip", "right_hip"), ("left_knee", "left_knee"),
           ("right_knee", "right_knee"), ("left_ankle", "left_ankle"),
           ("right_ankle", "right_ankle")]
# The same 17 joints as OpenPose-family tools name them (BODY_25B, HALPE_26, Pose2Sim).
_COCO17_OP = [("Nose", "nose"), ("LEye", "left_eye"), ("REye", "right_eye"),
              ("LEar", "left_ear"), ("REar", "right_ear"), ("LShoulder", "left_shoulder"),
              ("RShoulder", "right_shoulder"), ("LElbow", "left_elbow"),
              ("RElbow", "right_elbow"), ("LWrist", "left_wrist"), ("RWrist", "right_wrist"),
              ("LHip", "left_hip"), ("RHip", "right_hip"), ("LKnee", "left_knee"),
              ("RKnee", "right_knee"), ("LAnkle", "left_ankle"), ("RAnkle", "right_ankle")]
_MID = {"pelvis": ("left_hip", "right_hip"), "neck": ("left_shoulder", "right_shoulder")}

COCO17 = _fmt("coco17", _COCO17,
              _limbs("pelvis", "neck") + [("pelvis", "neck"), ("neck", "nose")] + _face("nose"),
              virtual=_MID, description="COCO 17 keypoints (MMPose, RTMPose, ViTPose, YOLO)")

BODY25 = _fmt("body25", [
    ("Nose", "nose"), ("Neck", "neck"), ("RShoulder", "right_shoulder"),
    ("RElbow", "right_elbow"), ("RWrist", "right_wrist"), ("LShoulder", "left_shoulder"),
    ("LElbow", "left_elbow"), ("LWrist", "left_wrist"), ("MidHip", "pelvis"),
    ("RHip", "right_hip"), ("RKnee", "right_knee"), ("RAnkle", "right_ankle"),
    ("LHip", "left_hip"), ("LKnee", "left_knee"), ("LAnkle", "left_ankle"),
    ("REye", "right_eye"), ("LEye", "left_eye"), ("REar", "right_ear"), ("LEar", "left_ear"),
    ("LBigToe", "left_big_toe"), ("LSmallToe", "left_small_toe"), ("LHeel", "left_heel"),
    ("RBigToe", "right_big_toe"), ("RSmallToe", "right_small_toe"), ("RHeel", "right_heel")],
    _limbs("pelvis", "neck") + [("pelvis", "neck"), ("neck", "nose")] + _face("nose") + _feet(),
    description="OpenPose BODY_25")

BODY25B = _fmt("body25b", _COCO17_OP + [
    ("Neck", "upper_neck"), ("Head", "head_top"), ("LBigToe", "left_big_toe"),
    ("LSmallToe", "left_small_toe"), ("LHeel", "left_heel"), ("RBigToe", "right_big_toe"),
    ("RSmallToe", "right_small_toe"), ("RHeel", "right_heel")],
    _limbs("pelvis", "neck") + [("pelvis", "neck"), ("neck", "upper_neck"),
                                ("upper_neck", "nose"), ("upper_neck", "head_top")]
    + _face("nose") + _feet(),
    virtual=_MID, description="OpenPose BODY_25B (experimental; joint names as Pose2Sim writes them)")

HALPE26 = _fmt("halpe26", _COCO17_OP + [
    ("Head", "head_top"), ("Neck", "neck"), ("Hip", "pelvis"), ("LBigToe", "left_big_toe"),
    ("RBigToe", "right_big_toe"), ("LSmallToe", "left_small_toe"),
    ("RSmallToe", "right_small_toe"), ("LHeel", "left_heel"), ("RHeel", "right_heel")],
    _limbs("pelvis", "neck") + [("pelvis", "neck"), ("neck", "nose"), ("nose", "head_top")]
    + _face("nose") + _feet(),
    description="Halpe 26 (AlphaPose, RTMPose body+feet)")

_BP_NAMES = [
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
    "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel",
    "right_heel", "left_foot_index", "right_foot_index"]
_BP_CANON = {"mouth_left": "left_mouth", "mouth_right": "right_mouth",
             "left_foot_index": "left_big_toe", "right_foot_index": "right_big_toe"}
BLAZEPOSE33 = _fmt(
    "blazepose33", [(n, _BP_CANON.get(n, n)) for n in _BP_NAMES],
    _limbs("pelvis", "neck") + [("pelvis", "neck"), ("neck", "nose")]
    + [(b, c) for s in ("left", "right") for b, c in (
        ("nose", f"{s}_eye_inner"), (f"{s}_eye_inner", f"{s}_eye"), (f"{s}_eye", f"{s}_eye_outer"),
        (f"{s}_eye_outer", f"{s}_ear"), ("nose", f"{s}_mouth"), (f"{s}_wrist", f"{s}_pinky"),
        (f"{s}_wrist", f"{s}_index"), (f"{s}_wrist", f"{s}_thumb"), (f"{s}_ankle", f"{s}_heel"),
        (f"{s}_ankle", f"{s}_big_toe"))],
    virtual=_MID, description="MediaPipe BlazePose 33 landmarks")

#: MediaPipe Hands' 21 points in its order: (native name, canonical name), both without the
#: side; native names as MediaPipe's ``HandLandmark`` enum, but the hand's own wrist point is
#: ``hand_wrist`` (apart from the body's ``wrist``).
HAND21 = (("hand_wrist", "hand_wrist"), ("thumb_cmc", "thumb_cmc"), ("thumb_mcp", "thumb_mcp"),
          ("thumb_ip", "thumb_ip"), ("thumb_tip", "thumb_tip")) + tuple(
    (f"{d}{'_finger' if d != 'pinky' else ''}_{j}", f"{d}_{j}")
    for d in ("index", "middle", "ring", "pinky") for j in ("mcp", "pip", "dip", "tip"))


def _hand_bones(side: str) -> list[tuple[str, str]]:
    """The hand's tree: body wrist -> hand wrist -> each digit's chain (thumb from its CMC)."""
    s = f"{side}_"
    chains = [("hand_wrist", "thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip")] + [
        ("hand_wrist",) + tuple(f"{d}_{j}" for j in ("mcp", "pip", "dip", "tip"))
        for d in ("index", "middle", "ring", "pinky")]
    return [(f"{side}_wrist", s + "hand_wrist")] + [
        (s + a, s + b) for chain in chains for a, b in zip(chain[:-1], chain[1:])]


BLAZEPOSE75 = _fmt(
    "blazepose75", [(n, _BP_CANON.get(n, n)) for n in _BP_NAMES]
    + [(f"{side}_{native}", f"{side}_{canon}") for side in ("left", "right")
       for native, canon in HAND21],
    BLAZEPOSE33.bones + tuple(_hand_bones("left")) + tuple(_hand_bones("right")),
    virtual=_MID, body_format="blazepose33",
    description="MediaPipe BlazePose 33 landmarks, then 21 MediaPipe Hands points per hand "
                "(left, right)")

H36M17 = _fmt("h36m17", [
    ("Hip", "pelvis"), ("RHip", "right_hip"), ("RKnee", "right_knee"), ("RFoot", "right_ankle"),
    ("LHip", "left_hip"), ("LKnee", "left_knee"), ("LFoot", "left_ankle"), ("Spine", "spine2"),
    ("Thorax", "neck"), ("Neck/Nose", "upper_neck"), ("Head", "head_top"),
    ("LShoulder", "left_shoulder"), ("LElbow", "left_elbow"), ("LWrist", "left_wrist"),
    ("RShoulder", "right_shoulder"), ("RElbow", "right_elbow"), ("RWrist", "right_wrist")],
    [b for b in _limbs("pelvis", "neck")] + [("pelvis", "spine2"), ("spine2", "neck"),
                                              ("neck", "upper_neck"), ("upper_neck", "head_top")],
    description="Human3.6M 17 joints", kinematic=True)

SMPL24 = _fmt("smpl24", [
    ("pelvis", "pelvis"), ("left_hip", "left_hip"), ("right_hip", "right_hip"),
    ("spine1", "spine1"), ("left_knee", "left_knee"), ("right_knee", "right_knee"),
    ("spine2", "spine2"), ("left_ankle", "left_ankle"), ("right_ankle", "right_ankle"),
    ("spine3", "spine3"), ("left_foot", "left_foot"), ("right_foot", "right_foot"),
    ("neck", "neck"), ("left_collar", "left_collar"), ("right_collar", "right_collar"),
    ("head", "head"), ("left_shoulder", "left_shoulder"), ("right_shoulder", "right_shoulder"),
    ("left_elbow", "left_elbow"), ("right_elbow", "right_elbow"), ("left_wrist", "left_wrist"),
    ("right_wrist", "right_wrist"), ("left_hand", "left_hand"), ("right_hand", "right_hand")],
    [("pelvis", "spine1"), ("spine1", "spine2"), ("spine2", "spine3"), ("spine3", "neck"),
     ("neck", "head")]
    + [(b, c) for s in ("left", "right") for b, c in (
        ("pelvis", f"{s}_hip"), (f"{s}_hip", f"{s}_knee"), (f"{s}_knee", f"{s}_ankle"),
        (f"{s}_ankle", f"{s}_foot"), ("spine3", f"{s}_collar"), (f"{s}_collar", f"{s}_shoulder"),
        (f"{s}_shoulder", f"{s}_elbow"), (f"{s}_elbow", f"{s}_wrist"), (f"{s}_wrist", f"{s}_hand"))],
    description="SMPL 24 joints (kinematic tree of the SMPL body model)", kinematic=True)

COCO18 = _fmt("coco18", [
    ("Nose", "nose"), ("Neck", "neck"), ("RShoulder", "right_shoulder"),
    ("RElbow", "right_elbow"), ("RWrist", "right_wrist"), ("LShoulder", "left_shoulder"),
    ("LElbow", "left_elbow"), ("LWrist", "left_wrist"), ("RHip", "right_hip"),
    ("RKnee", "right_knee"), ("RAnkle", "right_ankle"), ("LHip", "left_hip"),
    ("LKnee", "left_knee"), ("LAnkle", "left_ankle"), ("REye", "right_eye"),
    ("LEye", "left_eye"), ("REar", "right_ear"), ("LEar", "left_ear")],
    _limbs("pelvis", "neck") + [("pelvis", "neck"), ("neck", "nose")] + _face("nose"),
    virtual={"pelvis": ("left_hip", "right_hip")},
    description="OpenPose COCO 18 (COCO 17 plus the neck, in OpenPose's order)")

FORMATS: dict[str, KeypointFormat] = {f.name: f for f in (
    COCO17, COCO18, BODY25, BODY25B, HALPE26, BLAZEPOSE33, H36M17, SMPL24, BLAZEPOSE75)}
_ALIASES = {"coco": "coco17", "coco_18": "coco18", "openpose_coco": "coco18",
            "body_25": "body25", "body_25b": "body25b", "halpe": "halpe26",
            "halpe_26": "halpe26", "blazepose": "blazepose33", "mediapipe": "blazepose33",
            "h36m": "h36m17", "smpl": "smpl24", "blazepose_hands": "blazepose75",
            "wholebody": "blazepose75"}


def format_names() -> tuple[str, ...]:
    return tuple(FORMATS)


def get_format(name: "str | KeypointFormat") -> KeypointFormat:
    """Look a format up by name (case- and underscore-insensitive aliases accepted)."""
    if isinstance(name, KeypointFormat):
        return name
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    if key not in FORMATS:
        raise KeypointFormatError(
            f"unknown keypoint format {name!r}; expected one of {', '.join(FORMATS)}")
    return FORMATS[key]


def convert_keypoints(values: np.ndarray, src: "str | KeypointFormat",
                      dst: "str | KeypointFormat", axis: int = -2,
                      fill: float = np.nan) -> np.ndarray:
    """Re-index per-joint data from one format to another by canonical name.

    Args:
        values: array whose ``axis`` runs over ``src``'s joints (e.g. (..., J, 2) pixels or
            (..., J) confidences).
        axis: the joint axis of ``values``.
        fill: value for destination joints the source does not have (NaN by default; use 0
            for confidences).
    Returns:
        the same array with ``axis`` running over ``dst``'s joints.
    """
    s, d = get_format(src), get_format(dst)
    values = np.asarray(values)
    axis = axis % values.ndim
    if values.shape[axis] != s.num_joints:
        raise KeypointFormatError(
            f"data has {values.shape[axis]} joints on axis {axis}, format {s.name!r} has "
            f"{s.num_joints}")
    shape = list(values.shape)
    shape[axis] = d.num_joints
    out = np.full(shape, fill, dtype=np.result_type(values.dtype, np.float32))
    for j, n in enumerate(d.joint_names):
        if n in s.joint_names:
            src_idx = [slice(None)] * values.ndim
            dst_idx = [slice(None)] * values.ndim
            src_idx[axis] = s.joint_names.index(n)
            dst_idx[axis] = j
            out[tuple(dst_idx)] = values[tuple(src_idx)]
    return out
