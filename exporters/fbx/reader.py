"""FBX import back into a ``Skeleton`` + ``Motion`` (+ a skinned mesh), for round trips.

``read_fbx`` reads the files ``exporters.fbx.writer`` writes (and other FBX files with one
``LimbNode`` hierarchy and curves on ``Lcl Translation``/``Lcl Rotation``) back into the
internal Z-up metres frame. The rest pose is the nodes' static ``Lcl`` values (with
``PreRotation``/``PostRotation``, any ``RotationOrder``; Euler conversions in
``exporters.euler``), the axes and units come from ``GlobalSettings`` (``AXIS_SETTINGS``,
``UnitScaleFactor``), the frame rate from its ``TimeMode`` / ``CustomFrameRate`` and the
frame range from the first ``AnimationStack``. Curves are sampled at every frame, linearly
between keys. A non-root bone with a ``Lcl Translation`` curve gives ``Motion.translations``.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import numpy as np

from exporters.axes import rotation_yup_to_zup, yup_to_zup
from exporters.errors import ExportError, FormatError, MotionError, SkeletonError
from exporters.euler import FBX_ROTATION_ORDERS, fbx_euler_to_matrix
from exporters.fbx.scene import AXIS_SETTINGS, CUSTOM_TIME_MODE, TIME_MODES, FbxScene, matrix44
from exporters.fbx_format import (
    KTIME_PER_SECOND,
    FbxDocument,
    decode_document,
    properties70_values,
    split_object_name,
)
from exporters.mesh import SkinnedMesh
from exporters.skeleton import Motion, Skeleton

__all__ = ["fbx_to_scene", "read_fbx"]


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
    if order not in FBX_ROTATION_ORDERS:
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


def _has_curves(reader: _SceneReader, uid: int, prop: str) -> bool:
    """Whether model ``uid`` has a curve node on ``prop`` (an animated property)."""
    return any(link == prop and reader.kind(node_id)[0] == "AnimationCurveNode"
               for node_id, link in reader.children.get(uid, ()))


def _node_rotation(lcl: dict, rotation_deg: np.ndarray) -> np.ndarray:
    """Pre @ R @ Post^-1 (the rotation part of an FBX node's local matrix, no pivots)."""
    pre = fbx_euler_to_matrix(lcl["pre"], 0)
    post = fbx_euler_to_matrix(lcl["post"], 0)
    return pre @ fbx_euler_to_matrix(rotation_deg, lcl["order"]) @ post.T


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
        out = matrix44(_node_rotation(lcl, lcl["R"]), lcl["T"]) @ out
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
    moving = [j for j in range(1, num) if _has_curves(reader, bones[j], "Lcl Translation")]
    translations = {j: to_internal(np.einsum("fba,fb->fa", parent_global[:, j], position[:, j] - position[:, parents[j]]))
                    for j in moving}
    rest_internal = to_internal(rest_position)
    offsets = rest_internal - np.where(np.array(parents)[:, None] >= 0, rest_internal[np.maximum(parents, 0)], 0.0)
    names = tuple(reader.name(uid) for uid in bones)
    try:
        skeleton = Skeleton(names, np.array(parents), offsets)
        rotations = rotation_yup_to_zup(local_motion) if up == "y" else local_motion
        motion = Motion(_orthonormalised(rotations), to_internal(position[:, 0]), fps, translations)
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
