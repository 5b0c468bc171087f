"""Keypoint visibility in the rendered studio, computed in numpy from the posed meshes (no
Blender): a plate between a camera and a point hides it from that camera only; the occlusion
tolerance; the actor's own skin over a joint; two actors, one behind the other."""
from __future__ import annotations

import numpy as np

from mocap.simulate import load_rig_template
from mocap.simulate.render.visibility import keypoint_visibility, segment_hits


def _plate(center, normal_axis: int, half: float) -> tuple[np.ndarray, np.ndarray]:
    """A square (4 vertices, 2 triangles) of side 2 * half, normal along one world axis."""
    a, b = [i for i in range(3) if i != normal_axis]
    corners = np.zeros((4, 3))
    for k, (sa, sb) in enumerate(((-1, -1), (1, -1), (1, 1), (-1, 1))):
        corners[k, a], corners[k, b] = sa * half, sb * half
    return corners + np.asarray(center, float), np.array([[0, 1, 2], [0, 2, 3]])


def test_a_plate_hides_a_point_from_the_camera_behind_it_only():
    rig = load_rig_template("studio4")                  # cam1 at (3, 3, 2.2), cam3 opposite
    point = np.array([0.0, 0.0, 1.0])
    cam1 = rig[0].center
    verts, faces = _plate(point + 0.5 * (cam1 - point), 2, 0.2)   # half-way, horizontal
    vis = keypoint_visibility(rig, [verts[None]], faces, point[None, None, None], 0.12)
    assert vis.shape == (4, 1, 1, 1)
    assert vis[:, 0, 0, 0].tolist() == [False, True, True, True]


def test_tolerance_keeps_joints_under_the_skin_visible():
    rig = load_rig_template("studio4")
    point = np.array([0.0, 0.0, 1.0])
    d = rig[0].center - point
    skin = point + 0.05 * d / np.linalg.norm(d)         # a surface 5 cm in front of the joint
    verts, faces = _plate(skin, 2, 0.2)
    kp = point[None, None, None]
    assert keypoint_visibility(rig, [verts[None]], faces, kp, 0.12)[0].all()
    assert not keypoint_visibility(rig, [verts[None]], faces, kp, 0.01)[0].any()


def test_segment_hits_is_exact_at_the_triangle_edges():
    tri = np.array([[[0.0, 0.0, 1.0], [1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]])
    origin = np.zeros(3)
    # the segments cross z = 1 at half their end's x, y: just inside the hypotenuse (u + v =
    # 0.98), just outside (1.02), and inside but less than the tolerance before the end
    points = np.array([[0.98, 0.98, 2.0], [1.02, 1.02, 2.0], [0.2, 0.2, 1.05]])
    cand = np.array([[0, 0], [1, 0], [2, 0]])
    assert segment_hits(origin, points, tri, cand, 0.1).tolist() == [True, False, False]


def test_two_actors_one_behind_the_other():
    """Two people as boxes on the line of one camera: the far one's chest point is hidden
    from that camera by the near one, seen by the camera on the other side."""
    rig = load_rig_template("studio4")
    cam1 = rig[0].center
    flat = np.array([cam1[0], cam1[1], 0.0]) / np.linalg.norm(cam1[:2])
    near, far = 0.8 * flat + [0, 0, 1.3], -0.8 * flat + [0, 0, 1.3]

    def box(c):
        corners = np.array([[x, y, z] for x in (-.2, .2) for y in (-.2, .2) for z in (-.5, .5)])
        quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4),
                 (1, 5, 7, 3)]
        faces = np.array([t for a, b, c_, d in quads for t in ((a, b, c_), (a, c_, d))])
        return corners + c, faces

    (vn, faces), (vf, _) = box(near), box(far)
    kp = np.stack([near, far])[None, :, None]            # (F=1, P=2, K=1, 3): box centres
    vis = keypoint_visibility(rig, [vn[None], vf[None]], faces, kp, 0.4)  # own box: < 0.4 m
    assert vis[0, 0, 0, 0] and not vis[0, 0, 1, 0]      # cam1: near seen, far hidden
    assert vis[2, 0, 1, 0] and not vis[2, 0, 0, 0]      # cam3 (opposite): the reverse
