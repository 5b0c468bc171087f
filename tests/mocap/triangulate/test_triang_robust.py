"""Robust view selection, left/right swap repair, the main-person rule and the command."""
import numpy as np

from mocap.app.cli import main
from mocap.evaluate import mpjpe_mm
from mocap.settings import TriangulateSettings
from mocap.app.studio import write_session
from mocap.simulate import Actor, ErrorModel, load_rig_template, simulate_take
from mocap.triangulate import (FLAG_NO_CONSENSUS, select_main_person, triangulate_points,
                               triangulate_take)
from mocap.types import Points3D
from exporters.trc import read_trc


def test_noisy_take_robust_beats_all_views(studio4, noisy_take):
    gt = noisy_take.gt_xyz
    robust = triangulate_take(noisy_take.detections, studio4).points
    plain = triangulate_take(noisy_take.detections, studio4,
                             TriangulateSettings(view_selection="all")).points
    assert mpjpe_mm(robust.xyz, gt) < 12.0
    assert mpjpe_mm(plain.xyz, gt) > 1.5 * mpjpe_mm(robust.xyz, gt)
    assert np.isfinite(robust.xyz).all(-1).mean() > 0.97


def test_gross_outliers_are_rejected(studio4, rng):
    X = rng.uniform([-0.8, -0.8, 0.0], [0.8, 0.8, 1.9], (2000, 3))
    uv = np.moveaxis(studio4.project(X), 0, 1) + rng.normal(0, 1.0, (2000, 4, 2))
    bad = rng.integers(0, 4, 2000)                                # one corrupted view each
    uv[np.arange(2000), bad] += rng.uniform(60, 300, (2000, 1)) * np.array([[0.6, 0.8]])
    conf = np.full((2000, 4), 0.9)
    r = triangulate_points(studio4, uv, conf)
    told = conf.copy()
    told[np.arange(2000), bad] = 0.0                              # the oracle knows which
    oracle = triangulate_points(studio4, uv, told, TriangulateSettings(view_selection="all"))
    err_mm = 1000 * np.linalg.norm(r.xyz - X, axis=-1)
    assert np.isfinite(err_mm).all()
    assert np.mean(err_mm) < 1.02 * np.mean(1000 * np.linalg.norm(oracle.xyz - X, axis=-1))
    assert not r.used[np.arange(2000), bad].any()
    assert r.used.sum(-1).min() == 3


def test_two_disagreeing_views_give_nothing(studio4, rng):
    X = rng.uniform([-0.5, -0.5, 0.5], [0.5, 0.5, 1.5], (20, 3))
    uv = np.moveaxis(studio4.project(X), 0, 1)
    uv[:, 1] += 150.0
    conf = np.zeros((20, 4))
    conf[:, :2] = 1.0
    r = triangulate_points(studio4, uv, conf)
    assert np.isnan(r.xyz).all() and not r.used.any()
    assert (r.flags & FLAG_NO_CONSENSUS).all()


def test_left_right_swaps_are_repaired(studio4):
    model = ErrorModel(jitter_frac=0.0, jitter_spread=0.0, occlusion_factor=1.0, outlier_rate=0.0,
                       swap_rate=0.1, missing_frame_rate=0.0, min_conf=0.0)
    take = simulate_take(studio4, [Actor("walk", seed=5)], 40, 30.0, "body25", model, seed=3)
    truth = np.stack([take.truth[c]["swapped"] for c in studio4.names], -1)   # (F, P, C)
    # One swapped view among four is decidable; two against two is a tie a single frame
    # cannot break (a mirrored skeleton is consistent across the views that mirror it).
    single = truth.sum(-1) == 1
    assert single.sum() >= 8
    fixed = triangulate_take(take.detections, studio4)
    kept = triangulate_take(take.detections, studio4, TriangulateSettings(repair_swaps=False))
    found = fixed.swapped.any(2)                                             # (F, P, C)
    clean = truth.sum(-1) == 0
    np.testing.assert_array_equal(found[single], truth[single])
    assert not found[clean].any()
    ok = single | clean
    err = np.linalg.norm(fixed.points.xyz[ok] - take.gt_xyz[ok], axis=-1)
    # Exact, except where a swapped view's left and right project within the inlier
    # threshold of each other (a profile view), so the wrong label is an inlier.
    assert np.nanmedian(err) < 1e-9 and np.nanmean(err) < 2e-3
    assert fixed.points.views_used[ok].sum() > kept.points.views_used[ok].sum()


def test_sixteen_cameras(rng):
    rig = load_rig_template("dome16")
    take = simulate_take(rig, [Actor("jog_circle", seed=2)], 20, 30.0, "body25", ErrorModel(),
                         seed=1)
    p = triangulate_take(take.detections, rig).points
    assert mpjpe_mm(p.xyz, take.gt_xyz) < 8.0


def test_main_person_is_the_largest_in_each_view(studio4):
    near = Actor("walk", seed=1)
    far = Actor("squat", seed=2, height_m=1.2, xy_offset_m=(2.4, -2.4))
    take = simulate_take(studio4, [far, near], 10, 30.0, "body25", ErrorModel.perfect(), seed=0)
    det = take.detections
    flipped = det.replace(xy=det.xy.copy(), conf=det.conf.copy())
    flipped.xy[1:3] = flipped.xy[1:3, :, ::-1]                               # order differs per view
    flipped.conf[1:3] = flipped.conf[1:3, :, ::-1]
    main_det = select_main_person(flipped)
    assert main_det.shape[2] == 1
    p = triangulate_take(main_det, studio4).points
    assert mpjpe_mm(p.xyz[:, 0], take.gt_xyz[:, 1]) < 1e-3


def test_command_writes_points_and_trc(tmp_path, studio4, noisy_take, capsys):
    sub = simulate_take(studio4, [Actor("walk", seed=1)], 20, 30.0, "body25", ErrorModel(), seed=7)
    write_session(tmp_path / "s", studio4, sub)
    assert main(["triangulate", str(tmp_path / "s")]) == 0
    out = tmp_path / "s" / "out"
    raw = Points3D.load(out / "points3d_raw.npz")
    pts = Points3D.load(out / "points3d.npz")
    assert raw.views_used is not None and raw.reproj_err_px is not None
    assert pts.views_used.shape == (20, 1, 25, 4)
    assert mpjpe_mm(raw.xyz, sub.gt_xyz) < 15.0
    trc = read_trc(out / "person0.trc")
    np.testing.assert_allclose(trc.xyz, pts.xyz[:, 0], atol=2e-6)
    assert trc.fps == 30.0 and "wrote" in capsys.readouterr().out


def test_triangulate_command_main_person_follows_the_actor(tmp_path, studio4):
    """`mocap triangulate --main-person` keeps the actor, not a bystander close to a camera."""
    import dataclasses

    from mocap.simulate.crowd import crowd_actors, simulate_crowd
    crowd = simulate_crowd(studio4, crowd_actors("bystander", 45), 45, 30.0, "body25",
                           ErrorModel(), seed=4)
    take = dataclasses.replace(crowd.take, detections=crowd.detections)   # shuffled people
    root = write_session(tmp_path / "s", studio4, take)
    assert main(["-q", "triangulate", str(root), "--main-person"]) == 0
    pts = Points3D.load(root / "out" / "points3d.npz")
    assert pts.xyz.shape[1] == 1
    err = np.nanmedian(np.linalg.norm(pts.xyz[:, 0] - crowd.take.gt_xyz[:, 0], axis=-1), -1)
    assert np.nanmax(err) < 0.03
