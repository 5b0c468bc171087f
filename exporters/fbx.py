"""FBX export and import of a ``Skeleton`` + ``Motion`` (+ a skinned mesh): the mapping onto
``exporters.fbx_format`` (which knows nothing of motion capture).

What ``write_fbx`` writes (binary FBX 7.4 by default, or 7.5):

- Axes: ``up="y"`` (default) converts the internal Z-up world with ``zup_to_yup``
  ((x, y, z) -> (x, z, -y)) and states "Y up, front +Z, coord +X" in ``GlobalSettings`` (the
  axes Blender's exporter writes for forward -Z, up Y); ``up="z"`` writes the internal axes
  and states "Z up, front -Y, coord +X" (Blender's own system). Either way Blender, which
  reads these settings, puts every joint back at our world coordinates, Z up.
- Units: ``units="m"`` (default), ``"cm"`` or ``"mm"``; ``GlobalSettings.UnitScaleFactor``
  says how many centimetres one file unit is (100 for metres), so an importer that honours it
  (Blender does) gets metres whatever is chosen.
- Time: keys at ``f / fps`` seconds in KTime ticks (``KTIME_PER_SECOND``); ``TimeMode`` is
  the FBX enum of the take's rate when it has one (30, 60, 25, 29.97...), otherwise "custom"
  with ``CustomFrameRate = fps``. The take (``AnimationStack`` and ``Takes``) spans frames
  0 to F - 1. Blender's importer starts the keys at frame 1 (its "animation offset").
- An armature: a ``Null`` model (``armature_name``) holding one ``LimbNode`` model per joint,
  in the skeleton's order, parented as the skeleton is. A ``BindPose`` gives every node's rest
  matrix (global).
- Bone frames: at rest each joint's node is rotated so that its local +Y axis points from
  the joint to its children (to their mean position; a leaf continues its own bone) and its
  +X axis is as close as possible to the file's +X (``bone_frames``). Importers that draw
  bones along the node's Y axis (Blender, Maya, Mixamo rigs) then show bones along the limbs
  with a consistent roll, instead of every bone pointing up. Positions do not depend on this
  choice: with ``G[j]`` the rest frame of node ``j`` and ``L[j]`` our local rotation (file
  axes), the node's ``Lcl Translation`` is ``G[parent]^T @ offset[j]`` and its ``Lcl Rotation``
  is ``G[parent]^T @ L[j] @ G[j]``, so its global position is exactly our joint's.
- Baked animation curves: for every joint, ``Lcl Rotation`` X/Y/Z in degrees, Euler order
  XYZ (FBX ``RotationOrder`` 0: the matrix is ``Rz @ Ry @ Rx``), unwrapped over time so
  consecutive keys never jump by 360 degrees; for the root also ``Lcl Translation``. One key
  per frame, linear interpolation, values as float32 (what FBX stores).
- Optionally the skinned mesh (``SkinnedMesh``): a ``Mesh`` geometry in the rest pose, a
  ``Skin`` deformer and one ``Cluster`` per joint that has weights (vertex indices, weights,
  ``Transform``/``TransformLink`` bind matrices), so the importer builds vertex groups named
  after the joints and an armature modifier.

``read_fbx`` reads such files (and other FBX files with one ``LimbNode`` hierarchy and
curves on ``Lcl Translation``/``Lcl Rotation``) back into the internal Z-up metres frame. The
rest pose is the nodes' static ``Lcl`` values, the frame rate comes from ``GlobalSettings``
and the frame range from the first ``AnimationStack``.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from exporters.axes import check_up_units, rotation_yup_to_zup, rotation_zup_to_yup, to_file_points, yup_to_zup
from exporters.errors import ExportError, FormatError, MotionError, SkeletonError
from exporters.fbx_format import (
    CREATION_TIME,
    FILE_ID,
    KTIME_PER_SECOND,
    FbxDocument,
    FbxNode,
    Property,
    decode_document,
    object_name,
    properties70_values,
    property70,
    split_object_name,
    write_document,
)
from exporters.mesh import SkinnedMesh
from exporters.skeleton import Motion, Skeleton

__all__ = [
    "FbxScene",
    "TIME_MODES",
    "AXIS_SETTINGS",
    "write_fbx",
    "read_fbx",
    "skeleton_motion_to_fbx",
    "fbx_to_scene",
    "bone_frames",
    "unwrapped_euler_xyz",
]

logger = logging.getLogger(__name__)

AXIS_SETTINGS = {
    "y": {"UpAxis": 1, "UpAxisSign": 1, "FrontAxis": 2, "FrontAxisSign": 1, "CoordAxis": 0, "CoordAxisSign": 1},
    "z": {"UpAxis": 2, "UpAxisSign": 1, "FrontAxis": 1, "FrontAxisSign": -1, "CoordAxis": 0, "CoordAxisSign": 1},
}
"""``GlobalSettings`` axis entries written for ``up="y"`` and ``up="z"``."""
TIME_MODES = (
    (120.0, 1), (100.0, 2), (60.0, 3), (50.0, 4), (48.0, 5), (30.0, 6), (30.0 / 1.001, 9), (25.0, 10),
    (24.0, 11), (24.0 / 1.001, 13), (96.0, 15), (72.0, 16), (60.0 / 1.001, 17), (120.0 / 1.001, 18),
)
"""(frames per second, FBX ``TimeMode`` enum) of the standard rates."""
CUSTOM_TIME_MODE = 14
"""``TimeMode`` meaning "custom": the rate is ``CustomFrameRate``."""
KEY_LINEAR = 0x00000004
"""``KeyAttrFlags`` value of a linearly interpolated key (FbxAnimCurveDef::eInterpolationLinear)."""
CREATOR = "mocap-studio exporters.fbx"
_EULER_ORDERS = {0: "xyz", 1: "xzy", 2: "yzx", 3: "yxz", 4: "zxy", 5: "zyx"}
"""FBX ``RotationOrder`` enum -> scipy extrinsic order (eEulerXYZ: ``Rz @ Ry @ Rx``)."""


@dataclass(frozen=True, eq=False)
class FbxScene:
    """What ``read_fbx`` gives back.

    Attributes:
        skeleton: joints in file order (the writer's order), offsets in metres, Z up.
        motion: local rotations and root positions (metres, Z up), fps from the file.
        mesh: the skinned mesh in the rest pose, or None when the file has none.
    """

    skeleton: Skeleton
    motion: Motion
    mesh: SkinnedMesh | None = None


# ----------------------------------------------------------------------------- geometry helpers




def bone_frames(rest_positions: np.ndarray, parents: np.ndarray) -> np.ndarray:
    """Rest orientation of every joint's node: +Y along the bone, +X towards the file's +X.

    Args:
        rest_positions: (J, 3) joint positions in the rest pose (any axes and units).
        parents: (J,) parent indices, -1 for the root (joint 0).

    Returns:
        (J, 3, 3) rotations whose columns are the node's X, Y, Z axes in the same frame. Y is
        the unit vector from the joint to the mean of its children (a leaf: its own bone's
        direction); X is the file's +X made perpendicular to Y (the file's -Z, then +Y, when
        +X is within 1e-3 of Y); Z = X x Y. A joint with no usable direction (zero-length
        bones) gets its parent's frame, the root the identity.
    """
    rest_positions = np.asarray(rest_positions, dtype=np.float64)
    num = rest_positions.shape[0]
    frames = np.empty((num, 3, 3))
    for j in range(num):
        kids = np.flatnonzero(parents == j)
        if kids.size:
            y = rest_positions[kids].mean(axis=0) - rest_positions[j]
        elif parents[j] >= 0:
            y = rest_positions[j] - rest_positions[parents[j]]
        else:
            y = np.zeros(3)
        length = np.linalg.norm(y)
        if length < 1e-9:
            frames[j] = frames[parents[j]] if parents[j] >= 0 else np.eye(3)
            continue
        y = y / length
        for reference in (np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.0, -1.0]), np.array([0.0, 1.0, 0.0])):
            x = reference - (reference @ y) * y
            if np.linalg.norm(x) > 1e-3:
                break
        x = x / np.linalg.norm(x)
        frames[j] = np.stack([x, y, np.cross(x, y)], axis=1)
    return frames


def unwrapped_euler_xyz(rotations: np.ndarray) -> np.ndarray:
    """FBX Euler angles (order XYZ, ``R = Rz(z) @ Ry(y) @ Rx(x)``), continuous over frames.

    Args:
        rotations: (F, J, 3, 3) rotation matrices.

    Returns:
        (F, J, 3) degrees (x, y, z). Frame 0 has ``y`` in [-90, 90]; each later frame takes,
        of the two Euler triples of its matrix ((x, y, z) and (x + 180, 180 - y, z + 180)),
        each shifted by multiples of 360 degrees, the one closest to the previous frame's, so
        that interpolating between keys never spins the long way round.
    """
    rotations = np.asarray(rotations, dtype=np.float64)
    frames, joints = rotations.shape[:2]
    if frames == 0:
        return np.zeros((0, joints, 3))
    with warnings.catch_warnings():  # at gimbal lock any split of the outer angles is exact
        warnings.filterwarnings("ignore", message=".*[Gg]imbal lock.*")
        angles = Rotation.from_matrix(rotations.reshape(-1, 3, 3)).as_euler("xyz", degrees=True)
    angles = angles.reshape(frames, joints, 3)
    alternative = np.stack([angles[..., 0] + 180.0, 180.0 - angles[..., 1], angles[..., 2] + 180.0], axis=-1)
    out = np.empty_like(angles)
    out[0] = angles[0]
    for f in range(1, frames):
        previous = out[f - 1]
        a = angles[f] + 360.0 * np.round((previous - angles[f]) / 360.0)
        b = alternative[f] + 360.0 * np.round((previous - alternative[f]) / 360.0)
        closer_a = np.sum((a - previous) ** 2, axis=-1) <= np.sum((b - previous) ** 2, axis=-1)
        out[f] = np.where(closer_a[:, None], a, b)
    return out


def _matrix44(rotation: np.ndarray, translation: np.ndarray) -> np.ndarray:
    """(4, 4) homogeneous matrix acting on column vectors."""
    out = np.eye(4)
    out[:3, :3] = rotation
    out[:3, 3] = translation
    return out


def _fbx_matrix(matrix: np.ndarray) -> np.ndarray:
    """(4, 4) column-vector matrix -> the 16 doubles FBX stores (column-major: translation at 12-14)."""
    return np.ascontiguousarray(matrix.T).reshape(16)


def _time_mode(fps: float) -> int:
    """FBX ``TimeMode`` enum of ``fps`` (``CUSTOM_TIME_MODE`` when it is not a standard rate)."""
    for rate, mode in TIME_MODES:
        if abs(fps - rate) <= 1e-6 * rate:
            return mode
    return CUSTOM_TIME_MODE


def _check_name(name: str, what: str) -> None:
    if "\x00" in name or "\x01" in name:
        raise ExportError(f"{what} {name!r}: expected no NUL or \\x01 characters in an FBX name, found some")


# ----------------------------------------------------------------------------- writing


class _Ids:
    """Deterministic object ids (int64, non-zero; 0 is the scene root)."""

    def __init__(self) -> None:
        self._next = 1_000_000_000

    def new(self) -> int:
        self._next += 1
        return self._next


def _header_nodes(version: int, up: str, unit_scale_cm: float, fps: float, stop_ticks: int) -> list[FbxNode]:
    """FBXHeaderExtension, FileId, CreationTime, Creator, GlobalSettings, Documents, References."""
    header = FbxNode("FBXHeaderExtension")
    header.add("FBXHeaderVersion", Property.i32(1003))
    header.add("FBXVersion", Property.i32(version))
    header.add("EncryptionType", Property.i32(0))
    stamp = header.add("CreationTimeStamp")
    for key, value in (("Version", 1000), ("Year", 1970), ("Month", 1), ("Day", 1), ("Hour", 10), ("Minute", 0),
                       ("Second", 0), ("Millisecond", 0)):
        stamp.add(key, Property.i32(value))
    header.add("Creator", Property.string(CREATOR))
    settings = FbxNode("GlobalSettings")
    settings.add("Version", Property.i32(1000))
    table = settings.add("Properties70")
    for key, value in AXIS_SETTINGS[up].items():
        table.children.append(property70(key, "int", "Integer", "", value))
    table.children.append(property70("OriginalUpAxis", "int", "Integer", "", AXIS_SETTINGS[up]["UpAxis"]))
    table.children.append(property70("OriginalUpAxisSign", "int", "Integer", "", 1))
    table.children.append(property70("UnitScaleFactor", "double", "Number", "", float(unit_scale_cm)))
    table.children.append(property70("OriginalUnitScaleFactor", "double", "Number", "", float(unit_scale_cm)))
    table.children.append(property70("TimeMode", "enum", "", "", _time_mode(fps)))
    table.children.append(property70("TimeProtocol", "enum", "", "", 2))
    table.children.append(property70("SnapOnFrameMode", "enum", "", "", 0))
    table.children.append(property70("TimeSpanStart", "KTime", "Time", "", 0))
    table.children.append(property70("TimeSpanStop", "KTime", "Time", "", int(stop_ticks)))
    table.children.append(property70("CustomFrameRate", "double", "Number", "", float(fps)))
    documents = FbxNode("Documents")
    documents.add("Count", Property.i32(1))
    document = documents.add("Document", Property.i64(999_999_999), Property.string(""), Property.string("Scene"))
    doc_table = document.add("Properties70")
    doc_table.children.append(property70("SourceObject", "object", "", ""))
    doc_table.children.append(property70("ActiveAnimStackName", "KString", "", "", "Take 001"))
    document.add("RootNode", Property.i64(0))
    return [header, FbxNode("FileId", [Property.raw(FILE_ID)]),
            FbxNode("CreationTime", [Property.string(CREATION_TIME)]),
            FbxNode("Creator", [Property.string(CREATOR)]), settings, documents, FbxNode("References")]


def _definitions(objects: FbxNode) -> FbxNode:
    """``Definitions``: how many objects of each type ``Objects`` holds (+ GlobalSettings)."""
    counts: dict[str, int] = {"GlobalSettings": 1}
    for node in objects.children:
        counts[node.name] = counts.get(node.name, 0) + 1
    definitions = FbxNode("Definitions")
    definitions.add("Version", Property.i32(100))
    definitions.add("Count", Property.i32(sum(counts.values())))
    for name, count in counts.items():
        definitions.add("ObjectType", Property.string(name)).add("Count", Property.i32(count))
    return definitions


def _model(ids: _Ids, name: str, kind: str, translation: np.ndarray, rotation_deg: np.ndarray) -> tuple[int, FbxNode]:
    """A ``Model`` object (``kind`` "Null", "LimbNode" or "Mesh") with static Lcl values."""
    uid = ids.new()
    node = FbxNode("Model", [Property.i64(uid), Property.string(object_name(name, "Model")), Property.string(kind)])
    node.add("Version", Property.i32(232))
    table = node.add("Properties70")
    table.children.append(property70("RotationOrder", "enum", "", "", 0))
    table.children.append(property70("InheritType", "enum", "", "", 1))
    table.children.append(property70("DefaultAttributeIndex", "int", "Integer", "", 0))
    table.children.append(property70("Lcl Translation", "Lcl Translation", "", "A", *map(float, translation)))
    table.children.append(property70("Lcl Rotation", "Lcl Rotation", "", "A", *map(float, rotation_deg)))
    table.children.append(property70("Lcl Scaling", "Lcl Scaling", "", "A", 1.0, 1.0, 1.0))
    node.add("Shading", Property.bool(True))
    node.add("Culling", Property.string("CullingOff"))
    return uid, node


def _node_attribute(ids: _Ids, name: str, kind: str, size: float = 1.0) -> tuple[int, FbxNode]:
    """A ``NodeAttribute`` ("Null" or "LimbNode")."""
    uid = ids.new()
    node = FbxNode("NodeAttribute", [Property.i64(uid), Property.string(object_name(name, "NodeAttribute")),
                                     Property.string(kind)])
    if kind == "LimbNode":
        node.add("Properties70").children.append(property70("Size", "double", "Number", "", float(size)))
        node.add("TypeFlags", Property.string("Skeleton"))
    else:
        node.add("TypeFlags", Property.string("Null"))
    return uid, node


def _curve(ids: _Ids, times: np.ndarray, values: np.ndarray) -> tuple[int, FbxNode]:
    """An ``AnimationCurve``: one linear key per time."""
    uid = ids.new()
    values32 = np.asarray(values, dtype=np.float32)
    node = FbxNode("AnimationCurve", [Property.i64(uid), Property.string(object_name("", "AnimCurve")),
                                      Property.string("")])
    node.add("Default", Property.f64(float(values32[0]) if values32.size else 0.0))
    node.add("KeyVer", Property.i32(4009))
    node.add("KeyTime", Property.array(np.asarray(times, dtype=np.int64)))
    node.add("KeyValueFloat", Property.array(values32))
    node.add("KeyAttrFlags", Property.array(np.array([KEY_LINEAR], dtype=np.int32)))
    node.add("KeyAttrDataFloat", Property.array(np.zeros(4, dtype=np.float32)))
    node.add("KeyAttrRefCount", Property.array(np.array([values32.size], dtype=np.int32)))
    return uid, node


class _SceneBuilder:
    """Collects objects and connections while a scene is mapped into FBX."""

    def __init__(self) -> None:
        self.ids = _Ids()
        self.objects = FbxNode("Objects")
        self.connections = FbxNode("Connections")

    def add(self, uid_node: tuple[int, FbxNode]) -> int:
        uid, node = uid_node
        self.objects.children.append(node)
        return uid

    def connect(self, child: int, parent: int, prop: str | None = None) -> None:
        if prop is None:
            self.connections.add("C", Property.string("OO"), Property.i64(child), Property.i64(parent))
        else:
            self.connections.add("C", Property.string("OP"), Property.i64(child), Property.i64(parent),
                                 Property.string(prop))

    def animate(self, layer: int, model: int, what: str, times: np.ndarray, values: np.ndarray) -> None:
        """Curve node ``what`` ("T" or "R") on ``model``'s Lcl property, values (F, 3)."""
        prop = {"T": "Lcl Translation", "R": "Lcl Rotation"}[what]
        uid = self.ids.new()
        node = FbxNode("AnimationCurveNode", [Property.i64(uid), Property.string(object_name(what, "AnimCurveNode")),
                                              Property.string("")])
        table = node.add("Properties70")
        for axis, column in zip("XYZ", values.T):
            table.children.append(property70(f"d|{axis}", "Number", "", "A", float(column[0])))
        self.objects.children.append(node)
        self.connect(uid, layer)
        self.connect(uid, model, prop)
        for axis, column in zip("XYZ", values.T):
            self.connect(self.add(_curve(self.ids, times, column)), uid, f"d|{axis}")


def _mesh_objects(builder: _SceneBuilder, mesh: SkinnedMesh, bone_ids: list[int], bind_globals: np.ndarray,
                  up: str, scale: float, names: tuple[str, ...]) -> int:
    """Geometry, Model, Skin and Clusters of ``mesh``; returns the mesh model's id."""
    _check_name(mesh.name, "mesh name")
    geometry_id = builder.ids.new()
    geometry = FbxNode("Geometry", [Property.i64(geometry_id), Property.string(object_name(mesh.name, "Geometry")),
                                    Property.string("Mesh")])
    geometry.add("Properties70")
    geometry.add("GeometryVersion", Property.i32(124))
    geometry.add("Vertices", Property.array(to_file_points(mesh.vertices, up, scale).reshape(-1)))
    polygon_index = mesh.faces.astype(np.int32).copy()
    polygon_index[:, -1] = ~polygon_index[:, -1]  # the last index of a polygon is stored as -(i + 1)
    geometry.add("PolygonVertexIndex", Property.array(polygon_index.reshape(-1)))
    layer = geometry.add("Layer", Property.i32(0))
    layer.add("Version", Property.i32(100))
    builder.objects.children.append(geometry)
    mesh_id = builder.add(_model(builder.ids, mesh.name, "Mesh", np.zeros(3), np.zeros(3)))
    builder.connect(mesh_id, 0)
    builder.connect(geometry_id, mesh_id)
    skin_id = builder.ids.new()
    skin = FbxNode("Deformer", [Property.i64(skin_id), Property.string(object_name(mesh.name, "Deformer")),
                                Property.string("Skin")])
    skin.add("Version", Property.i32(101))
    skin.add("Link_DeformAcuracy", Property.f64(50.0))
    skin.add("SkinningType", Property.string("Linear"))
    builder.objects.children.append(skin)
    builder.connect(skin_id, geometry_id)
    for j, bone_id in enumerate(bone_ids):
        indices = np.flatnonzero(mesh.weights[:, j] > 0)
        if indices.size == 0:
            continue
        cluster_id = builder.ids.new()
        cluster = FbxNode("Deformer", [Property.i64(cluster_id), Property.string(object_name(names[j], "SubDeformer")),
                                       Property.string("Cluster")])
        cluster.add("Version", Property.i32(100))
        cluster.add("UserData", Property.string(""), Property.string(""))
        cluster.add("Indexes", Property.array(indices.astype(np.int32)))
        cluster.add("Weights", Property.array(mesh.weights[indices, j].astype(np.float64)))
        # Transform: mesh (identity) relative to the bone at bind time; TransformLink: the bone's global bind matrix.
        cluster.add("Transform", Property.array(_fbx_matrix(np.linalg.inv(bind_globals[j]))))
        cluster.add("TransformLink", Property.array(_fbx_matrix(bind_globals[j])))
        builder.objects.children.append(cluster)
        builder.connect(cluster_id, skin_id)
        builder.connect(bone_id, cluster_id)
    return mesh_id


def _bind_pose(builder: _SceneBuilder, entries: list[tuple[int, np.ndarray]]) -> None:
    """A ``Pose`` of type BindPose: the global rest matrix of each listed node."""
    uid = builder.ids.new()
    pose = FbxNode("Pose", [Property.i64(uid), Property.string(object_name("BindPose", "Pose")),
                            Property.string("BindPose")])
    pose.add("Type", Property.string("BindPose"))
    pose.add("Version", Property.i32(100))
    pose.add("NbPoseNodes", Property.i32(len(entries)))
    for node_id, matrix in entries:
        pose_node = pose.add("PoseNode")
        pose_node.add("Node", Property.i64(node_id))
        pose_node.add("Matrix", Property.array(_fbx_matrix(matrix)))
    builder.objects.children.append(pose)


def skeleton_motion_to_fbx(
    skeleton: Skeleton,
    motion: Motion,
    mesh: SkinnedMesh | None = None,
    *,
    up: str = "y",
    units: str = "m",
    take_name: str = "Take 001",
    armature_name: str = "Armature",
    version: int = 7400,
) -> FbxDocument:
    """The ``FbxDocument`` that ``write_fbx`` writes (see the module docstring)."""
    motion.check_matches(skeleton)
    scale = check_up_units(up, units)
    if mesh is not None:
        mesh.check_matches(skeleton)
    for what, name in (("take name", take_name), ("armature name", armature_name)):
        _check_name(name, what)
    for name in skeleton.joint_names:
        _check_name(name, "joint name")
    frames = motion.num_frames
    if frames == 0:
        raise MotionError("motion: expected at least one frame for an FBX take, found 0")
    rest_file = to_file_points(skeleton.rest_positions(), up, scale)                  # (J, 3)
    offsets_file = to_file_points(skeleton.offsets, up, scale)
    frames_rest = bone_frames(rest_file, skeleton.parents)                       # G, (J, 3, 3)
    local = rotation_zup_to_yup(motion.rotations) if up == "y" else motion.rotations
    parents = skeleton.parents
    parent_frames = np.stack([frames_rest[p] if p >= 0 else np.eye(3) for p in parents])   # G[parent]
    node_rotations = np.swapaxes(parent_frames, -1, -2) @ local @ frames_rest          # (F, J, 3, 3)
    rest_rotations = np.swapaxes(parent_frames, -1, -2) @ frames_rest
    rest_translation = np.einsum("jba,jb->ja", parent_frames, offsets_file)          # G[parent]^T @ offset
    angles = unwrapped_euler_xyz(node_rotations)
    rest_angles = unwrapped_euler_xyz(rest_rotations[None])[0]
    ticks_per_frame = KTIME_PER_SECOND / motion.fps
    times = np.round(np.arange(frames) * ticks_per_frame).astype(np.int64)

    builder = _SceneBuilder()
    armature_id = builder.add(_model(builder.ids, armature_name, "Null", np.zeros(3), np.zeros(3)))
    builder.connect(armature_id, 0)
    builder.connect(builder.add(_node_attribute(builder.ids, armature_name, "Null")), armature_id)
    bone_ids: list[int] = []
    for j, name in enumerate(skeleton.joint_names):
        bone_id = builder.add(_model(builder.ids, name, "LimbNode", rest_translation[j], rest_angles[j]))
        bone_ids.append(bone_id)
        builder.connect(bone_id, armature_id if parents[j] < 0 else bone_ids[parents[j]])
        length = float(np.linalg.norm(offsets_file[j])) if parents[j] >= 0 else 1.0
        builder.connect(builder.add(_node_attribute(builder.ids, name, "LimbNode", length)), bone_id)
    bind_globals = np.stack([_matrix44(frames_rest[j], rest_file[j]) for j in range(skeleton.num_joints)])
    pose_entries = [(armature_id, np.eye(4))] + list(zip(bone_ids, bind_globals))
    if mesh is not None:
        mesh_id = _mesh_objects(builder, mesh, bone_ids, bind_globals, up, scale, skeleton.joint_names)
        pose_entries.append((mesh_id, np.eye(4)))
    _bind_pose(builder, pose_entries)

    stop = int(times[-1])
    stack_id = builder.ids.new()
    stack = FbxNode("AnimationStack", [Property.i64(stack_id), Property.string(object_name(take_name, "AnimStack")),
                                       Property.string("")])
    stack_table = stack.add("Properties70")
    for key in ("LocalStop", "ReferenceStop"):
        stack_table.children.append(property70(key, "KTime", "Time", "", stop))
    builder.objects.children.append(stack)
    layer_id = builder.ids.new()
    builder.objects.children.append(FbxNode("AnimationLayer", [Property.i64(layer_id), Property.string(
        object_name("BaseLayer", "AnimLayer")), Property.string("")]))
    builder.connect(layer_id, stack_id)
    root_file = to_file_points(motion.root_translation, up, scale)
    for j, bone_id in enumerate(bone_ids):
        if parents[j] < 0:
            builder.animate(layer_id, bone_id, "T", times, root_file)
        builder.animate(layer_id, bone_id, "R", times, angles[:, j])

    takes = FbxNode("Takes")
    takes.add("Current", Property.string(take_name))
    take = takes.add("Take", Property.string(take_name))
    take.add("FileName", Property.string(take_name.replace(" ", "_") + ".tak"))
    take.add("LocalTime", Property.i64(0), Property.i64(stop))
    take.add("ReferenceTime", Property.i64(0), Property.i64(stop))
    nodes = _header_nodes(version, up, 100.0 / scale, motion.fps, stop)
    nodes += [_definitions(builder.objects), builder.objects, builder.connections, takes]
    return FbxDocument(version, nodes)


def write_fbx(
    path: str | os.PathLike[str],
    skeleton: Skeleton,
    motion: Motion,
    mesh: SkinnedMesh | None = None,
    *,
    up: str = "y",
    units: str = "m",
    take_name: str = "Take 001",
    armature_name: str = "Armature",
    version: int = 7400,
) -> None:
    """Write ``skeleton`` + ``motion`` (+ ``mesh``) as a binary FBX file (layout: module docstring).

    Args:
        path: destination; written atomically.
        skeleton: J joints, offsets in metres, internal Z-up world frame.
        motion: F >= 1 frames for ``skeleton``.
        mesh: optional skinned mesh with one weight column per joint, rest pose.
        up: "y" (default; Blender, Maya, Unity, Unreal all read the axis settings) or "z".
        units: "m" (default), "cm" or "mm"; stated in ``UnitScaleFactor``.
        take_name: the animation stack's (take's) name.
        armature_name: the name of the ``Null`` node holding the bones (Blender's armature object).
        version: 7400 (default) or 7500.

    Raises:
        ExportError (MotionError, for a motion of the wrong joint count or no frame).
    """
    doc = skeleton_motion_to_fbx(skeleton, motion, mesh, up=up, units=units, take_name=take_name,
                                 armature_name=armature_name, version=version)
    write_document(path, doc)
    logger.info("wrote %s: %d joints, %d frames at %g fps%s", path, skeleton.num_joints, motion.num_frames,
                motion.fps, f", mesh {mesh.name!r} ({len(mesh.vertices)} vertices)" if mesh is not None else "")


# ----------------------------------------------------------------------------- reading


class _SceneReader:
    """Indexes a decoded document's objects and connections."""

    def __init__(self, doc: FbxDocument, source: str) -> None:
        self.source = source
        objects = doc.find("Objects")
        connections = doc.find("Connections")
        if objects is None or connections is None:
            raise FormatError(source, "top level", "'Objects' and 'Connections' nodes", "none")
        self.objects = {int(node.values[0]): node for node in objects.children if node.values}
        self.order = {uid: k for k, uid in enumerate(self.objects)}
        self.parents: dict[int, list[tuple[int, str | None]]] = defaultdict(list)
        self.children: dict[int, list[tuple[int, str | None]]] = defaultdict(list)
        for link in connections.find_all("C"):
            values = link.values
            if len(values) < 3:
                raise FormatError(source, "Connections", "C: type, child id, parent id", str(values))
            prop = str(values[3]) if values[0] == "OP" and len(values) > 3 else None
            self.parents[int(values[1])].append((int(values[2]), prop))
            self.children[int(values[2])].append((int(values[1]), prop))
        settings = doc.find("GlobalSettings")
        self.settings = properties70_values(settings)
        self.stack = next((n for n in objects.children if n.name == "AnimationStack"), None)

    def kind(self, uid: int) -> tuple[str, str]:
        """(node name, class property) of object ``uid``, e.g. ("Model", "LimbNode")."""
        node = self.objects.get(uid)
        if node is None:
            return "", ""
        return node.name, str(node.values[2]) if len(node.values) > 2 else ""

    def name(self, uid: int) -> str:
        return split_object_name(str(self.objects[uid].values[1]))[0]

    def model_parent(self, uid: int) -> int | None:
        """The model this model hangs from (None: the scene root)."""
        for parent, prop in self.parents.get(uid, ()):
            if prop is None and self.kind(parent)[0] == "Model":
                return parent
        return None

    def setting(self, key: str, default: float) -> float:
        values = self.settings.get(key)
        return float(values[0]) if values else default


def _lcl(reader: _SceneReader, uid: int) -> dict[str, np.ndarray | int]:
    """Static transform properties of a model."""
    table = properties70_values(reader.objects[uid])

    def vector(key: str, default: float) -> np.ndarray:
        values = table.get(key)
        return np.array([float(v) for v in values[:3]]) if values else np.full(3, default)

    order = int(table.get("RotationOrder", [0])[0])
    if order not in _EULER_ORDERS:
        raise FormatError(reader.source, f"model {reader.name(uid)!r} RotationOrder", "0 to 5 (Euler orders)",
                          str(order))
    scaling = vector("Lcl Scaling", 1.0)
    if np.max(np.abs(scaling - 1.0)) > 1e-6:
        raise FormatError(reader.source, f"model {reader.name(uid)!r} Lcl Scaling", "(1, 1, 1)", str(scaling.tolist()))
    return {"T": vector("Lcl Translation", 0.0), "R": vector("Lcl Rotation", 0.0), "order": order,
            "pre": vector("PreRotation", 0.0), "post": vector("PostRotation", 0.0)}


def _curves(reader: _SceneReader, uid: int, times: np.ndarray, static: np.ndarray, prop: str) -> np.ndarray:
    """(F, 3) values of ``prop`` on model ``uid`` at ``times`` (KTime), linear between keys."""
    out = np.broadcast_to(static, (times.size, 3)).copy()
    for node_id, link in reader.children.get(uid, ()):
        if link != prop or reader.kind(node_id)[0] != "AnimationCurveNode":
            continue
        for curve_id, channel in reader.children.get(node_id, ()):
            if reader.kind(curve_id)[0] != "AnimationCurve" or channel not in ("d|X", "d|Y", "d|Z"):
                continue
            curve = reader.objects[curve_id]
            key_times = curve.find("KeyTime")
            key_values = curve.find("KeyValueFloat")
            if key_times is None or key_values is None or key_times.values[0].size != key_values.values[0].size:
                raise FormatError(reader.source, f"curve {curve_id}", "KeyTime and KeyValueFloat of equal length",
                                  "missing or different lengths")
            if key_times.values[0].size:
                out[:, "XYZ".index(channel[-1])] = np.interp(times, key_times.values[0].astype(np.float64),
                                                             key_values.values[0].astype(np.float64))
    return out


def _euler_matrix(angles_deg: np.ndarray, order: int) -> np.ndarray:
    """(..., 3, 3) from FBX Euler angles (x, y, z) in degrees and a ``RotationOrder``."""
    angles_deg = np.asarray(angles_deg, dtype=np.float64)
    sequence = _EULER_ORDERS[order]
    columns = ["xyz".index(axis) for axis in sequence]
    flat = angles_deg.reshape(-1, 3)[:, columns]
    return Rotation.from_euler(sequence, flat, degrees=True).as_matrix().reshape(*angles_deg.shape[:-1], 3, 3)


def _node_rotation(lcl: dict, rotation_deg: np.ndarray) -> np.ndarray:
    """Pre @ R @ Post^-1 (the rotation part of an FBX node's local matrix, no pivots)."""
    pre = _euler_matrix(lcl["pre"], 0)
    post = _euler_matrix(lcl["post"], 0)
    return pre @ _euler_matrix(rotation_deg, lcl["order"]) @ post.T


def _frame_times(reader: _SceneReader) -> tuple[np.ndarray, float]:
    """(F,) KTime of each frame of the first take, and the frame rate."""
    mode = int(reader.setting("TimeMode", CUSTOM_TIME_MODE))
    fps = next((rate for rate, m in TIME_MODES if m == mode), reader.setting("CustomFrameRate", 0.0))
    if not fps > 0:
        raise FormatError(reader.source, "GlobalSettings", "a frame rate (TimeMode or CustomFrameRate > 0)", str(fps))
    if reader.stack is None:
        return np.zeros(1, dtype=np.int64), fps
    table = properties70_values(reader.stack)
    start = int(table.get("LocalStart", [0])[0])
    stop = int(table.get("LocalStop", [start])[0])
    count = int(round((stop - start) * fps / KTIME_PER_SECOND)) + 1
    return np.round(start + np.arange(count) * KTIME_PER_SECOND / fps).astype(np.int64), fps


def _axes_and_scale(reader: _SceneReader) -> tuple[str, float]:
    """The file's up axis ("y" or "z", as ``AXIS_SETTINGS``) and metres per file unit."""
    settings = {key: int(reader.setting(key, value)) for key, value in AXIS_SETTINGS["y"].items()}
    up = next((name for name, table in AXIS_SETTINGS.items() if table == settings), None)
    if up is None:
        raise FormatError(reader.source, "GlobalSettings axes", f"one of {list(AXIS_SETTINGS.values())}", str(settings))
    return up, reader.setting("UnitScaleFactor", 1.0) / 100.0


def _ordered_bones(reader: _SceneReader) -> tuple[list[int], list[int]]:
    """Limb node ids (file order, parents first) and parent indices (-1 for the root)."""
    bones = [uid for uid in reader.objects if reader.kind(uid) in (("Model", "LimbNode"), ("Model", "Limb"))]
    if not bones:
        raise FormatError(reader.source, "Objects", "Model nodes of class LimbNode (a skeleton)", "none")
    bone_set = set(bones)
    parent_of = {uid: (p if (p := reader.model_parent(uid)) in bone_set else None) for uid in bones}
    roots = [uid for uid in bones if parent_of[uid] is None]
    if len(roots) != 1:
        raise FormatError(reader.source, "Objects", "one root LimbNode",
                          f"{len(roots)}: {[reader.name(r) for r in roots]}")
    ordered: list[int] = []
    placed: set[int] = set()
    while len(ordered) < len(bones):   # stable topological order: file order, parents first
        for uid in bones:
            if uid not in placed and (parent_of[uid] is None or parent_of[uid] in placed):
                ordered.append(uid)
                placed.add(uid)
    index = {uid: k for k, uid in enumerate(ordered)}
    return ordered, [index[parent_of[uid]] if parent_of[uid] is not None else -1 for uid in ordered]


def _static_global(reader: _SceneReader, uid: int | None) -> np.ndarray:
    """(4, 4) global rest matrix of a model from its static Lcl values and its ancestors'."""
    out = np.eye(4)
    while uid is not None:
        lcl = _lcl(reader, uid)
        out = _matrix44(_node_rotation(lcl, lcl["R"]), lcl["T"]) @ out
        uid = reader.model_parent(uid)
    return out


def _read_mesh(reader: _SceneReader, bones: list[int], to_internal) -> SkinnedMesh | None:
    """The first skinned mesh bound to these bones, in internal coordinates."""
    bone_index = {uid: j for j, uid in enumerate(bones)}
    for uid, node in reader.objects.items():
        if reader.kind(uid) != ("Geometry", "Mesh"):
            continue
        skins = [c for c, _ in reader.children.get(uid, ()) if reader.kind(c) == ("Deformer", "Skin")]
        if not skins:
            continue
        vertices = node.find("Vertices").values[0].reshape(-1, 3)
        polygon = node.find("PolygonVertexIndex").values[0].astype(np.int64)
        ends = np.flatnonzero(polygon < 0)
        sizes = np.diff(np.concatenate([[-1], ends]))
        if ends.size == 0 or ends[-1] != polygon.size - 1 or np.any(sizes != sizes[0]) or sizes[0] not in (3, 4):
            raise FormatError(reader.source, f"geometry {reader.name(uid)!r}", "triangles only or quads only",
                              f"polygon sizes {sorted(set(sizes.tolist()))}")
        faces = polygon.reshape(-1, int(sizes[0]))
        faces[:, -1] = ~faces[:, -1]
        models = [p for p, prop in reader.parents.get(uid, ()) if prop is None and reader.kind(p)[0] == "Model"]
        mesh_global = _static_global(reader, models[0]) if models else np.eye(4)
        world = vertices @ mesh_global[:3, :3].T + mesh_global[:3, 3]
        weights = np.zeros((len(vertices), len(bones)))
        for cluster, _ in reader.children.get(skins[0], ()):
            if reader.kind(cluster) != ("Deformer", "Cluster"):
                continue
            linked = [c for c, _ in reader.children.get(cluster, ()) if c in bone_index]
            indexes, values = reader.objects[cluster].find("Indexes"), reader.objects[cluster].find("Weights")
            if linked and indexes is not None and values is not None:
                weights[indexes.values[0], bone_index[linked[0]]] += values.values[0]
        name = split_object_name(str(reader.objects[models[0]].values[1]))[0] if models else reader.name(uid)
        return SkinnedMesh(to_internal(world), faces, weights, name=name)
    return None


def fbx_to_scene(doc: FbxDocument, source: str = "<fbx>") -> FbxScene:
    """Map a decoded FBX document to a Skeleton, Motion (and mesh) in internal Z-up metres."""
    reader = _SceneReader(doc, source)
    up, metres_per_unit = _axes_and_scale(reader)

    def to_internal(points: np.ndarray) -> np.ndarray:
        points = np.asarray(points, dtype=np.float64) * metres_per_unit
        return yup_to_zup(points) if up == "y" else points

    bones, parents = _ordered_bones(reader)
    times, fps = _frame_times(reader)
    frames, num = times.size, len(bones)
    base = _static_global(reader, reader.model_parent(bones[0]))          # non-bone ancestors of the root
    rest_rotation, rest_position = np.empty((num, 3, 3)), np.empty((num, 3))
    rotation, position = np.empty((frames, num, 3, 3)), np.empty((frames, num, 3))
    for j, uid in enumerate(bones):
        lcl = _lcl(reader, uid)
        local_rest = _node_rotation(lcl, lcl["R"])
        local = _node_rotation(lcl, _curves(reader, uid, times, lcl["R"], "Lcl Rotation"))
        translation = _curves(reader, uid, times, lcl["T"], "Lcl Translation")
        p = parents[j]
        parent_rest = (base[:3, :3], base[:3, 3]) if p < 0 else (rest_rotation[p], rest_position[p])
        rest_rotation[j] = parent_rest[0] @ local_rest
        rest_position[j] = parent_rest[0] @ lcl["T"] + parent_rest[1]
        parent_rot = np.broadcast_to(base[:3, :3], (frames, 3, 3)) if p < 0 else rotation[:, p]
        parent_pos = np.broadcast_to(base[:3, 3], (frames, 3)) if p < 0 else position[:, p]
        rotation[:, j] = parent_rot @ local
        position[:, j] = np.einsum("fab,fb->fa", parent_rot, translation) + parent_pos
    motion_global = rotation @ np.swapaxes(rest_rotation, -1, -2)[None]      # posed frame = G_mot @ G_rest
    parent_global = np.stack([motion_global[:, p] if p >= 0 else np.broadcast_to(np.eye(3), (frames, 3, 3))
                              for p in parents], axis=1)
    local_motion = np.swapaxes(parent_global, -1, -2) @ motion_global
    rest_internal = to_internal(rest_position)
    offsets = rest_internal - np.where(np.array(parents)[:, None] >= 0, rest_internal[np.maximum(parents, 0)], 0.0)
    names = tuple(reader.name(uid) for uid in bones)
    try:
        skeleton = Skeleton(names, np.array(parents), offsets)
        rotations = rotation_yup_to_zup(local_motion) if up == "y" else local_motion
        motion = Motion(_orthonormalised(rotations), to_internal(position[:, 0]), fps)
        mesh = _read_mesh(reader, bones, to_internal)
    except (SkeletonError, MotionError, ExportError) as error:
        if isinstance(error, FormatError):
            raise
        raise FormatError(source, "content", "a valid skeleton, motion and mesh", str(error)) from error
    return FbxScene(skeleton, motion, mesh)


def _orthonormalised(rotations: np.ndarray) -> np.ndarray:
    """Nearest rotation matrices (SVD), removing float32 key rounding and product drift."""
    u, _, vt = np.linalg.svd(rotations)
    return u @ vt


def read_fbx(path: str | os.PathLike[str]) -> FbxScene:
    """Read a binary FBX file written by ``write_fbx`` (or a similar one) back.

    Returns:
        ``FbxScene``: skeleton (file order), motion (fps from ``GlobalSettings``, frames from
        the first take), mesh when there is a skinned one; internal Z-up metres.

    Raises:
        FormatError: not a binary FBX file, or content that cannot be mapped (naming it).
        FileNotFoundError: no such file.
    """
    source = Path(path)
    return fbx_to_scene(decode_document(source.read_bytes(), str(source)), str(source))
