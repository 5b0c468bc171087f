"""Association building blocks: rays, ray-to-ray distances, ray triangulation, clustering."""
from __future__ import annotations

import numpy as np
import pytest

from mocap.associate import (association_joints, cluster_views, detection_rays,
                             pair_distances, triangulate_rays, view_distance_matrix)
from mocap.errors import AssociationError, SettingsError
from mocap.keypoints import get_format
from mocap.settings import AssociateSettings
from mocap.types import Detections2D


def _line_distance(o1, d1, o2, d2):
    """Reference: distance between two (non-parallel) lines, |(o2 - o1) . n| / |n|."""
    n = np.cross(d1, d2)
    return abs(np.dot(o2 - o1, n)) / np.linalg.norm(n)


def _detections(rig, xyz, fmt="body25"):
    """Exact detections of people xyz (P, J, 3) in every camera, one frame."""
    C, (P, J) = len(rig), xyz.shape[:2]
    xy = np.stack([cam.project(xyz) for cam in rig])[:, None]            # (C, 1, P, J, 2)
    conf = np.ones((C, 1, P, J), np.float32)
    return Detections2D(xy=xy, conf=conf, format=fmt, camera_names=rig.names, fps=30.0)


def _person(clean_take, f=10, dx=0.0):
    return clean_take.gt_xyz[f, 0] + np.array([dx, 0.0, 0.0])


# ----------------------------------------------------------------------------- rays

def test_rays_point_from_the_camera_centre_to_the_joint(studio4, clean_take):
    X = _person(clean_take)
    rays = detection_rays(studio4, _detections(studio4, X[None]))
    joints = rays.joints
    for c, cam in enumerate(studio4):
        v = X[joints] - cam.center
        v /= np.linalg.norm(v, axis=-1, keepdims=True)
        assert np.allclose(rays.dirs[c, 0, 0], v, atol=1e-9)
    assert rays.usable.all()


def test_association_joints_are_the_large_joints_of_each_format():
    for name in ("body25", "coco17", "halpe26", "blazepose33", "body25b", "h36m17"):
        kf = get_format(name)
        names = [kf.joint_names[i] for i in association_joints(kf.joint_names)]
        assert {"left_shoulder", "right_hip", "left_knee", "right_wrist"} <= set(names), name
        assert "left_eye" not in names and "left_big_toe" not in names


def test_rays_reject_cameras_in_another_order(studio4, clean_take):
    det = _detections(studio4, _person(clean_take)[None])
    det = det.replace(camera_names=tuple(reversed(det.camera_names)))
    with pytest.raises(AssociationError, match="expected the same cameras in the same order"):
        detection_rays(studio4, det)


def test_skeletons_with_few_joints_are_not_usable(studio4, clean_take):
    det = _detections(studio4, _person(clean_take)[None])
    conf = det.conf.copy()
    conf[1, 0, 0, 4:] = 0.0                                               # 4 joints left
    rays = detection_rays(studio4, det.replace(conf=conf), min_joints=5)
    assert rays.usable[:, 0, 0].tolist() == [True, False, True, True]


# ----------------------------------------------------------------------------- pair distances

def test_pair_distance_is_zero_for_one_person_and_the_line_distance_otherwise(studio4,
                                                                              clean_take):
    X = np.stack([_person(clean_take), _person(clean_take, dx=0.8)])
    rays = detection_rays(studio4, _detections(studio4, X))
    D = pair_distances(rays, 0, 2, slice(0, 1), cap_m=10.0)[0]           # (K, K)
    assert D[0, 0] < 1e-6 and D[1, 1] < 1e-6
    # The other pairing: the mean over joints of the exact line-to-line distance.
    o1, o2 = studio4[0].center, studio4[2].center
    for i, j in ((0, 1), (1, 0)):
        ref = [_line_distance(o1, rays.dirs[0, 0, i, k], o2, rays.dirs[2, 0, j, k])
               for k in range(rays.shape[-1])]
        flipped = [_line_distance(o1, rays.dirs[0, 0, i, k], o2,
                                  rays.dirs[2, 0, j, rays.flip[k]])
                   for k in range(rays.shape[-1])]
        assert D[i, j] == pytest.approx(min(np.mean(ref), np.mean(flipped)), rel=1e-4)
        assert D[i, j] > 0.05


def test_pair_distance_ignores_a_left_right_mirrored_view(studio4, clean_take):
    X = _person(clean_take)[None]
    det = _detections(studio4, X)
    flip = det.keypoint_format.flip_permutation
    xy = det.xy.copy()
    xy[1, 0, 0] = xy[1, 0, 0, flip]                                      # camera 2 mirrored
    rays = detection_rays(studio4, det.replace(xy=xy))
    assert pair_distances(rays, 0, 1, slice(0, 1), 1.0)[0, 0, 0] < 1e-6


def test_distance_matrix_is_symmetric_with_inf_within_a_camera(studio4, clean_take):
    X = np.stack([_person(clean_take), _person(clean_take, dx=0.8)])
    rays = detection_rays(studio4, _detections(studio4, X))
    D = view_distance_matrix(rays, slice(0, 1), 0.45)[0]
    assert D.shape == (8, 8)
    assert np.allclose(D, D.T, equal_nan=True)
    for c in range(4):
        assert np.isinf(D[2 * c:2 * c + 2, 2 * c:2 * c + 2]).all()
    assert D[np.isfinite(D)].max() <= 0.45 + 1e-6


def test_a_joint_behind_a_camera_counts_as_far(studio4, clean_take):
    """Two rays whose closest approach lies behind a camera are not consistent."""
    X = _person(clean_take)[None]
    det = _detections(studio4, X)
    rays = detection_rays(studio4, det)
    back = rays.dirs.copy()
    back[1] = -back[1]                                                  # camera 2 looks away
    rays2 = type(rays)(rays.origin, back, rays.conf, rays.usable, rays.flip, rays.joints)
    assert pair_distances(rays2, 0, 1, slice(0, 1), 0.45)[0, 0, 0] == pytest.approx(0.45)


# ----------------------------------------------------------------------------- triangulation

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_triangulate_rays_recovers_points_exactly(rng, dtype):
    X = rng.uniform(-1, 1, (5, 7, 3))
    origin = rng.uniform(-4, 4, (5, 3, 3))                               # 3 views per batch
    d = X[:, None] - origin[:, :, None]
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    w = np.ones((5, 3, 7))
    Xh, dist = triangulate_rays(origin.astype(dtype), d.astype(dtype), w.astype(dtype))
    tol = 1e-9 if dtype == np.float64 else 1e-5        # float32 input directions
    assert np.allclose(Xh, X, atol=tol)
    # Distances come from |v|^2 - (v.d)^2 with |v| ~ 4 m: about sqrt(eps) * 4 m of noise.
    assert np.nanmax(dist) < 1e-6


def test_triangulate_rays_is_nan_when_undetermined():
    origin = np.array([[0.0, 0, 0], [1.0, 0, 0]])
    d = np.array([[[1.0, 0, 0]], [[1.0, 0, 0]]])                       # collinear rays
    X, _ = triangulate_rays(origin, d, np.ones((2, 1)))
    assert np.isnan(X).all()
    d2 = np.array([[[0.0, 0, 1]], [[0.0, 0.6, 0.8]]])
    X, dist = triangulate_rays(origin, d2, np.array([[1.0], [0.0]]))    # one weighted ray
    assert np.isnan(X).all() and np.isnan(dist[1]).all()


def test_robust_reweighting_resists_one_wrong_ray():
    X = np.array([0.3, -0.2, 1.0])
    origin = np.array([[3.0, 3, 2], [-3, 3, 2], [-3, -3, 2], [3, -3, 2]])
    d = X - origin
    d[2] += np.array([0.0, 0.6, 0.0])                                   # view 3: 0.6 m off
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    plain, _ = triangulate_rays(origin, d[:, None], np.ones((4, 1)))
    robust, dist = triangulate_rays(origin, d[:, None], np.ones((4, 1)), robust_m=0.05)
    assert np.linalg.norm(robust[0] - X) < 0.25 * np.linalg.norm(plain[0] - X)
    assert np.linalg.norm(robust[0] - X) < 0.03
    assert dist[2, 0] > 0.2


# ----------------------------------------------------------------------------- clustering

def _blocks(cams, people, near=0.02, far=0.5):
    same = people[:, None] == people[None, :]
    D = np.where(same, near, far)
    D[cams[:, None] == cams[None, :]] = np.inf
    return D


def test_clustering_groups_people_across_cameras():
    cams = np.array([0, 0, 1, 1, 2, 2, 3])
    people = np.array([0, 1, 1, 0, 0, 1, 1])
    labels = cluster_views(_blocks(cams, people), cams, 0.15, 0.3)
    for p in (0, 1):
        assert len(set(labels[people == p])) == 1
    assert labels[people == 0][0] != labels[people == 1][0]


def test_clustering_never_puts_two_skeletons_of_one_camera_together():
    cams = np.array([0, 0, 1, 2])
    D = np.zeros((4, 4))                                                # everything agrees
    D[0, 1] = D[1, 0] = np.inf
    labels = cluster_views(D, cams, 0.15, 0.3)
    assert labels[0] != labels[1]
    for lab in np.unique(labels):
        assert len(set(cams[labels == lab])) == (labels == lab).sum()


def test_clustering_needs_every_pair_close_not_a_chain():
    """A-B close, B-C close, A-C far: average linkage with the pair limit keeps A and C apart."""
    cams = np.array([0, 1, 2])
    D = np.array([[np.inf, 0.05, 0.5], [0.05, np.inf, 0.06], [0.5, 0.06, np.inf]])
    labels = cluster_views(D, cams, 0.15, 0.3)
    assert labels[0] == labels[1] and labels[2] != labels[0]


def test_clustering_frames_in_lockstep_equals_one_by_one(rng):
    cams = np.repeat(np.arange(4), 3)
    Ds = []
    for f in range(6):
        people = np.concatenate([rng.permutation(3) for _ in range(4)])
        D = _blocks(cams, people) + rng.uniform(0, 0.05, (12, 12))
        Ds.append(np.minimum(D, D.T))
    Ds = np.stack(Ds)
    usable = rng.random((6, 12)) > 0.1
    batch = cluster_views(Ds, cams, 0.15, 0.3, usable)
    for f in range(6):
        one = cluster_views(Ds[f], cams, 0.15, 0.3, usable[f])
        assert (batch[f] == one).all()
    assert (batch[~usable] == -1).all()


# ----------------------------------------------------------------------------- settings

@pytest.mark.parametrize("key,value,match", [
    ("mode", "everyone", "mode = 'everyone'; expected one of 'multi'"),
    ("max_ray_distance_m", 0.0, "max_ray_distance_m = 0.0; expected > 0"),
    ("min_joints", 1, "min_joints = 1; expected >= 2"),
    ("max_people", -1, "max_people = -1; expected >= 0"),
])
def test_bad_settings_name_the_key(key, value, match):
    # Checked when the settings are built, before any stage runs.
    with pytest.raises(SettingsError, match=r"^\[associate\] " + match):
        AssociateSettings(**{key: value})


def test_associate_table_in_session_toml(tmp_path):
    from mocap.errors import SettingsError
    from mocap.settings import load_settings
    path = tmp_path / "session.toml"
    path.write_text('[associate]\nmode = "main_subject"\nmax_ray_distance_m = 0.2\n')
    s = load_settings(path).associate
    assert s.mode == "main_subject" and s.max_ray_distance_m == 0.2
    path.write_text("[associate]\nmax_ray_distance = 0.2\n")
    with pytest.raises(SettingsError, match="max_ray_distance_m"):
        load_settings(path)
