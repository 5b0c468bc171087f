"""Bundle adjustment on synthetic observations (no images): exact recovery, options honoured,
the Jacobian against central differences, the camera graph."""

from __future__ import annotations

import numpy as np
import pytest

from calibration import CalibrationError, Camera, DisconnectedCamerasError
from calibration.boards import board_from_dict
from calibration.bundle import (
    BundleOptions,
    Observations,
    _camera_mask,
    _Problem,
    bundle_adjust,
    pack_camera,
    pose_to_vec,
    project_batch,
    unpack_camera,
    vec_to_pose,
)
from calibration.extrinsics import initial_extrinsics, invert_pose, spanning_tree, view_graph

SPEC = board_from_dict(dict(kind="charuco", squares_x=5, squares_y=7, square_length_m=0.1,
                            marker_length_m=0.075, dictionary="DICT_4X4_50"))


def synthetic(model="pinhole", n_frames=12, seed=0):
    """Three cameras (world = first camera's frame), board poses in front of them, and every
    corner each camera sees, exactly projected."""
    from calib_scenes import arc_rig

    rig = arc_rig(3)
    if model == "fisheye":
        rig = type(rig)(tuple(c.replace(model="fisheye", dist=np.array([0.05, -0.01, 0.002, 0.0]))
                              for c in rig))
    T0 = np.eye(4)
    T0[:3, :3], T0[:3, 3] = rig[0].R_cam_from_world, rig[0].t_cam_from_world
    T_w0 = invert_pose(T0)
    cams = []
    for c in rig:
        T = np.eye(4)
        T[:3, :3], T[:3, 3] = c.R_cam_from_world, c.t_cam_from_world
        T = T @ T_w0
        cams.append(c.replace(R_cam_from_world=T[:3, :3], t_cam_from_world=T[:3, 3]))
    from calibration.render import random_board_poses

    poses = random_board_poses(rig, SPEC, n_frames, (0, 0, 1.0), rng=np.random.default_rng(seed))
    poses = np.einsum("ij,fjk->fik", T0, poses)
    cam_i, st, pt, xy = [], [], [], []
    for c, cam in enumerate(cams):
        for f, T in enumerate(poses):
            X = SPEC.object_points @ T[:3, :3].T + T[:3, 3]
            p = cam.project(X)
            ok = np.all(np.isfinite(p), axis=1) & (p[:, 0] > 0) & (p[:, 0] < 639) & (p[:, 1] > 0) & (p[:, 1] < 479)
            cam_i += [c] * ok.sum()
            st += [f] * ok.sum()
            pt += np.flatnonzero(ok).tolist()
            xy.append(p[ok])
    obs = Observations(np.array(cam_i), np.array(st), np.array(pt), np.concatenate(xy), np.ones(len(cam_i)))
    return cams, pose_to_vec(poses), obs


def perturb(cams, structure, rng):
    out = []
    for i, c in enumerate(cams):
        K = c.K.copy()
        K[0, 0] *= 1.02
        K[1, 1] *= 0.985
        K[:2, 2] += rng.normal(0, 3, 2)
        changes = dict(K=K, dist=c.dist * 0.8)
        if i:
            changes.update(R_cam_from_world=vec_to_pose(np.r_[rng.normal(0, 0.01, 3), 0, 0, 0])[:3, :3] @ c.R_cam_from_world,
                           t_cam_from_world=c.t_cam_from_world + rng.normal(0, 0.03, 3))
        out.append(c.replace(**changes))
    s = structure + np.r_[np.full(3, 0.01), np.full(3, 0.02)]
    return out, s


@pytest.mark.parametrize("model", ["pinhole", "fisheye"])
def test_exact_observations_are_recovered(model):
    cams, structure, obs = synthetic(model)
    start, s0 = perturb(cams, structure, np.random.default_rng(1))
    res = bundle_adjust(start, s0, obs, SPEC.object_points, BundleOptions(loss="linear"))
    assert res.error_px < 1e-5 and res.initial_error_px > 5
    for a, b in zip(res.cameras, cams):
        np.testing.assert_allclose(a.K, b.K, rtol=1e-6, atol=1e-4)
        np.testing.assert_allclose(a.center, b.center, atol=1e-6)
        np.testing.assert_allclose(a.dist[: b.dist.size], b.dist, atol=1e-6)
    np.testing.assert_allclose(res.structure, structure, atol=1e-6)


def test_options_say_what_may_change():
    cams, structure, obs = synthetic()
    start, s0 = perturb(cams, structure, np.random.default_rng(2))
    opts = BundleOptions(refine_focal=False, refine_distortion=False, fixed_cameras=("cam2",))
    res = bundle_adjust(start, s0, obs, SPEC.object_points, opts)
    for a, b in zip(res.cameras, start):
        np.testing.assert_array_equal(a.K[[0, 1], [0, 1]], b.K[[0, 1], [0, 1]])
        np.testing.assert_array_equal(a.dist[: b.dist.size], b.dist)
    cam2 = res.cameras[1]
    np.testing.assert_array_equal(cam2.K, start[1].K)
    np.testing.assert_allclose(cam2.t_cam_from_world, start[1].t_cam_from_world)
    # The first camera is the world frame: never moved.
    np.testing.assert_allclose(res.cameras[0].R_cam_from_world, start[0].R_cam_from_world, atol=1e-12)
    only_struct = bundle_adjust(cams, s0, obs, SPEC.object_points,
                                BundleOptions(refine_focal=False, refine_principal_point=False,
                                              refine_distortion=False, refine_extrinsics=False))
    np.testing.assert_allclose(only_struct.structure, structure, atol=1e-6)


def test_robust_loss_and_outliers():
    cams, structure, obs = synthetic()
    rng = np.random.default_rng(3)
    xy = obs.xy + rng.normal(0, 0.2, obs.xy.shape)
    bad = rng.choice(obs.xy.shape[0], 20, replace=False)
    xy[bad] += rng.uniform(15, 40, (20, 2))
    noisy = Observations(obs.cam, obs.struct, obs.point, xy, obs.weight)
    res = bundle_adjust(cams, structure, noisy, SPEC.object_points)
    assert not res.inliers[bad].any() and res.inliers.sum() == obs.xy.shape[0] - 20
    assert res.error_px < 0.35
    # The outliers change (almost) nothing: the result is that of the same data without them.
    keep = np.ones(obs.xy.shape[0], bool)
    keep[bad] = False
    ref = bundle_adjust(cams, structure, noisy.subset(keep), SPEC.object_points)
    for a, b in zip(res.cameras, ref.cameras):
        assert np.linalg.norm(a.center - b.center) < 1e-4


def test_jacobian_matches_central_differences():
    cams, structure, obs = synthetic(n_frames=4)
    free = _camera_mask(cams, BundleOptions(), True)
    fish = np.array([c.model == "fisheye" for c in cams])
    prob = _Problem(np.stack([pack_camera(c) for c in cams]), fish, structure, obs,
                    SPEC.object_points, free, True)
    x = prob.x0()
    J = prob.jacobian(x).toarray()
    rng = np.random.default_rng(0)
    for col in rng.choice(x.size, 25, replace=False):
        h = 1e-6 * max(1.0, abs(x[col]))
        e = np.zeros_like(x)
        e[col] = h
        central = (prob.residuals(x + e) - prob.residuals(x - e)) / (2 * h)
        np.testing.assert_allclose(J[:, col], central, rtol=1e-3, atol=2e-3 * max(1, np.abs(central).max()))


def test_projection_matches_the_camera_model():
    cams, _, _ = synthetic()
    X = np.random.default_rng(0).uniform(-1, 1, (50, 3)) + [0, 0, 3]
    for c in cams + [cams[0].replace(model="fisheye", dist=np.array([0.1, -0.02, 0.003, -0.001]))]:
        p = np.tile(pack_camera(c), (50, 1))
        got = project_batch(p, np.full(50, c.model == "fisheye"), X)
        np.testing.assert_allclose(got, c.project(X), atol=1e-9)
        back = unpack_camera(c, pack_camera(c))
        assert back.name == c.name and back.model == c.model and back.size_wh == c.size_wh
        np.testing.assert_allclose(back.P, c.P, atol=1e-9)
        np.testing.assert_array_equal(back.dist, c.dist)


def test_bad_options_and_cameras_are_named():
    with pytest.raises(CalibrationError, match=r"bundle options loss: expected one of .*found 'l2'"):
        BundleOptions(loss="l2")
    with pytest.raises(CalibrationError, match=r"bundle options loss_scale_px: expected a positive number, found 0"):
        BundleOptions(loss_scale_px=0)
    cam = Camera("wide", (640, 480), np.diag([500.0, 500.0, 1.0]), np.zeros(8), np.eye(3), np.zeros(3))
    with pytest.raises(CalibrationError, match=r"camera 'wide': bundle adjustment supports up to 5"):
        pack_camera(cam)


def test_graph_places_cameras_and_names_the_disconnected_ones():
    names = ["a", "b", "c", "d"]
    frames = [np.array([0, 1, 2]), np.array([1, 2, 3]), np.array([3, 4]), np.array([9])]
    g = view_graph(names, frames)
    assert g.shared[0, 1] == 2 and g.shared[1, 2] == 1 and g.shared[3].sum() == 0
    with pytest.raises(DisconnectedCamerasError, match=r"cameras \['d'\] share no board view with "
                       r"cameras \['a', 'b', 'c'\].*d: 0; at least 1 needed"):
        spanning_tree(g)
    assert spanning_tree(view_graph(names[:3], frames[:3])) == [(0, 1), (1, 2)]
    with pytest.raises(DisconnectedCamerasError, match=r"cameras \['c'\]"):
        spanning_tree(view_graph(names[:3], frames[:3]), min_shared=2)


def test_initial_extrinsics_chain_relative_poses():
    rng = np.random.default_rng(0)
    T_cw = [np.eye(4)] + [vec_to_pose(np.r_[rng.normal(0, 0.3, 3), rng.normal(0, 1, 3)]) for _ in range(2)]
    boards = {f: vec_to_pose(np.r_[rng.normal(0, 0.3, 3), rng.normal(0, 0.5, 2), 3.0]) for f in range(6)}
    frames = [np.array([0, 1, 2]), np.array([2, 3, 4]), np.array([4, 5])]
    per_cam = [np.stack([T_cw[c] @ boards[f] for f in fr]) for c, fr in enumerate(frames)]
    got, got_boards = initial_extrinsics(["a", "b", "c"], frames, per_cam)
    for c in range(3):
        np.testing.assert_allclose(got[c], T_cw[c], atol=1e-9)
    for f, T in boards.items():
        np.testing.assert_allclose(got_boards[f], T, atol=1e-9)
