"""The robust view selection's outlier threshold follows the person's size in each view
(``[triangulate] reproj_threshold_frac``): the same scene filmed at twice the resolution is
reconstructed as well, where a fixed pixel threshold rejected good views."""
import dataclasses

import numpy as np
import pytest

from mocap.settings import TriangulateSettings
from mocap.simulate import Actor, ErrorModel, simulate_take
from mocap.simulate.render import scale_rig
from mocap.triangulate import triangulate
from mocap.triangulate.take import person_size_px, view_thresholds


def scores(rig, settings: TriangulateSettings = TriangulateSettings(), seed: int = 11):
    """(mean error mm, share missing) of a walk with outliers and swaps seen through ``rig``
    (the simulated detector's noise is a fraction of the person's height in pixels)."""
    model = ErrorModel(outlier_rate=0.05, swap_rate=0.03)
    take = simulate_take(rig, [Actor("walk", seed=seed)], 40, 30.0, "body25", model,
                         seed=seed, heatmaps=False)
    points = triangulate(take.detections, rig, settings)
    err = np.linalg.norm(points.xyz - take.gt_xyz, axis=-1) * 1000
    return float(np.nanmean(err)), float(np.isnan(err).mean())


def test_finer_cameras_reconstruct_as_well(studio4):
    """4K cameras (a person about 1200 px tall) do as well as HD ones: the fixed 15 px
    threshold rejected good views there (mean 9.1 vs 8.6 mm, 1.1 vs 0.7 % missing)."""
    base, base_missing = scores(studio4)
    fine, fine_missing = scores(scale_rig(studio4, 3840))
    assert fine <= 1.02 * base, (fine, base)
    assert fine_missing <= base_missing + 0.001, (fine_missing, base_missing)


def test_fixed_threshold_is_what_loses_views(studio4):
    """The same 4K take with the fraction off (the fixed threshold alone) loses views: the
    fraction is what makes the difference above."""
    fixed = TriangulateSettings(reproj_threshold_frac=0.0)
    fine, fine_missing = scores(scale_rig(studio4, 3840))
    old, old_missing = scores(scale_rig(studio4, 3840), fixed)
    assert fine < old and fine_missing < old_missing, (fine, old, fine_missing, old_missing)


def test_view_thresholds_floor_and_fraction():
    """Each view's threshold: the larger of the fixed one and the fraction of the largest side
    of the box around the person's confident keypoints; the fixed one where there is none."""
    C, F, P, J = 2, 1, 2, 3
    xy = np.full((C, F, P, J, 2), np.nan)
    conf = np.zeros((C, F, P, J))
    xy[0, 0, 0] = [[100, 100], [140, 900], [120, 500]]        # 800 px tall: 20 px at 2.5 %
    conf[0, 0, 0] = [0.9, 0.9, 0.9]
    xy[1, 0, 0] = [[0, 0], [100, 200], [5000, 5000]]          # 200 px (third not confident)
    conf[1, 0, 0] = [0.9, 0.9, 0.1]
    s = TriangulateSettings(reproj_threshold_px=15.0, reproj_threshold_frac=0.025, min_conf=0.2)
    thr = view_thresholds(xy, conf, s)                        # (F P J, C)
    assert thr.shape == (F * P * J, C)
    np.testing.assert_allclose(thr[:J, 0], 20.0)
    np.testing.assert_allclose(thr[:J, 1], 15.0)
    np.testing.assert_allclose(thr[J:], 15.0)                 # person 1: seen nowhere
    off = view_thresholds(xy, conf, dataclasses.replace(s, reproj_threshold_frac=0.0))
    np.testing.assert_allclose(off, 15.0)


def test_fraction_is_checked():
    with pytest.raises(Exception, match="reproj_threshold_frac"):
        TriangulateSettings(reproj_threshold_frac=-0.1)


def test_person_size_ignores_a_keypoint_far_off_in_one_frame():
    """The size is the median over neighbouring frames of the box's longest side: one frame
    with a keypoint 3000 px away keeps the person's 800 px (the box alone said 3000)."""
    F = 20
    xy = np.zeros((1, F, 1, 3, 2))
    xy[0, :, 0] = [[100, 100], [140, 900], [120, 500]]
    xy[0, 5, 0, 2] = [3100, 500]
    size = person_size_px(xy)
    assert size.shape == (1, F, 1)
    np.testing.assert_allclose(size, 800.0)


def test_torch_backend_takes_the_same_thresholds(studio4):
    """The per-view thresholds reach the torch path too: the same points as numpy's."""
    rig = scale_rig(studio4, 3840)
    take = simulate_take(rig, [Actor("walk", seed=3)], 8, 30.0, "body25",
                         ErrorModel(outlier_rate=0.05, swap_rate=0.03), seed=3, heatmaps=False)
    a = triangulate(take.detections, rig, TriangulateSettings())
    b = triangulate(take.detections, rig, TriangulateSettings(backend="torch", device="cpu"))
    np.testing.assert_array_equal(a.views_used, b.views_used)
    np.testing.assert_allclose(a.xyz, b.xyz, atol=1e-6)
