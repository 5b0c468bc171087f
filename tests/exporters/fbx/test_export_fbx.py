"""FBX mapping: Skeleton + Motion (+ skinned mesh) -> binary FBX -> back, with the joints,
rates, axes and units the file states."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from exporters import Motion, Skeleton, forward_kinematics
from exporters.errors import ExportError, FormatError, MotionError
from exporters.fbx import (
    AXIS_SETTINGS,
    bone_frames,
    read_fbx,
    skeleton_motion_to_fbx,
    write_fbx,
)
from exporters.fbx_format import (
    KTIME_PER_SECOND,
    FbxDocument,
    FbxNode,
    Property,
    encode_document,
    properties70_values,
    read_document,
    split_object_name,
    write_document,
)
from exporters.mesh import bone_boxes, linear_blend_skinning


def _objects(doc: FbxDocument, kind: str, cls: str | None = None) -> list[FbxNode]:
    objects = doc.find("Objects")
    return [n for n in objects.children if n.name == kind and (cls is None or n.values[2] == cls)]


@pytest.mark.parametrize("up", ["y", "z"])
@pytest.mark.parametrize("units", ["m", "cm", "mm"])
def test_round_trip_reproduces_joint_positions(tmp_path: Path, humanoid: Skeleton, random_motion, fk_positions,
                                               up: str, units: str) -> None:
    motion = random_motion(humanoid, 25, fps=30.0)
    write_fbx(tmp_path / "t.fbx", humanoid, motion, up=up, units=units)
    scene = read_fbx(tmp_path / "t.fbx")
    assert scene.skeleton.joint_names == humanoid.joint_names
    np.testing.assert_array_equal(scene.skeleton.parents, humanoid.parents)
    np.testing.assert_allclose(scene.skeleton.offsets, humanoid.offsets, atol=1e-9)
    assert scene.motion.num_frames == 25 and scene.motion.fps == 30.0
    # keys are float32 (what FBX stores): about 1e-7 relative
    np.testing.assert_allclose(fk_positions(scene.skeleton, scene.motion), fk_positions(humanoid, motion), atol=2e-6)
    np.testing.assert_allclose(scene.motion.rotations, motion.rotations, atol=2e-6)
    assert scene.mesh is None


def test_version_7500_round_trips(tmp_path: Path, chain: Skeleton, random_motion, fk_positions) -> None:
    motion = random_motion(chain, 5)
    write_fbx(tmp_path / "t.fbx", chain, motion, version=7500)
    assert read_document(tmp_path / "t.fbx").version == 7500
    np.testing.assert_allclose(fk_positions(*_pair(read_fbx(tmp_path / "t.fbx"))), fk_positions(chain, motion),
                               atol=2e-6)


def _pair(scene):
    return scene.skeleton, scene.motion


def test_file_states_axes_units_and_time(humanoid: Skeleton, random_motion) -> None:
    motion = random_motion(humanoid, 10, fps=24.0)
    doc = skeleton_motion_to_fbx(humanoid, motion, up="y", units="cm")
    settings = properties70_values(doc.find("GlobalSettings"))
    for key, value in AXIS_SETTINGS["y"].items():
        assert settings[key] == [value]
    assert settings["UnitScaleFactor"] == [1.0]  # centimetres: 1 cm per file unit
    assert settings["TimeMode"] == [11] and settings["CustomFrameRate"] == [24.0]
    stop = round(9 * KTIME_PER_SECOND / 24.0)
    assert settings["TimeSpanStop"] == [stop]
    stack = _objects(doc, "AnimationStack")[0]
    assert properties70_values(stack)["LocalStop"] == [stop]
    take = doc.find("Takes").find("Take")
    assert take.find("LocalTime").values == [0, stop]
    curves = _objects(doc, "AnimationCurve")
    assert len(curves) == 3 * humanoid.num_joints + 3  # rotation of every joint, translation of the root
    for curve in curves:
        np.testing.assert_array_equal(curve.find("KeyTime").values[0], np.round(np.arange(10) * KTIME_PER_SECOND / 24))
    assert {split_object_name(m.values[1])[0] for m in _objects(doc, "Model", "LimbNode")} == set(humanoid.joint_names)
    doc_m = skeleton_motion_to_fbx(humanoid, motion, up="z", units="m")
    settings_m = properties70_values(doc_m.find("GlobalSettings"))
    assert settings_m["UnitScaleFactor"] == [100.0] and settings_m["UpAxis"] == [2]


@pytest.mark.parametrize(("fps", "mode"), [(30.0, 6), (30 / 1.001, 9), (60.0, 3), (25.0, 10), (37.5, 14)])
def test_frame_rates(tmp_path: Path, chain: Skeleton, random_motion, fps: float, mode: int) -> None:
    write_fbx(tmp_path / "r.fbx", chain, random_motion(chain, 7, fps=fps))
    assert properties70_values(read_document(tmp_path / "r.fbx").find("GlobalSettings"))["TimeMode"] == [mode]
    motion = read_fbx(tmp_path / "r.fbx").motion
    assert motion.fps == pytest.approx(fps, rel=1e-12) and motion.num_frames == 7


def test_bone_frames_point_along_the_bones(humanoid: Skeleton) -> None:
    rest = humanoid.rest_positions()
    frames = bone_frames(rest, humanoid.parents)
    np.testing.assert_allclose(frames @ np.swapaxes(frames, -1, -2), np.broadcast_to(np.eye(3), frames.shape),
                               atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(frames), 1.0, atol=1e-12)
    for j in range(humanoid.num_joints):
        kids = list(humanoid.children(j))
        target = rest[kids].mean(0) - rest[j] if kids else rest[j] - rest[humanoid.parents[j]]
        np.testing.assert_allclose(frames[j][:, 1], target / np.linalg.norm(target), atol=1e-12)
        # the X axis is the file's +X made perpendicular to the bone (no arbitrary roll)
        y = frames[j][:, 1]
        x = np.array([1.0, 0.0, 0.0]) - y[0] * y
        if np.linalg.norm(x) > 1e-3:
            np.testing.assert_allclose(frames[j][:, 0], x / np.linalg.norm(x), atol=1e-12)


def test_node_transforms_are_bone_aligned_yet_positions_exact(humanoid: Skeleton, random_motion) -> None:
    """The rest Lcl Translation of a child is along its parent's +Y when the parent has one child."""
    doc = skeleton_motion_to_fbx(humanoid, random_motion(humanoid, 2), up="y")
    models = {split_object_name(m.values[1])[0]: properties70_values(m) for m in _objects(doc, "Model", "LimbNode")}
    t = np.array(models["l_elbow"]["Lcl Translation"])  # l_shoulder has one child: the elbow lies on its Y axis
    np.testing.assert_allclose(t[[0, 2]], 0.0, atol=1e-12)
    assert t[1] == pytest.approx(np.linalg.norm(humanoid.offsets[humanoid.index("l_elbow")]))


def test_skinned_mesh_round_trips(tmp_path: Path, humanoid: Skeleton, random_motion) -> None:
    mesh = bone_boxes(humanoid)
    write_fbx(tmp_path / "m.fbx", humanoid, random_motion(humanoid, 3), mesh, up="y", units="cm")
    back = read_fbx(tmp_path / "m.fbx").mesh
    np.testing.assert_allclose(back.vertices, mesh.vertices, atol=1e-12)
    np.testing.assert_array_equal(back.faces, mesh.faces)
    np.testing.assert_allclose(back.weights, mesh.weights, atol=1e-12)
    doc = read_document(tmp_path / "m.fbx")
    clusters = _objects(doc, "Deformer", "Cluster")
    assert len(clusters) == int(np.sum(mesh.weights.sum(0) > 0))
    pose = _objects(doc, "Pose", "BindPose")[0]
    assert pose.find("NbPoseNodes").values == [humanoid.num_joints + 2]  # bones, armature, mesh


def test_cluster_bind_matrices_reproduce_skinning(humanoid: Skeleton, random_motion) -> None:
    """FBX skinning equals our linear-blend skinning. As the FBX SDK and Blender store it,
    ``Transform`` is the mesh's bind matrix in the bone's space (TransformLink^-1 @ mesh global),
    so a vertex moves by ``bone global @ Transform``."""
    motion = random_motion(humanoid, 4)
    mesh = bone_boxes(humanoid)
    doc = skeleton_motion_to_fbx(humanoid, motion, mesh, up="z", units="m")
    rest = humanoid.rest_positions()
    frames = bone_frames(rest, humanoid.parents)
    positions, rotations = forward_kinematics(humanoid, motion.rotations, motion.root_translation)
    expected = linear_blend_skinning(mesh, humanoid, motion)
    names = [split_object_name(c.values[1])[0] for c in _objects(doc, "Deformer", "Cluster")]
    posed = np.zeros_like(expected)
    for cluster, name in zip(_objects(doc, "Deformer", "Cluster"), names, strict=True):
        j = humanoid.index(name)
        link = cluster.find("TransformLink").values[0].reshape(4, 4).T
        transform = cluster.find("Transform").values[0].reshape(4, 4).T
        np.testing.assert_allclose(link[:3, 3], rest[j])
        np.testing.assert_allclose(link @ transform, np.eye(4), atol=1e-12)  # the mesh's global bind matrix
        for f in range(motion.num_frames):
            bone = np.eye(4)
            bone[:3, :3], bone[:3, 3] = rotations[f, j] @ frames[j], positions[f, j]
            skin = bone @ transform
            idx = cluster.find("Indexes").values[0]
            w = cluster.find("Weights").values[0]
            posed[f, idx] += w[:, None] * (mesh.vertices[idx] @ skin[:3, :3].T + skin[:3, 3])
    np.testing.assert_allclose(posed, expected, atol=1e-12)


def test_files_are_deterministic(tmp_path: Path, humanoid: Skeleton, random_motion) -> None:
    motion = random_motion(humanoid, 3)
    write_fbx(tmp_path / "a.fbx", humanoid, motion, bone_boxes(humanoid))
    write_fbx(tmp_path / "b.fbx", humanoid, motion, bone_boxes(humanoid))
    assert (tmp_path / "a.fbx").read_bytes() == (tmp_path / "b.fbx").read_bytes()


# ----------------------------------------------------------------------------- errors


def test_writer_rejects_bad_input(tmp_path: Path, humanoid: Skeleton, chain: Skeleton, random_motion) -> None:
    with pytest.raises(MotionError, match=r"expected at least one frame"):
        write_fbx(tmp_path / "x.fbx", chain, Motion(np.zeros((0, 6, 3, 3)), np.zeros((0, 3)), 30.0))
    with pytest.raises(MotionError, match=r"expected 17 joints"):
        write_fbx(tmp_path / "x.fbx", humanoid, random_motion(chain, 2))
    with pytest.raises(ExportError, match=r"mesh weights: expected 6 columns"):
        write_fbx(tmp_path / "x.fbx", chain, random_motion(chain, 2), bone_boxes(humanoid))
    with pytest.raises(ExportError, match=r"up: expected one of \['y', 'z'\], found 'x'"):
        write_fbx(tmp_path / "x.fbx", chain, random_motion(chain, 2), up="x")
    with pytest.raises(ExportError, match=r"units: expected one of"):
        write_fbx(tmp_path / "x.fbx", chain, random_motion(chain, 2), units="ft")
    with pytest.raises(ExportError, match=r"take name 'a\\x00b'"):
        write_fbx(tmp_path / "x.fbx", chain, random_motion(chain, 2), take_name="a\x00b")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_keeps_the_previous_file(tmp_path: Path, chain: Skeleton, random_motion) -> None:
    path = tmp_path / "keep.fbx"
    write_fbx(path, chain, random_motion(chain, 2))
    before = path.read_bytes()
    with pytest.raises(ExportError):
        write_fbx(path, chain, random_motion(chain, 2), version=7300)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["keep.fbx"]


def test_reader_names_what_it_cannot_map(tmp_path: Path, chain: Skeleton, random_motion) -> None:
    (tmp_path / "ascii.fbx").write_text("; FBX 7.4.0 project file\nFBXHeaderExtension:  {\n}\n")
    with pytest.raises(FormatError, match=r"ascii\.fbx, byte 0: .*found an ASCII FBX file"):
        read_fbx(tmp_path / "ascii.fbx")
    write_document(tmp_path / "empty.fbx", FbxDocument(7400, [FbxNode("Objects", [], [FbxNode("X", [Property.i64(1)])]),
                                                             FbxNode("Connections")]))
    with pytest.raises(FormatError, match=r"empty\.fbx, Objects: expected Model nodes of class LimbNode"):
        read_fbx(tmp_path / "empty.fbx")
    doc = skeleton_motion_to_fbx(chain, random_motion(chain, 2))
    links = doc.find("Connections")
    second_bone = _objects(doc, "Model", "LimbNode")[1].values[0]
    links.children = [c for c in links.children if not (c.values[0] == "OO" and c.values[1] == second_bone)]
    (tmp_path / "two_roots.fbx").write_bytes(encode_document(doc))
    with pytest.raises(FormatError, match=r"two_roots\.fbx, Objects: expected one root LimbNode, found 2"):
        read_fbx(tmp_path / "two_roots.fbx")
    with pytest.raises(FileNotFoundError):
        read_fbx(tmp_path / "none.fbx")
