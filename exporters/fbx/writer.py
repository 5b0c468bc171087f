"""FBX export of a ``Skeleton`` + ``Motion`` (+ a skinned mesh): the mapping onto
``exporters.fbx_format`` (which knows nothing of motion capture). ``exporters.fbx.reader``
maps such files back.

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
  +X axis is as close as possible to the file's +X (``bone_frames``; the parent of a joint
  that translates, a root bone, points sideways instead, so no importer connects the two). Importers that draw
  bones along the node's Y axis (Blender, Maya, Mixamo rigs) then show bones along the limbs
  with a consistent roll, instead of every bone pointing up. Positions do not depend on this
  choice: with ``G[j]`` the rest frame of node ``j`` and ``L[j]`` our local rotation (file
  axes), the node's ``Lcl Translation`` is ``G[parent]^T @ offset[j]`` and its ``Lcl Rotation``
  is ``G[parent]^T @ L[j] @ G[j]``, so its global position is exactly our joint's.
- Baked animation curves: for every joint, ``Lcl Rotation`` X/Y/Z in degrees, Euler order
  XYZ (FBX ``RotationOrder`` 0: the matrix is ``Rz @ Ry @ Rx``; see ``exporters.euler``),
  unwrapped over time so consecutive keys never jump by 360 degrees; for the root also
  ``Lcl Translation``, and for a joint that translates (``Motion.translations``: hips under
  a root bone) its ``Lcl Translation`` ``G[parent]^T @ t[f]``. One key per frame, linear interpolation, values as float32 (what FBX
  stores).
- Optionally the skinned mesh (``SkinnedMesh``): a ``Mesh`` geometry in the rest pose, a
  ``Skin`` deformer and one ``Cluster`` per joint that has weights (vertex indices, weights,
  ``Transform``/``TransformLink`` bind matrices), so the importer builds vertex groups named
  after the joints and an armature modifier.

``skeleton_motion_to_fbx`` builds the document in steps: check the inputs, compute the node
transforms (``node_transforms``, pure geometry), then add the armature, the mesh and bind
pose, the animation, the header and the take.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import numpy as np

from exporters.axes import check_up_units, rotation_zup_to_yup, to_file_points
from exporters.errors import MotionError
from exporters.euler import unwrapped_euler_xyz
from exporters.fbx.objects import (
    SceneBuilder,
    bind_pose,
    check_name,
    definitions,
    fbx_matrix,
    header_nodes,
    model,
    node_attribute,
)
from exporters.fbx.scene import matrix44
from exporters.fbx_format import (
    KTIME_PER_SECOND,
    FbxDocument,
    FbxNode,
    Property,
    object_name,
    property70,
    write_document,
)
from exporters.mesh import SkinnedMesh
from exporters.skeleton import Motion, Skeleton

__all__ = ["NodeTransforms", "bone_frames", "node_transforms", "skeleton_motion_to_fbx", "write_fbx"]

logger = logging.getLogger(__name__)


def bone_frames(rest_positions: np.ndarray, parents: np.ndarray, sideways: frozenset[int] = frozenset()
                ) -> np.ndarray:
    """Rest orientation of every joint's node: +Y along the bone, +X towards the file's +X.

    Args:
        rest_positions: (J, 3) joint positions in the rest pose (any axes and units).
        parents: (J,) parent indices, -1 for the root (joint 0).
        sideways: joints whose +Y must NOT point at their children: the parents of joints that
            translate (a root bone under the hips). Importers (Blender's) end a bone at its
            child when its +Y reaches it and then connect them, and a connected bone cannot
            move; these get +Y = the file's +X (else -Z) made perpendicular to the children.

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
        if j in sideways:
            y = _perpendicular(y)
        for reference in (np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.0, -1.0]), np.array([0.0, 1.0, 0.0])):
            x = reference - (reference @ y) * y
            if np.linalg.norm(x) > 1e-3:
                break
        x = x / np.linalg.norm(x)
        frames[j] = np.stack([x, y, np.cross(x, y)], axis=1)
    return frames


def _perpendicular(direction: np.ndarray) -> np.ndarray:
    """(3,) unit vector: the file's +X (else -Z) made perpendicular to unit ``direction``."""
    for reference in (np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.0, -1.0])):
        out = reference - (reference @ direction) * direction
        if np.linalg.norm(out) > 1e-3:
            return out / np.linalg.norm(out)
    raise AssertionError("+X and -Z cannot both be parallel to one direction")


@dataclass(frozen=True, eq=False)
class NodeTransforms:
    """A skeleton and its motion as FBX node transforms, in the file's axes and units.

    Attributes:
        rest_positions: (J, 3) global rest position of every joint.
        frames: (J, 3, 3) rest orientation ``G`` of every joint's node (``bone_frames``).
        bone_lengths: (J,) length of each joint's own bone (1 for the root): ``LimbNode`` sizes.
        rest_translation: (J, 3) static ``Lcl Translation``, ``G[parent]^T @ offset``.
        rest_angles: (J, 3) static ``Lcl Rotation``, degrees (``G[parent]^T @ G[j]``).
        angles: (F, J, 3) animated ``Lcl Rotation``, degrees, unwrapped over frames
            (``G[parent]^T @ L[j] @ G[j]``).
        root_positions: (F, 3) the root's animated ``Lcl Translation``.
        times: (F,) KTime of each frame's key, int64.
        translations: {joint: (F, 3)} animated ``Lcl Translation`` of the other joints that
            translate (``G[parent]^T @ t``; ``Motion.translations`` in the file's axes).
    """

    rest_positions: np.ndarray
    frames: np.ndarray
    bone_lengths: np.ndarray
    rest_translation: np.ndarray
    rest_angles: np.ndarray
    angles: np.ndarray
    root_positions: np.ndarray
    times: np.ndarray
    translations: dict[int, np.ndarray]


def node_transforms(skeleton: Skeleton, motion: Motion, up: str, scale: float) -> NodeTransforms:
    """The node transforms of ``skeleton`` + ``motion`` in the file's axes (``up``) and units
    (``scale`` file units per metre); layout: module docstring."""
    rest_file = to_file_points(skeleton.rest_positions(), up, scale)                  # (J, 3)
    offsets_file = to_file_points(skeleton.offsets, up, scale)
    sideways = frozenset(int(skeleton.parents[j]) for j in motion.translations)
    frames_rest = bone_frames(rest_file, skeleton.parents, sideways)             # G, (J, 3, 3)
    local = rotation_zup_to_yup(motion.rotations) if up == "y" else motion.rotations
    parents = skeleton.parents
    parent_frames = np.stack([frames_rest[p] if p >= 0 else np.eye(3) for p in parents])   # G[parent]
    node_rotations = np.swapaxes(parent_frames, -1, -2) @ local @ frames_rest          # (F, J, 3, 3)
    rest_rotations = np.swapaxes(parent_frames, -1, -2) @ frames_rest
    rest_translation = np.einsum("jba,jb->ja", parent_frames, offsets_file)          # G[parent]^T @ offset
    lengths = np.array([float(np.linalg.norm(offsets_file[j])) if parents[j] >= 0 else 1.0
                        for j in range(skeleton.num_joints)])
    ticks_per_frame = KTIME_PER_SECOND / motion.fps
    return NodeTransforms(
        rest_positions=rest_file,
        frames=frames_rest,
        bone_lengths=lengths,
        rest_translation=rest_translation,
        rest_angles=unwrapped_euler_xyz(rest_rotations[None])[0],
        angles=unwrapped_euler_xyz(node_rotations),
        root_positions=to_file_points(motion.root_translation, up, scale),
        times=np.round(np.arange(motion.num_frames) * ticks_per_frame).astype(np.int64),
        translations={j: to_file_points(t, up, scale) @ parent_frames[j] for j, t in motion.translations.items()},
    )


def _check_inputs(skeleton: Skeleton, motion: Motion, mesh: SkinnedMesh | None, up: str, units: str,
                  take_name: str, armature_name: str) -> float:
    """Raise ExportError for anything FBX cannot hold; return file units per metre."""
    motion.check_matches(skeleton)
    scale = check_up_units(up, units)
    if mesh is not None:
        mesh.check_matches(skeleton)
    for what, name in (("take name", take_name), ("armature name", armature_name)):
        check_name(name, what)
    for name in skeleton.joint_names:
        check_name(name, "joint name")
    if motion.num_frames == 0:
        raise MotionError("motion: expected at least one frame for an FBX take, found 0")
    return scale


def _armature(builder: SceneBuilder, skeleton: Skeleton, armature_name: str,
              pose: NodeTransforms) -> tuple[int, list[int]]:
    """The armature's ``Null`` model and one ``LimbNode`` model per joint (with their node
    attributes), parented as the skeleton is; returns the armature's and the bones' ids."""
    parents = skeleton.parents
    armature_id = builder.add(model(builder.ids, armature_name, "Null", np.zeros(3), np.zeros(3)))
    builder.connect(armature_id, 0)
    builder.connect(builder.add(node_attribute(builder.ids, armature_name, "Null")), armature_id)
    bone_ids: list[int] = []
    for j, name in enumerate(skeleton.joint_names):
        bone_id = builder.add(model(builder.ids, name, "LimbNode", pose.rest_translation[j], pose.rest_angles[j]))
        bone_ids.append(bone_id)
        builder.connect(bone_id, armature_id if parents[j] < 0 else bone_ids[parents[j]])
        builder.connect(builder.add(node_attribute(builder.ids, name, "LimbNode", pose.bone_lengths[j])), bone_id)
    return armature_id, bone_ids


def _mesh_objects(builder: SceneBuilder, mesh: SkinnedMesh, bone_ids: list[int], bind_globals: np.ndarray,
                  up: str, scale: float, names: tuple[str, ...]) -> int:
    """Geometry, Model, Skin and Clusters of ``mesh``; returns the mesh model's id."""
    check_name(mesh.name, "mesh name")
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
    mesh_id = builder.add(model(builder.ids, mesh.name, "Mesh", np.zeros(3), np.zeros(3)))
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
        cluster.add("Transform", Property.array(fbx_matrix(np.linalg.inv(bind_globals[j]))))
        cluster.add("TransformLink", Property.array(fbx_matrix(bind_globals[j])))
        builder.objects.children.append(cluster)
        builder.connect(cluster_id, skin_id)
        builder.connect(bone_id, cluster_id)
    return mesh_id


def _bind(builder: SceneBuilder, skeleton: Skeleton, mesh: SkinnedMesh | None, pose: NodeTransforms,
          armature_id: int, bone_ids: list[int], up: str, scale: float) -> None:
    """The mesh objects (when there is a mesh) and the ``BindPose`` of armature, bones and mesh."""
    bind_globals = np.stack([matrix44(pose.frames[j], pose.rest_positions[j]) for j in range(skeleton.num_joints)])
    pose_entries = [(armature_id, np.eye(4))] + list(zip(bone_ids, bind_globals))
    if mesh is not None:
        mesh_id = _mesh_objects(builder, mesh, bone_ids, bind_globals, up, scale, skeleton.joint_names)
        pose_entries.append((mesh_id, np.eye(4)))
    bind_pose(builder, pose_entries)


def _animation(builder: SceneBuilder, take_name: str, bone_ids: list[int], parents: np.ndarray,
               pose: NodeTransforms) -> int:
    """The take's ``AnimationStack`` and ``AnimationLayer`` and the baked curves (root
    translation, every joint's rotation); returns the take's last KTime."""
    stop = int(pose.times[-1])
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
    for j, bone_id in enumerate(bone_ids):
        if parents[j] < 0 or j in pose.translations:
            moves = pose.root_positions if parents[j] < 0 else pose.translations[j]
            builder.animate(layer_id, bone_id, "T", pose.times, moves)
        builder.animate(layer_id, bone_id, "R", pose.times, pose.angles[:, j])
    return stop


def _takes(take_name: str, stop: int) -> FbxNode:
    """The top-level ``Takes`` node: one take spanning KTime 0 to ``stop``."""
    takes = FbxNode("Takes")
    takes.add("Current", Property.string(take_name))
    take = takes.add("Take", Property.string(take_name))
    take.add("FileName", Property.string(take_name.replace(" ", "_") + ".tak"))
    take.add("LocalTime", Property.i64(0), Property.i64(stop))
    take.add("ReferenceTime", Property.i64(0), Property.i64(stop))
    return takes


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
    scale = _check_inputs(skeleton, motion, mesh, up, units, take_name, armature_name)
    pose = node_transforms(skeleton, motion, up, scale)
    builder = SceneBuilder()
    armature_id, bone_ids = _armature(builder, skeleton, armature_name, pose)
    _bind(builder, skeleton, mesh, pose, armature_id, bone_ids, up, scale)
    stop = _animation(builder, take_name, bone_ids, skeleton.parents, pose)
    nodes = header_nodes(version, up, 100.0 / scale, motion.fps, stop)
    nodes += [definitions(builder.objects), builder.objects, builder.connections, _takes(take_name, stop)]
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
