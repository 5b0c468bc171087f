"""Temporal filters: one-euro, Hampel, bone lengths, Butterworth at the take's fps, the stage."""
import numpy as np
import pytest

from mocap.errors import MocapError
from mocap.evaluate import mpjpe_mm
from mocap.filter import (bone_lengths, butterworth_zero_phase, enforce_bone_lengths, hampel,
                          hampel_outliers, one_euro, robust_bone_lengths)
from mocap.keypoints import get_format
from mocap.filter import filter_points
from mocap.settings import FilterSettings
from mocap.triangulate import triangulate


def _sine(fps, seconds, hz, rng=None, noise=0.0):
    t = np.arange(int(fps * seconds)) / fps
    x = np.sin(2 * np.pi * hz * t)
    return t, x + (noise * rng.standard_normal(len(t)) if rng is not None else 0.0)


def test_one_euro_smooths_rest_and_follows_motion(rng):
    fps = 60.0
    still = 0.5 + 0.005 * rng.standard_normal(600)
    out = one_euro(still, fps, min_cutoff_hz=1.0, beta=0.0)
    assert np.std(out[60:]) < 0.3 * np.std(still)
    t, ramp = _sine(fps, 4, 0.0)
    ramp = 1.5 * t                                               # 1.5 m/s
    lag_slow = np.abs(one_euro(ramp, fps, 1.0, beta=0.0) - ramp)[-1]
    lag_fast = np.abs(one_euro(ramp, fps, 1.0, beta=5.0) - ramp)[-1]
    assert lag_fast < 0.3 * lag_slow                             # beta cuts the lag
    gap = ramp.copy()
    gap[100:110] = np.nan
    f = one_euro(gap, fps)
    assert np.isnan(f[100:110]).all() and f[110] == gap[110]     # restarts after a gap
    with pytest.raises(MocapError, match="one-euro"):
        one_euro(ramp, 0.0)


def test_hampel_removes_spikes_only(rng):
    t, x = _sine(30.0, 10, 0.1, rng, noise=0.01)
    spiky = x.copy()
    where = np.array([37, 120, 121, 250])
    spiky[where] += np.array([0.5, -0.4, 0.6, 0.3])
    mask = hampel_outliers(spiky, 4, 3.0, min_deviation=0.05)
    assert mask[where].all() and mask.sum() == len(where)
    pts = np.stack([spiky, x, x], -1)[:, None]                    # (F, 1, 3)
    out = hampel(pts, 4, 3.0, 0.05)
    assert np.isnan(out[where]).all() and np.isfinite(np.delete(out, where, 0)).all()


def test_butterworth_cutoff_is_in_hertz_at_the_takes_rate(rng):
    for fps in (30.0, 120.0):
        t = np.arange(int(fps * 8)) / fps
        slow, fast = np.sin(2 * np.pi * 1.0 * t), np.sin(2 * np.pi * 12.0 * t)
        out = butterworth_zero_phase(slow + fast, 5.0, fps)
        inner = slice(int(fps), -int(fps))
        assert np.abs(out - slow)[inner].max() < 0.02           # 1 Hz kept, 12 Hz removed
    with pytest.raises(MocapError, match="Nyquist"):
        butterworth_zero_phase(slow, 20.0, 30.0)


def test_bone_lengths_become_constant_and_truth_is_kept(studio4, noisy_take):
    fmt = get_format("body25")
    bones = fmt.bone_indices
    gt = noisy_take.gt_xyz
    true_len = bone_lengths(gt, bones)
    assert np.nanstd(true_len, 0).max() < 0.02                   # the studio's bones are rigid-ish
    pts = triangulate(noisy_take.detections, studio4)
    L = robust_bone_lengths(pts.xyz, bones)                       # (P, B)
    np.testing.assert_allclose(L[0], np.nanmedian(true_len, 0)[0], atol=0.015)
    fixed = enforce_bone_lengths(pts.xyz, bones, L, pts.conf, iterations=20)
    after = bone_lengths(fixed, bones)
    assert np.nanmax(np.abs(after - L)) < 1e-3
    assert mpjpe_mm(fixed, gt) < 1.05 * mpjpe_mm(pts.xyz, gt)
    assert (np.isnan(fixed) == np.isnan(pts.xyz)).all()          # missing stays missing


def test_filter_stage_fills_smooths_and_keeps_bones(studio4, noisy_take):
    raw = triangulate(noisy_take.detections, studio4)
    gt = noisy_take.gt_xyz
    for smoother in ("butterworth", "one_euro", "none"):
        out = filter_points(raw, FilterSettings(smoother=smoother))
        assert np.isfinite(out.xyz).all(-1).mean() >= np.isfinite(raw.xyz).all(-1).mean()
        assert mpjpe_mm(out.xyz, gt) < mpjpe_mm(raw.xyz, gt) * (1.0 if smoother != "one_euro" else 1.25)
        L = bone_lengths(out.xyz, get_format("body25").rigid_bone_indices)
        assert np.nanmax(np.nanstd(L, 0)) < 1e-3
        # Chords across the spine keep following the data (they change as the body bends).
        neck, pelvis = (get_format("body25").index(n) for n in ("neck", "pelvis"))
        chord = lambda x: np.nanstd(bone_lengths(x, np.array([[neck, pelvis]])))  # noqa: E731
        assert chord(out.xyz) > 0.5 * chord(gt)
        assert ((out.conf > 0) == np.isfinite(out.xyz).all(-1)).all()
    with pytest.raises(MocapError, match="smoother"):
        filter_points(raw, FilterSettings(smoother="kalman"))


def test_bone_lengths_move_joints_along_their_rays(studio4, noisy_take):
    """With the cameras' precision, enforcing bone lengths costs less reprojection error than
    moving joints along the bones, and the lengths come out as constant."""
    from mocap.filter import enforce_bone_lengths, point_precision, robust_bone_lengths
    raw = triangulate(noisy_take.detections, studio4)
    bones = get_format("body25").rigid_bone_indices
    L = robust_bone_lengths(raw.xyz, bones)
    R = np.stack([c.R_cam_from_world for c in studio4])
    t = np.stack([c.t_cam_from_world for c in studio4])
    f = np.array([c.K[0, 0] for c in studio4])
    H = point_precision(raw.xyz, raw.views_used, R, t, f)
    assert H.shape == raw.xyz.shape + (3,) and np.all(np.linalg.eigvalsh(H)[..., 0] > 0)
    plain = enforce_bone_lengths(raw.xyz, bones, L, raw.conf)
    along_rays = enforce_bone_lengths(raw.xyz, bones, L, raw.conf, precision=H)
    for out in (plain, along_rays):
        assert np.nanmax(np.abs(bone_lengths(out, bones) - L)) < 1e-3

    def cost(x):      # the quadratic form the projection minimises, over all joints
        d = np.nan_to_num(x - raw.xyz)
        return float(np.einsum("...a,...ab,...b->...", d, H, d).sum())

    assert cost(along_rays) < 0.92 * cost(plain)          # 0.88 on this take (4 cameras)
    # A joint seen by one camera only moves along that camera's ray.
    one = np.zeros(raw.views_used.shape, bool)
    one[..., 0] = True
    H1 = point_precision(raw.xyz, one, R, t, f)
    w, V = np.linalg.eigh(H1[0, 0, 0])
    ray = raw.xyz[0, 0, 0] - studio4[0].center
    assert abs(V[:, 0] @ ray) / np.linalg.norm(ray) > 0.999 and w[0] < 1e-2 * w[1]
