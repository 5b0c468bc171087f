"""Import BVH and FBX files into Blender and report what Blender sees. Runs INSIDE Blender's
Python (``.venv-blender/bin/python blender_judge.py JOBS.json OUT.npz``), never under pytest.

JOBS.json: a list of ``{"name": key, "path": file, "importer": "bvh" | "fbx" | "ufbx",
"frames": [Blender frame numbers to sample]}``. Each file is imported into an empty scene
with the importer's DEFAULT options, except for BVH's ``update_scene_fps`` and
``update_scene_duration``, which are turned on (Blender leaves the scene's rate and range alone
otherwise; the importer's options say so), on a scene whose range is first set to frame 1 only
(the importer only ever extends it). ``fbx`` is Blender's Python FBX add-on
(``import_scene.fbx``), ``ufbx`` its C++ importer (``wm.fbx_import``).

OUT.npz holds, per job ``name``:

- ``name/bones``: bone names (pose bones of the imported armature, Blender's order);
- ``name/heads``: (frames, bones, 3) world position of every bone's head at each sampled
  frame, Blender units (metres when the file says so), Blender's Z-up world;
- ``name/info``: JSON text: scene fps (fps / fps_base), frame_start/end, unit scale, the
  armature object's world matrix, the action's frame range and key count per curve, the
  meshes with their vertex groups;
- for every mesh skinned to the armature: ``name/mesh/<mesh>/groups`` (group names),
  ``.../weights`` (vertices, groups) and ``.../vertices`` (frames, vertices, 3) world
  positions of the evaluated (deformed) mesh at each sampled frame.
"""

import json
import sys

import bpy
import numpy as np


def _empty_scene() -> None:
    bpy.ops.wm.read_factory_settings(use_empty=True)


def _import(job: dict) -> None:
    path, importer = job["path"], job["importer"]
    if importer == "bvh":
        # update_scene_duration only ever extends the range: start from a one-frame scene so
        # that the range after the import is exactly the file's.
        bpy.context.scene.frame_start = bpy.context.scene.frame_end = 1
        result = bpy.ops.import_anim.bvh(filepath=path, update_scene_fps=True, update_scene_duration=True)
    elif importer == "fbx":
        result = bpy.ops.import_scene.fbx(filepath=path)
    elif importer == "ufbx":
        result = bpy.ops.wm.fbx_import(filepath=path)
    else:
        raise ValueError(f"unknown importer {importer!r}")
    if "FINISHED" not in result:
        raise RuntimeError(f"{importer} import of {path} returned {result}")


def _action_info(obj) -> dict:
    anim = obj.animation_data
    if anim is None or anim.action is None:
        return {"action": None}
    action = anim.action
    counts = set()
    for layer in getattr(action, "layers", ()):
        for strip in layer.strips:
            for bag in strip.channelbags:
                counts.update(len(curve.keyframe_points) for curve in bag.fcurves)
    if not counts and hasattr(action, "fcurves"):
        counts.update(len(curve.keyframe_points) for curve in action.fcurves)
    return {"action": action.name, "frame_range": list(action.frame_range), "keys_per_curve": sorted(counts)}


def _mesh_data(mesh_obj, frames: list, depsgraph, scene) -> dict:
    """Vertex groups, dense weights and deformed world vertices per frame."""
    groups = [g.name for g in mesh_obj.vertex_groups]
    count = len(mesh_obj.data.vertices)
    weights = np.zeros((count, len(groups)))
    for vertex in mesh_obj.data.vertices:
        for element in vertex.groups:
            weights[vertex.index, element.group] = element.weight
    positions = np.zeros((len(frames), count, 3))
    for k, frame in enumerate(frames):
        scene.frame_set(frame)
        evaluated = mesh_obj.evaluated_get(depsgraph)
        mesh = evaluated.to_mesh()
        flat = np.zeros(count * 3)
        mesh.vertices.foreach_get("co", flat)
        matrix = np.array(evaluated.matrix_world)
        positions[k] = flat.reshape(-1, 3) @ matrix[:3, :3].T + matrix[:3, 3]
        evaluated.to_mesh_clear()
    return {"groups": groups, "weights": weights, "vertices": positions}


def judge(job: dict, out: dict) -> None:
    _empty_scene()
    _import(job)
    scene = bpy.context.scene
    armatures = [obj for obj in scene.objects if obj.type == "ARMATURE"]
    if len(armatures) != 1:
        raise RuntimeError(f"{job['path']}: expected one armature, found {[o.name for o in armatures]}")
    arm = armatures[0]
    frames = [int(f) for f in job["frames"]]
    depsgraph = bpy.context.evaluated_depsgraph_get()
    names = [bone.name for bone in arm.pose.bones]
    heads = np.zeros((len(frames), len(names), 3))
    for k, frame in enumerate(frames):
        scene.frame_set(frame)
        evaluated = arm.evaluated_get(depsgraph)
        matrix = np.array(evaluated.matrix_world)
        local = np.array([list(bone.head) for bone in evaluated.pose.bones])
        heads[k] = local @ matrix[:3, :3].T + matrix[:3, 3]
    key = job["name"]
    meshes = {}
    for obj in scene.objects:
        if obj.type != "MESH":
            continue
        modifiers = [m for m in obj.modifiers if m.type == "ARMATURE" and m.object == arm]
        meshes[obj.name] = {"armature_modifier": bool(modifiers), "vertices": len(obj.data.vertices),
                            "polygons": len(obj.data.polygons), "groups": len(obj.vertex_groups)}
        if modifiers:
            data = _mesh_data(obj, frames, depsgraph, scene)
            out[f"{key}/mesh/{obj.name}/groups"] = np.array(data["groups"])
            out[f"{key}/mesh/{obj.name}/weights"] = data["weights"]
            out[f"{key}/mesh/{obj.name}/vertices"] = data["vertices"]
    info = {
        "blender": bpy.app.version_string,
        "fps": scene.render.fps / scene.render.fps_base,
        "frame_start": scene.frame_start,
        "frame_end": scene.frame_end,
        "unit_system": scene.unit_settings.system,
        "scale_length": scene.unit_settings.scale_length,
        "armature": arm.name,
        "armature_matrix_world": [list(row) for row in arm.matrix_world],
        "meshes": meshes,
        **_action_info(arm),
    }
    out[f"{key}/bones"] = np.array(names)
    out[f"{key}/heads"] = heads
    out[f"{key}/info"] = np.array(json.dumps(info))


def main() -> int:
    jobs_path, out_path = sys.argv[-2], sys.argv[-1]
    with open(jobs_path) as handle:
        jobs = json.load(handle)
    out: dict = {}
    errors = {}
    for job in jobs:
        try:
            judge(job, out)
        except Exception as exc:  # reported per job, so one bad file does not hide the others
            errors[job["name"]] = f"{type(exc).__name__}: {exc}"
    out["errors"] = np.array(json.dumps(errors))
    np.savez(out_path, **out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
