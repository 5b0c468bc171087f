"""Skinned meshes: validation, linear-blend skinning against exact rigid motion, the box proxy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from exporters import Motion, Skeleton, forward_kinematics
from exporters.errors import ExportError
from exporters.mesh import SkinnedMesh, bone_boxes, linear_blend_skinning


def test_rest_pose_gives_the_rest_mesh(humanoid: Skeleton) -> None:
    mesh = bone_boxes(humanoid)
    rest = Motion(np.broadcast_to(np.eye(3), (2, humanoid.num_joints, 3, 3)),
                  np.tile(humanoid.offsets[0], (2, 1)), 30.0)
    np.testing.assert_allclose(linear_blend_skinning(mesh, humanoid, rest), np.stack([mesh.vertices] * 2), atol=1e-12)


def test_rigid_weights_move_with_their_joint(humanoid: Skeleton, random_motion) -> None:
    """A vertex weighted 1 to joint j keeps its position in j's frame: R_j (v - rest_j) + p_j."""
    motion = random_motion(humanoid, 6)
    mesh = bone_boxes(humanoid, blend=0.0)
    posed = linear_blend_skinning(mesh, humanoid, motion)
    positions, rotations = forward_kinematics(humanoid, motion.rotations, motion.root_translation)
    rest = humanoid.rest_positions()
    owner = mesh.weights.argmax(1)
    expected = np.einsum("fvab,vb->fva", rotations[:, owner], mesh.vertices - rest[owner]) + positions[:, owner]
    np.testing.assert_allclose(posed, expected, atol=1e-12)
    # distances inside one box are preserved (rigid), whatever the motion
    box = slice(0, 8)
    d_rest = np.linalg.norm(mesh.vertices[box, None] - mesh.vertices[None, box], axis=-1)
    d_posed = np.linalg.norm(posed[:, box, None] - posed[:, None, box], axis=-1)
    np.testing.assert_allclose(d_posed, np.broadcast_to(d_rest, d_posed.shape), atol=1e-12)


def test_blended_vertices_interpolate_between_joints(chain: Skeleton) -> None:
    mesh = bone_boxes(chain, blend=0.25)
    rotations = np.broadcast_to(np.eye(3), (1, chain.num_joints, 3, 3)).copy()
    rotations[0, 1] = Rotation.from_rotvec([0.0, 0.0, 1.0]).as_matrix()
    motion = Motion(rotations, chain.offsets[:1], 30.0)
    single = [SkinnedMesh(mesh.vertices, mesh.faces, np.eye(chain.num_joints)[np.full(len(mesh.vertices), k)])
              for k in range(chain.num_joints)]
    per_joint = np.stack([linear_blend_skinning(m, chain, motion)[0] for m in single], axis=1)   # (V, J, 3)
    np.testing.assert_allclose(linear_blend_skinning(mesh, chain, motion)[0],
                               np.einsum("vj,vja->va", mesh.weights, per_joint), atol=1e-12)


def test_boxes_are_closed_and_face_outwards(humanoid: Skeleton) -> None:
    mesh = bone_boxes(humanoid, half_width_m=0.02)
    assert mesh.vertices.shape == (8 * (humanoid.num_joints - 1), 3) and mesh.faces.shape == (6 * 16, 4)
    np.testing.assert_allclose(mesh.weights.sum(1), 1.0)
    for b in range(humanoid.num_joints - 1):
        quads = mesh.faces[6 * b:6 * b + 6]
        v = mesh.vertices
        # divergence theorem: the signed volume of a closed, outward-facing surface is positive
        tris = np.concatenate([quads[:, [0, 1, 2]], quads[:, [0, 2, 3]]])
        volume = np.einsum("ti,ti->t", v[tris[:, 0]], np.cross(v[tris[:, 1]], v[tris[:, 2]])).sum() / 6
        length = np.linalg.norm(humanoid.offsets[b + 1])
        assert volume == pytest.approx(0.04 * 0.04 * length, rel=1e-9)
        edges = {tuple(sorted(e)) for q in quads for e in zip(q, np.roll(q, -1))}
        assert len(edges) == 12  # every edge shared by two quads: closed


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"vertices": np.zeros((0, 3))}, r"mesh vertices: expected shape \(V, 3\) with V >= 1"),
        ({"vertices": np.full((8, 3), np.nan)}, r"mesh vertices\[0\]: expected finite metres"),
        ({"faces": np.array([[0, 1, 2, 3, 4]])}, r"mesh faces: expected integer shape \(P, 3\) or \(P, 4\)"),
        ({"faces": np.array([[0, 1, 99]])}, r"mesh faces: expected vertex indices in \[0, 7\], found \[0, 99\]"),
        ({"weights": np.full((8, 2), 0.4)},
         r"mesh weights\[0\]: expected finite values >= 0 summing to 1, found sum 0\.8"),
        ({"weights": np.ones((7, 1))}, r"mesh weights: expected shape \(8, J\)"),
        ({"name": ""}, r"mesh name: expected a non-empty string"),
    ],
)
def test_bad_meshes_are_rejected(change: dict, message: str) -> None:
    fields = {"vertices": np.zeros((8, 3)), "faces": np.array([[0, 1, 2]]), "weights": np.ones((8, 1)), "name": "m"}
    with pytest.raises(ExportError, match=message):
        SkinnedMesh(**{**fields, **change})


def test_mesh_arrays_are_read_only(chain: Skeleton) -> None:
    mesh = bone_boxes(chain)
    with pytest.raises(ValueError):
        mesh.vertices[0, 0] = 1.0
