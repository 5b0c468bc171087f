"""The FBX objects the writer builds (still knowing nothing of skeletons or motions).

Each builder returns ``FbxNode`` trees of the FBX object model (``Model``, ``NodeAttribute``,
``AnimationCurve``, ``Geometry``, ``Deformer``, ``Pose``, the header nodes) from plain arrays in
the file's axes and units; ``exporters.fbx.writer`` decides what goes in them.
"""

from __future__ import annotations

import numpy as np

from exporters.errors import ExportError
from exporters.fbx.scene import AXIS_SETTINGS, CUSTOM_TIME_MODE, TIME_MODES
from exporters.fbx_format import CREATION_TIME, FILE_ID, FbxNode, Property, object_name, property70

__all__ = [
    "CREATOR",
    "KEY_LINEAR",
    "ObjectIds",
    "SceneBuilder",
    "bind_pose",
    "check_name",
    "curve",
    "definitions",
    "fbx_matrix",
    "header_nodes",
    "model",
    "node_attribute",
    "time_mode",
]

KEY_LINEAR = 0x00000004
"""``KeyAttrFlags`` value of a linearly interpolated key (FbxAnimCurveDef::eInterpolationLinear)."""
CREATOR = "mocap-studio exporters.fbx"
"""The ``Creator`` written in the header."""


def fbx_matrix(matrix: np.ndarray) -> np.ndarray:
    """(4, 4) column-vector matrix -> the 16 doubles FBX stores (column-major: translation at 12-14)."""
    return np.ascontiguousarray(matrix.T).reshape(16)


def time_mode(fps: float) -> int:
    """FBX ``TimeMode`` enum of ``fps`` (``CUSTOM_TIME_MODE`` when it is not a standard rate)."""
    for rate, mode in TIME_MODES:
        if abs(fps - rate) <= 1e-6 * rate:
            return mode
    return CUSTOM_TIME_MODE


def check_name(name: str, what: str) -> None:
    """Raise ExportError when ``name`` (a ``what``) holds a character FBX object names cannot hold."""
    if "\x00" in name or "\x01" in name:
        raise ExportError(f"{what} {name!r}: expected no NUL or \\x01 characters in an FBX name, found some")


class ObjectIds:
    """Deterministic object ids (int64, non-zero; 0 is the scene root)."""

    def __init__(self) -> None:
        self._next = 1_000_000_000

    def new(self) -> int:
        self._next += 1
        return self._next


def header_nodes(version: int, up: str, unit_scale_cm: float, fps: float, stop_ticks: int) -> list[FbxNode]:
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
    table.children.append(property70("TimeMode", "enum", "", "", time_mode(fps)))
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


def definitions(objects: FbxNode) -> FbxNode:
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


def model(ids: ObjectIds, name: str, kind: str, translation: np.ndarray, rotation_deg: np.ndarray) -> tuple[int, FbxNode]:
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


def node_attribute(ids: ObjectIds, name: str, kind: str, size: float = 1.0) -> tuple[int, FbxNode]:
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


def curve(ids: ObjectIds, times: np.ndarray, values: np.ndarray) -> tuple[int, FbxNode]:
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


class SceneBuilder:
    """Collects objects and connections while a scene is mapped into FBX."""

    def __init__(self) -> None:
        self.ids = ObjectIds()
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
            self.connect(self.add(curve(self.ids, times, column)), uid, f"d|{axis}")


def bind_pose(builder: SceneBuilder, entries: list[tuple[int, np.ndarray]]) -> None:
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
        pose_node.add("Matrix", Property.array(fbx_matrix(matrix)))
    builder.objects.children.append(pose)
