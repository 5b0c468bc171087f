"""Retarget our FBX onto a character's armature built in Blender. Runs INSIDE Blender's Python
(``.venv-blender/bin/python blender_retarget.py JOBS.json OUT.npz``), never under pytest.

JOBS.json: a list of ``{"name": key, "fbx": file, "frames": [Blender frames], "bones": [{"name",
"parent" (name or null), "head": [x, y, z], "tail": [x, y, z]}, ...]}``: the target armature,
bones in parents-first order, metres, Blender's Z-up world (a character with a rig's bone
names and rest pose, its own proportions and Blender's own bone axes: Y along the bone, roll 0).

For each job: an empty scene; our FBX imported with the default options (the source); the
target armature built in edit mode. Then, frame by frame and bone by bone (parents first), the
target bone of the same name copies the source bone's rotation relative to its rest pose, in
the world: ``R_target = (R_source @ R_source_rest^T) @ R_target_rest`` (a copy of rotations that
holds whatever the two rigs' bone axes are, as retargeting tools do), set through
``pose_bone.matrix``; the root bone also takes the source root's path, scaled by the ratio of
the two rigs' root heights. Keys are inserted so the target plays the take.

OUT.npz, per job ``name``: ``name/bones`` target bone names; ``name/heads`` (frames, bones, 3)
world head positions of the target's bones at each frame (read back after the keys, from the
evaluated scene); ``name/basis`` (frames, bones, 3, 3) each target bone's local rotation
(``matrix_basis``) at each frame.
"""

import json
import sys

import bpy
import numpy as np
from mathutils import Matrix


def _build_target(bones: list) -> object:
    data = bpy.data.armatures.new("target")
    obj = bpy.data.objects.new("target", data)
    bpy.context.scene.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    for spec in bones:
        bone = data.edit_bones.new(spec["name"])
        bone.head, bone.tail, bone.roll = spec["head"], spec["tail"], 0.0
        if spec["parent"]:
            bone.parent = data.edit_bones[spec["parent"]]
    bpy.ops.object.mode_set(mode="OBJECT")
    return obj


def _world_rotations(arm, pose: bool) -> dict:
    """{bone: 3x3 world rotation} of an armature's rest (pose=False) or current pose."""
    world = arm.matrix_world.to_3x3()
    if pose:
        return {b.name: (world @ b.matrix.to_3x3()).normalized() for b in arm.pose.bones}
    return {b.name: (world @ b.matrix_local.to_3x3()).normalized() for b in arm.data.bones}


def _retarget_frame(source, target, source_rest, target_rest, root: str, scale: float) -> None:
    source_pose = _world_rotations(source, pose=True)
    inverse_world = target.matrix_world.inverted()
    for bone in target.pose.bones:
        if bone.name not in source_pose:
            continue
        rotation = source_pose[bone.name] @ source_rest[bone.name].transposed() @ target_rest[bone.name]
        head = bone.head.copy()
        if bone.name == root:   # the root's path, scaled to the target's size
            head = inverse_world @ ((source.matrix_world @ source.pose.bones[root].head) * scale)
        matrix = inverse_world.to_3x3() @ rotation
        bone.matrix = Matrix.Translation(head) @ matrix.to_4x4()
        bpy.context.view_layer.update()


def retarget(job: dict, out: dict) -> None:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    result = bpy.ops.import_scene.fbx(filepath=job["fbx"])
    if "FINISHED" not in result:
        raise RuntimeError(f"FBX import of {job['fbx']} returned {result}")
    scene = bpy.context.scene
    source = next(o for o in scene.objects if o.type == "ARMATURE")
    target = _build_target(job["bones"])
    root = job["bones"][0]["name"]
    source_rest, target_rest = _world_rotations(source, pose=False), _world_rotations(target, pose=False)
    src_root = (source.matrix_world @ source.data.bones[root].head_local).z
    scale = target.data.bones[root].head_local.z / src_root
    frames = [int(f) for f in job["frames"]]
    for frame in frames:
        scene.frame_set(frame)
        _retarget_frame(source, target, source_rest, target_rest, root, scale)
        for bone in target.pose.bones:
            bone.keyframe_insert("rotation_quaternion", frame=frame)
            bone.keyframe_insert("location", frame=frame)
    names = [b.name for b in target.pose.bones]
    heads = np.zeros((len(frames), len(names), 3))
    basis = np.zeros((len(frames), len(names), 3, 3))
    for k, frame in enumerate(frames):
        scene.frame_set(frame)
        world = np.array(target.matrix_world)
        heads[k] = np.array([list(b.head) for b in target.pose.bones]) @ world[:3, :3].T + world[:3, 3]
        basis[k] = np.array([np.array(b.matrix_basis.to_3x3()) for b in target.pose.bones])
    out[f"{job['name']}/bones"] = np.array(names)
    out[f"{job['name']}/heads"] = heads
    out[f"{job['name']}/basis"] = basis


def main() -> int:
    jobs_path, out_path = sys.argv[-2], sys.argv[-1]
    with open(jobs_path) as handle:
        jobs = json.load(handle)
    out, errors = {}, {}
    for job in jobs:
        try:
            retarget(job, out)
        except Exception as error:  # noqa: BLE001 - reported per job to the test
            errors[job["name"]] = f"{type(error).__name__}: {error}"
    out["errors"] = np.array(json.dumps(errors))
    np.savez(out_path, **out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
