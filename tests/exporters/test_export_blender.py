"""Blender as the judge: every BVH and FBX file we write is imported into Blender 5.0 (``bpy``
in its own virtual environment ``.venv-blender``, driven as a subprocess by
``blender_judge.py``) with the importers' default options, and what Blender shows is compared
with our joints: each bone's world head position at every frame (within 1 mm), the armature
upright on the floor in metres, the take's frame count and rate, and the skinned mesh with
its vertex groups, weights and deformation.

Both of Blender's FBX importers judge each FBX file: the Python add-on
(``import_scene.fbx``) and the C++ one (``wm.fbx_import``, built on ufbx).

These tests skip only when ``.venv-blender`` is absent AND the environment variable CI is
unset; under CI (``make test`` creates the environment with scripts/setup_blender.sh) they run.
One Blender process judges all files (its start takes seconds).
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from exporters import Motion, Skeleton, forward_kinematics, write_bvh
from exporters.fbx import write_fbx
from exporters.mesh import SkinnedMesh, bone_boxes, linear_blend_skinning
from exporters.root_motion import add_root_bone, add_root_weights, pelvis_yaw

pytestmark = [pytest.mark.blender, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
BLENDER_PYTHON = REPO / ".venv-blender" / "bin" / "python"
JUDGE = Path(__file__).with_name("blender_judge.py")
TOLERANCE_M = 1e-3

# name, parent, rest offset (metres, Z up, facing -Y); the toes touch the floor (z = 0) at rest
ACTOR = (
    ("pelvis", -1, (0.0, 0.0, 1.0)), ("spine", 0, (0.0, 0.01, 0.15)), ("chest", 1, (0.0, 0.0, 0.25)),
    ("neck", 2, (0.0, -0.01, 0.18)), ("head", 3, (0.0, -0.02, 0.15)),
    ("l_shoulder", 2, (0.17, 0.0, 0.12)), ("l_elbow", 5, (0.28, 0.0, -0.02)), ("l_wrist", 6, (0.25, -0.02, 0.0)),
    ("r_shoulder", 2, (-0.17, 0.0, 0.12)), ("r_elbow", 8, (-0.28, 0.0, -0.02)), ("r_wrist", 9, (-0.25, -0.02, 0.0)),
    ("l_hip", 0, (0.1, 0.0, -0.06)), ("l_knee", 11, (0.0, 0.01, -0.42)), ("l_ankle", 12, (0.0, 0.02, -0.42)),
    ("l_toe", 13, (0.0, -0.14, -0.1)),
    ("r_hip", 0, (-0.1, 0.0, -0.06)), ("r_knee", 15, (0.0, 0.01, -0.42)), ("r_ankle", 16, (0.0, 0.02, -0.42)),
    ("r_toe", 17, (0.0, -0.14, -0.1)),
)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@dataclass
class Case:
    """One file imported by one importer, with the joints it must show."""

    name: str
    path: Path
    importer: str
    skeleton: Skeleton
    motion: Motion
    mesh: SkinnedMesh | None = None
    stance: str = "rest"    # "rest": frame 0 is the rest pose on the floor; "walk": every frame on
                            # the floor; "body": every frame upright (head above the pelvis)
    metres_per_unit: float = 1.0   # the file's units


def _actor_motion(skeleton: Skeleton, frames: int, fps: float) -> Motion:
    """Frame 0: rest pose. Then large smooth joint rotations, the whole body turning through
    more than a full turn about the vertical (Euler angles must wind up without jumps)."""
    t = np.arange(frames) / frames
    rng = np.random.default_rng(8)
    axes = rng.normal(size=(skeleton.num_joints, 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    amplitude = np.deg2rad(rng.uniform(20, 110, size=skeleton.num_joints))
    angles = amplitude[None] * np.sin(2 * np.pi * (t[:, None] + rng.uniform(size=skeleton.num_joints)))
    angles -= angles[:1]
    rotations = Rotation.from_rotvec((angles[..., None] * axes[None]).reshape(-1, 3)).as_matrix()
    rotations = rotations.reshape(frames, skeleton.num_joints, 3, 3)
    rotations[:, 0] = Rotation.from_rotvec(np.outer(2.4 * np.pi * t, [0, 0, 1])).as_matrix()
    root = skeleton.offsets[0] + np.stack([np.sin(2 * np.pi * t), 1.5 * t, 0.2 * t], axis=1)
    return Motion(rotations, root, fps)


def _synthetic_cases(folder: Path) -> list[Case]:
    names, parents, offsets = zip(*ACTOR, strict=True)
    skeleton = Skeleton(names, np.array(parents), np.array(offsets))
    motion = _actor_motion(skeleton, 48, 24.0)
    mesh = bone_boxes(skeleton)
    write_bvh(folder / "synthetic.bvh", skeleton, motion)                                  # metres, Y up
    write_fbx(folder / "synthetic.fbx", skeleton, motion, mesh)                            # metres, Y up, 7.4
    write_fbx(folder / "synthetic_z_cm.fbx", skeleton, motion, mesh, up="z", units="cm", version=7500)
    cases = [Case("synthetic.bvh", folder / "synthetic.bvh", "bvh", skeleton, motion)]
    for file in ("synthetic.fbx", "synthetic_z_cm.fbx"):
        cases += [Case(f"{file}:{importer}", folder / file, importer, skeleton, motion, mesh,
                       metres_per_unit=0.01 if "cm" in file else 1.0) for importer in ("fbx", "ufbx")]
    return cases + _root_cases(folder, skeleton, motion)


def _root_cases(folder: Path, skeleton: Skeleton, motion: Motion) -> list[Case]:
    """The synthetic actor with its root motion on a root bone at the floor (the hips translating
    under it): BVH position channels and FBX translation curves on a child bone."""
    rooted, moved = add_root_bone(skeleton, motion, "root")
    mesh = add_root_weights(bone_boxes(skeleton))
    write_bvh(folder / "root.bvh", rooted, moved)
    write_fbx(folder / "root.fbx", rooted, moved, mesh)
    return [Case("root.bvh", folder / "root.bvh", "bvh", rooted, moved)] + [
        Case(f"root.fbx:{importer}", folder / "root.fbx", importer, rooted, moved, mesh) for importer in ("fbx", "ufbx")]


def _pipeline_cases(folder: Path) -> list[Case]:
    """A simulated walk through the whole pipeline and ``mocap export`` (Mixamo names, box mesh)."""
    from mocap.app.cli import main
    from mocap.app.pipeline import run
    from mocap.app.studio import write_session
    from mocap.simulate import Actor, ErrorModel, load_rig_template, simulate_take
    from mocap.export import animation_motion, animation_rig, person_contacts
    from mocap.export.skeleton import keypoint_skeleton
    from mocap.settings import ExportSettings
    from mocap.types import Points3D

    rig = load_rig_template("studio4")
    take = simulate_take(rig, [Actor("walk", seed=4)], 45, 30.0, "body25", ErrorModel(), seed=3)
    root = write_session(folder / "walk", rig, take)
    with open(root / "session.toml", "a") as fh:
        fh.write('\n[export]\nformats = ["trc"]\n[fit]\nenabled = false\n')  # the keypoint skeleton
    run(root)
    assert main(["export", str(root), "--format", "bvh,fbx", "--naming", "mixamo", "--mesh", "boxes"]) == 0
    points = Points3D.load(root / "out" / "points3d.npz")
    skeleton, motion = keypoint_skeleton(points.xyz[:, 0], points.format, points.fps)
    # as the export does by default: feet locked, Mixamo's names and rest pose (T)
    settings = ExportSettings(naming="mixamo")
    motion = animation_motion(skeleton, motion, person_contacts(points.xyz[:, 0], points, settings), settings)
    skeleton, motion, _ = animation_rig(skeleton, motion, None, settings)
    out = root / "out"
    return [Case("walk.bvh", out / "person0.bvh", "bvh", skeleton, motion, stance="walk")] + [
        Case(f"walk.fbx:{importer}", out / "person0.fbx", importer, skeleton, motion, bone_boxes(skeleton), "walk")
        for importer in ("fbx", "ufbx")]


def _body_cases(folder: Path) -> list[Case]:
    """A fitted body (a synthetic SMPL-like model standing Y up in its rest frame) through the
    export stage: its skeleton, motion and skinned body mesh in the FBX."""
    from export_body_scene import synthetic_body, synthetic_model
    from exporters.naming import rename_skeleton
    from mocap.export import body_export, export_people
    from mocap.settings import ExportSettings
    from mocap.types import Points3D

    model = synthetic_model()
    body = synthetic_body(model, frames=36, fps=60.0)
    points = Points3D(xyz=body.joints[:, None], conf=np.ones((36, 1, len(model.fitted)), np.float32),
                      joint_names=model.fitted, fps=60.0)
    (folder / "body").mkdir()
    export_people(points, folder / "body", ExportSettings(formats=("fbx",), naming="blender"),
                  bodies={0: (model, body)})
    skeleton, motion, mesh = body_export(model, body)
    named = rename_skeleton(skeleton, "blender")
    mesh = SkinnedMesh(mesh.vertices, mesh.faces, mesh.weights, mesh.name)
    return [Case(f"body.fbx:{importer}", folder / "body" / "person0.fbx", importer, named, motion, mesh,
                 stance="body") for importer in ("fbx", "ufbx")]


@pytest.fixture(scope="module")
def judged(tmp_path_factory) -> tuple[dict[str, Case], dict]:
    """Write every file, import them all in one Blender process, return (cases, Blender's report)."""
    if not BLENDER_PYTHON.exists():
        if _in_ci():
            pytest.fail(f"{BLENDER_PYTHON} is missing under CI: `make test` creates it (scripts/setup_blender.sh)")
        pytest.skip(".venv-blender is absent (run scripts/setup_blender.sh, as `make test` does); "
                    "these tests run whenever CI is set")
    folder = tmp_path_factory.mktemp("blender")
    cases = {case.name: case for case in _synthetic_cases(folder) + _pipeline_cases(folder) + _body_cases(folder)}
    jobs = [{"name": c.name, "path": str(c.path), "importer": c.importer,
             "frames": list(range(1, c.motion.num_frames + 1))} for c in cases.values()]
    (folder / "jobs.json").write_text(json.dumps(jobs))
    result = subprocess.run([str(BLENDER_PYTHON), str(JUDGE), str(folder / "jobs.json"), str(folder / "out.npz")],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"Blender failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    with np.load(folder / "out.npz") as data:
        report = {key: data[key] for key in data.files}
    errors = json.loads(str(report["errors"]))
    assert not errors, f"Blender could not import: {errors}"
    return cases, report


CASES = ["synthetic.bvh", "synthetic.fbx:fbx", "synthetic.fbx:ufbx", "synthetic_z_cm.fbx:fbx",
         "synthetic_z_cm.fbx:ufbx", "walk.bvh", "walk.fbx:fbx", "walk.fbx:ufbx", "body.fbx:fbx", "body.fbx:ufbx"]
ROOT_CASES = ["root.bvh", "root.fbx:fbx", "root.fbx:ufbx"]
MESH_CASES = [c for c in CASES + ROOT_CASES if ".fbx" in c]


def _heads(judged, name: str) -> tuple[Case, np.ndarray, np.ndarray, dict]:
    """(case, Blender's heads (F, J, 3) in our joint order, our FK joints (F, J, 3), info)."""
    cases, report = judged
    case = cases[name]
    bones = [str(b) for b in report[f"{name}/bones"]]
    assert sorted(bones) == sorted(case.skeleton.joint_names), f"{name}: bones {bones}"
    order = [bones.index(joint) for joint in case.skeleton.joint_names]
    ours = forward_kinematics(case.skeleton, case.motion.rotations, case.motion.root_translation,
                              case.motion.translations)[0]
    return case, report[f"{name}/heads"][:, order], ours, json.loads(str(report[f"{name}/info"]))


@pytest.mark.parametrize("name", CASES + ROOT_CASES)
def test_bone_heads_match_our_joints_at_every_frame(judged, name: str) -> None:
    _, blender, ours, _ = _heads(judged, name)
    error = np.linalg.norm(blender - ours, axis=-1)            # (F, J) metres
    assert error.shape[0] == ours.shape[0]
    worst = np.unravel_index(np.argmax(error), error.shape)
    assert error.max() < TOLERANCE_M, f"{name}: {error.max() * 1000:.3f} mm at frame {worst[0]}, joint {worst[1]}"


@pytest.mark.parametrize("name", CASES + ROOT_CASES)
def test_frame_count_and_rate(judged, name: str) -> None:
    case, _, _, info = _heads(judged, name)
    frames = case.motion.num_frames
    assert info["fps"] == pytest.approx(case.motion.fps, rel=1e-9)
    assert info["frame_range"] == [1.0, float(frames)]
    assert info["keys_per_curve"] == [frames]
    if case.importer == "bvh":
        # the scene now spans the take (Blender's BVH importer sets frame_end = frame_start +
        # frame count, one past the last key; the keys themselves are checked above)
        assert info["frame_start"] == 1 and info["frame_end"] == frames + 1


@pytest.mark.parametrize("name", CASES)
def test_metres_and_upright_on_the_floor(judged, name: str) -> None:
    case, blender, _, info = _heads(judged, name)
    assert info["unit_system"] == "METRIC" and info["scale_length"] == 1.0
    # a metre file needs no scale; a centimetre FBX is scaled by 0.01 by Blender (it reads UnitScaleFactor)
    matrix = np.array(info["armature_matrix_world"])
    np.testing.assert_allclose(np.linalg.norm(matrix[:3, :3], axis=0), case.metres_per_unit, rtol=1e-6)
    names = case.skeleton.joint_names
    top = next(names.index(n) for n in ("head", "mixamorig:Nose", "spine.006") if n in names)
    frames = [0] if case.stance == "rest" else range(blender.shape[0])
    for f in frames:
        lowest = blender[f, :, 2].min()
        assert blender[f, top, 2] - blender[f, 0, 2] > 0.3, f"{name} frame {f}: head not above the pelvis"
        if case.stance == "body":  # the pelvis about 0.95 m up, the feet below it (limbs swing)
            assert 0.9 < blender[f, 0, 2] < 1.0 and lowest < 0.2
            continue
        assert -0.03 < lowest < 0.12, f"{name} frame {f}: lowest joint at z = {lowest:.3f} m (floor: 0)"
    if case.stance == "rest":  # the rest pose: 1 m pelvis, toes on the floor, facing -Y (toes ahead of ankles)
        assert blender[0, 0, 2] == pytest.approx(1.0, abs=1e-6)
        assert blender[0, names.index("l_toe"), 1] < blender[0, names.index("l_ankle"), 1]


@pytest.mark.parametrize("name", ROOT_CASES)
def test_root_bone_on_the_floor_turning_with_the_pelvis(judged, name: str) -> None:
    case, blender, _, _ = _heads(judged, name)
    np.testing.assert_allclose(blender[:, 0, 2], 0.0, atol=TOLERANCE_M)                # the root on the floor
    np.testing.assert_allclose(blender[:, 0, :2], blender[:, 1, :2], atol=TOLERANCE_M)  # under the hips
    turn = pelvis_yaw(case.motion.rotations[:, 0])
    assert np.ptp(turn) > 2 * np.pi                                             # more than a full turn
    np.testing.assert_allclose(turn, np.unwrap(2.4 * np.pi * np.arange(case.motion.num_frames) / 48), atol=1e-9)


@pytest.mark.parametrize("name", MESH_CASES)
def test_skinned_mesh_imports_with_its_weights(judged, name: str) -> None:
    cases, report = judged
    case, _, _, info = _heads(judged, name)
    (mesh_name, mesh_info), = info["meshes"].items()
    assert mesh_info["armature_modifier"] and mesh_info["vertices"] == len(case.mesh.vertices)
    assert mesh_info["polygons"] == len(case.mesh.faces)
    groups = [str(g) for g in report[f"{name}/mesh/{mesh_name}/groups"]]
    weighted = [case.skeleton.joint_names[j] for j in np.flatnonzero(case.mesh.weights.sum(0) > 0)]
    assert sorted(groups) == sorted(weighted)
    columns = [case.skeleton.joint_names.index(g) for g in groups]
    np.testing.assert_allclose(report[f"{name}/mesh/{mesh_name}/weights"], case.mesh.weights[:, columns], atol=1e-6)
    deformed = report[f"{name}/mesh/{mesh_name}/vertices"]
    expected = linear_blend_skinning(case.mesh, case.skeleton, case.motion)
    error = np.linalg.norm(deformed - expected, axis=-1)
    assert error.max() < TOLERANCE_M, f"{name}: skinned vertices off by {error.max() * 1000:.3f} mm"
