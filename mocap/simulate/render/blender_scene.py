"""Render a scene description in Blender. Runs INSIDE Blender's Python
(``MOCAP_RENDER_JOB=JOB.json .venv-blender/bin/python blender_scene.py``), never in the
project's environment:
it imports only ``bpy``, ``mathutils``, ``numpy`` and the standard library.

JOB.json (written by :mod:`mocap.simulate.render.driver`):

- ``arrays``: an ``.npz`` with ``faces`` (T, 3) int, ``face_part`` (T,) int (0 skin, 1 shirt,
  2 trousers, 3 shoes; the painted face: 4 sclera, 5 iris, 6 brow, 7 lips), per actor
  ``verts_<p>`` (F, V, 3) float32 world metres (Z up) and ``colors_<p>`` (8, 3) linear RGB
  in [0, 1];
- ``cameras``: a list of ``{"name", "size_wh", "lens_mm", "sensor_width_mm", "shift_x",
  "shift_y", "matrix_world"}`` (:func:`mocap.simulate.render.scene.blender_camera`);
- ``frames`` (indices to render), ``engine`` (``"workbench"`` or ``"cycles"``), ``samples``,
  ``floor`` (bool), ``floor_size_m``, ``lighting`` (``"studio"``; ``"flat"``: Workbench
  shows the materials' colours unlit on a black world, so a white actor's pixel values are
  its coverage), ``aa`` (Workbench anti-aliasing samples: ``"OFF"``, ``"8"``...),
  ``background`` (bool: also render the scene without
  actors once per camera, as ``<cam>/background.png``);
- ``board`` (bool, optional): a printed board carried through the volume: arrays
  ``board_texture`` (H, W) uint8 grey, ``board_quad`` (4, 3) its corners in the board frame
  (top-left, top-right, bottom-right, bottom-left of the texture) and ``board_poses``
  (F, 4, 4) ``T_world_from_board``; shown unlit (Workbench colour type TEXTURE);
- ``out``: folder for ``<cam>/<frame:06d>.png`` (8-bit RGB). Which keypoints each camera
  sees is not Blender's job (:mod:`mocap.simulate.render.visibility` casts the rays in numpy),
  so the images do not depend on where the truth places keypoints.

Progress lines on stdout start with ``@@mocap ``.
"""
import json
import os
from pathlib import Path

import bpy
import numpy as np
from mathutils import Matrix

# mocap.simulate.render.scene.PART_NAMES (this script imports nothing of the project)
PART_NAMES = ("skin", "shirt", "trousers", "shoes", "sclera", "iris", "brow", "lips")


def say(text: str) -> None:
    print("@@mocap " + text, flush=True)


def make_material(name: str, rgb, roughness: float = 0.6):
    mat = bpy.data.materials.new(name)
    mat.diffuse_color = (*rgb, 1.0)        # Workbench (colour type MATERIAL)
    mat.roughness = roughness
    mat.use_nodes = True
    bsdf = mat.node_tree.nodes.get("Principled BSDF")
    if bsdf is not None:                   # Cycles
        bsdf.inputs["Base Color"].default_value = (*rgb, 1.0)
        bsdf.inputs["Roughness"].default_value = roughness
    return mat


def make_actor(p: int, verts0: np.ndarray, faces: np.ndarray, parts: np.ndarray, colors):
    mesh = bpy.data.meshes.new(f"actor{p}")
    mesh.vertices.add(len(verts0))
    mesh.vertices.foreach_set("co", verts0.astype(np.float32).ravel())
    mesh.loops.add(faces.size)
    mesh.loops.foreach_set("vertex_index", faces.astype(np.int32).ravel())
    mesh.polygons.add(len(faces))
    mesh.polygons.foreach_set("loop_start", np.arange(0, faces.size, 3, dtype=np.int32))
    mesh.polygons.foreach_set("material_index", parts.astype(np.int32))
    mesh.polygons.foreach_set("use_smooth", np.ones(len(faces), bool))
    mesh.update()
    mesh.validate()
    for k, name in enumerate(PART_NAMES):
        mesh.materials.append(make_material(f"actor{p}_{name}", colors[k]))
    obj = bpy.data.objects.new(f"actor{p}", mesh)
    bpy.context.scene.collection.objects.link(obj)
    return obj


def make_floor(size: float):
    half = size / 2
    mesh = bpy.data.meshes.new("floor")
    mesh.from_pydata([(-half, -half, 0), (half, -half, 0), (half, half, 0), (-half, half, 0)],
                     [], [(0, 1, 2, 3)])
    mesh.materials.append(make_material("floor", (0.35, 0.33, 0.30), 0.9))
    obj = bpy.data.objects.new("floor", mesh)
    bpy.context.scene.collection.objects.link(obj)
    return obj


def make_board(texture: np.ndarray, quad: np.ndarray):
    """A printed board: a quad with corners ``quad`` (4, 3) in the board frame and UVs spanning
    the grey ``texture`` (H, W) uint8 (row 0 at the top, at the quad's first corner)."""
    h, w = texture.shape
    img = bpy.data.images.new("board", width=w, height=h, alpha=False)
    img.colorspace_settings.name = "sRGB"          # before the pixels: changing it reloads
    grey = texture[::-1].astype(np.float32) / 255.0                # Blender's rows go up
    rgba = np.ones((h, w, 4), np.float32)
    rgba[..., :3] = grey[..., None]
    img.pixels.foreach_set(rgba.ravel())
    img.update()
    mesh = bpy.data.meshes.new("board")
    mesh.from_pydata([tuple(map(float, q)) for q in quad], [], [(0, 3, 2, 1)])
    uv = mesh.uv_layers.new(name="uv")
    corner_uv = {0: (0.0, 1.0), 1: (1.0, 1.0), 2: (1.0, 0.0), 3: (0.0, 0.0)}
    for loop in mesh.loops:
        uv.data[loop.index].uv = corner_uv[loop.vertex_index]
    mat = bpy.data.materials.new("board")
    mat.use_nodes = True
    nodes = mat.node_tree.nodes
    tex = nodes.new("ShaderNodeTexImage")
    tex.image = img
    tex.interpolation = "Linear"
    emit = nodes.new("ShaderNodeEmission")
    out = nodes.get("Material Output")
    mat.node_tree.links.new(tex.outputs["Color"], emit.inputs["Color"])
    mat.node_tree.links.new(emit.outputs["Emission"], out.inputs["Surface"])
    nodes.active = tex
    mesh.materials.append(mat)
    obj = bpy.data.objects.new("board", mesh)
    bpy.context.scene.collection.objects.link(obj)
    return obj


def make_lights(flat: bool):
    sun = bpy.data.lights.new("sun", type="SUN")
    sun.energy = 3.0
    sun.angle = 0.2
    obj = bpy.data.objects.new("sun", sun)
    obj.rotation_euler = (0.6, 0.2, 0.8)
    bpy.context.scene.collection.objects.link(obj)
    world = bpy.data.worlds.new("world")
    world.color = (0.0, 0.0, 0.0) if flat else (0.55, 0.58, 0.62)
    world.use_nodes = True
    bg = world.node_tree.nodes.get("Background")
    if bg is not None:
        bg.inputs["Color"].default_value = (*world.color, 1.0)
        bg.inputs["Strength"].default_value = 0.8
    bpy.context.scene.world = world


def make_camera(spec: dict):
    cam = bpy.data.cameras.new(spec["name"])
    cam.sensor_fit = "HORIZONTAL"
    cam.sensor_width = spec["sensor_width_mm"]
    cam.lens = spec["lens_mm"]
    cam.shift_x = spec["shift_x"]
    cam.shift_y = spec["shift_y"]
    cam.clip_start = 0.05
    cam.clip_end = 100.0
    obj = bpy.data.objects.new(spec["name"], cam)
    obj.matrix_world = Matrix(spec["matrix_world"])
    bpy.context.scene.collection.objects.link(obj)
    return obj


def setup_engine(job: dict) -> None:
    scene = bpy.context.scene
    r = scene.render
    r.resolution_percentage = 100
    r.pixel_aspect_x = r.pixel_aspect_y = 1.0
    r.image_settings.file_format = "PNG"
    r.image_settings.color_mode = "RGB"
    r.image_settings.color_depth = "8"
    r.film_transparent = False
    scene.view_settings.view_transform = "Standard"
    if job["engine"] == "cycles":
        r.engine = "CYCLES"
        scene.cycles.device = "CPU"
        scene.cycles.samples = int(job["samples"])
        scene.cycles.use_adaptive_sampling = True
        scene.cycles.use_denoising = True
        scene.cycles.max_bounces = 3
        try:
            scene.cycles.denoiser = "OPENIMAGEDENOISE"
            scene.cycles.denoising_prefilter = "FAST"
        except (AttributeError, TypeError):
            pass
    else:
        r.engine = "BLENDER_WORKBENCH"
        shading = scene.display.shading
        shading.light = "FLAT" if job["lighting"] == "flat" else "STUDIO"
        shading.color_type = "TEXTURE" if job.get("board") else "MATERIAL"
        shading.show_shadows = False
        shading.show_cavity = False
        scene.display.render_aa = job["aa"]


def render_to(path: Path) -> None:
    bpy.context.scene.render.filepath = str(path)
    bpy.ops.render.render(write_still=True)


def main(job_path: str) -> None:
    job = json.loads(Path(job_path).read_text())
    arrays = np.load(job["arrays"])
    bpy.ops.wm.read_factory_settings(use_empty=True)
    setup_engine(job)
    scene = bpy.context.scene
    faces, parts = arrays["faces"], arrays["face_part"]
    P = int(job["actors"])
    board = make_board(arrays["board_texture"], arrays["board_quad"]) if job.get("board") \
        else None
    verts = [arrays[f"verts_{p}"] for p in range(P)]
    objs = [make_actor(p, verts[p][0], faces, parts, arrays[f"colors_{p}"]) for p in range(P)]
    if job["floor"]:
        make_floor(job["floor_size_m"])
    make_lights(job["lighting"] == "flat")
    cams = [make_camera(spec) for spec in job["cameras"]]
    out = Path(job["out"])
    for spec in job["cameras"]:
        (out / spec["name"]).mkdir(parents=True, exist_ok=True)
    if job["background"]:
        for obj in objs:
            obj.hide_render = True
        for cam, spec in zip(cams, job["cameras"]):
            scene.camera = cam
            scene.render.resolution_x, scene.render.resolution_y = spec["size_wh"]
            render_to(out / spec["name"] / "background.png")
        for obj in objs:
            obj.hide_render = False
    frames = job["frames"]
    for i, f in enumerate(frames):
        if board is not None:
            board.matrix_world = Matrix(arrays["board_poses"][f].tolist())
        for p, obj in enumerate(objs):
            obj.data.vertices.foreach_set("co", verts[p][f].astype(np.float32).ravel())
            obj.data.update()
        bpy.context.view_layer.update()
        for cam, spec in zip(cams, job["cameras"]):
            scene.camera = cam
            scene.render.resolution_x, scene.render.resolution_y = spec["size_wh"]
            render_to(out / spec["name"] / f"{f:06d}.png")
        say(f"frame {i + 1}/{len(frames)}")
    say("done")


if __name__ == "__main__":
    main(os.environ["MOCAP_RENDER_JOB"])
