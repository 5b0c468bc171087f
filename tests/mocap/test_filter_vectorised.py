"""The filter's vectorised steps give what the plain formulas give, on a studio take: the
window median without masked arrays, gap filling without a loop over gaps, the point
precision without 3 x 3 products per camera (the references below are the old code)."""
from __future__ import annotations

import numpy as np
import pytest

from mocap.filter import fill_gaps, hampel_outliers, point_precision


def runs(valid):
    v = np.concatenate([[False], np.asarray(valid, bool), [False]])
    d = np.diff(v.astype(np.int8))
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))


def fill_gaps_reference(x, max_gap):
    out = np.array(x, dtype=np.float64, copy=True)
    flat = out.reshape(out.shape[0], -1)
    t = np.arange(out.shape[0])
    for k in range(flat.shape[1]):
        s = flat[:, k]
        ok = np.isfinite(s)
        if ok.all() or ok.sum() < 2:
            continue
        for a, b in runs(~ok):
            if a > 0 and b < len(s) and b - a <= max_gap:
                flat[a:b, k] = np.interp(t[a:b], t[ok], s[ok])
    return out


def hampel_reference(x, h, n_sigmas, min_deviation):
    from numpy.lib.stride_tricks import sliding_window_view
    flat = x.reshape(x.shape[0], -1)
    win = sliding_window_view(np.pad(flat, ((h, h), (0, 0)), constant_values=np.nan),
                              2 * h + 1, axis=0)
    with np.errstate(invalid="ignore"), pytest.warns(RuntimeWarning):
        med = np.nanmedian(win, axis=-1)
        mad = np.nanmedian(np.abs(win - med[..., None]), axis=-1)
    dev = np.abs(flat - med)
    with np.errstate(invalid="ignore"):
        return ((dev > n_sigmas * 1.4826 * mad) & (dev > min_deviation)).reshape(x.shape)


def precision_reference(xyz, views_used, R, t, f_px, floor=1e-3):
    X = np.nan_to_num(xyz)
    Xc = np.einsum("cab,...b->...ca", R, X) + t
    z = Xc[..., 2]
    ok = views_used & (z > 1e-6)
    with np.errstate(divide="ignore", invalid="ignore"):
        x, y = Xc[..., 0] / z, Xc[..., 1] / z
        g = np.where(ok, (f_px / z) ** 2, 0.0)
    x, y = np.where(ok, x, 0.0), np.where(ok, y, 0.0)
    P = np.zeros(x.shape + (3, 3))
    P[..., 0, 0] = P[..., 1, 1] = 1.0
    P[..., 0, 2] = P[..., 2, 0] = -x
    P[..., 1, 2] = P[..., 2, 1] = -y
    P[..., 2, 2] = x * x + y * y
    H = np.einsum("...c,cka,...ckl,clb->...ab", g, R, P, R)
    scale = np.maximum(np.trace(H, axis1=-2, axis2=-1) / 3.0, np.median(f_px) ** 2 / 100.0)
    return H + (floor * scale)[..., None, None] * np.eye(3)


@pytest.fixture(scope="module")
def holey(clean_take):
    """The studio walk's truth (F, 1, J, 3) with 2 cm noise, spikes and gaps of 1-12 frames."""
    rng = np.random.default_rng(1)
    xyz = clean_take.gt_xyz + rng.normal(0, 0.02, clean_take.gt_xyz.shape)
    spikes = rng.random(xyz.shape[:-1]) < 0.03
    xyz[spikes] += rng.normal(0, 0.3, (int(spikes.sum()), 3))
    for _ in range(40):
        j, f, n = rng.integers(0, xyz.shape[2]), rng.integers(0, len(xyz)), rng.integers(1, 13)
        xyz[f:f + n, 0, j] = np.nan
    xyz[:, 0, 3] = np.nan                                   # a joint never seen
    return xyz


@pytest.mark.parametrize("h", [1, 3, 6])
def test_hampel_equals_nanmedian_windows(holey, h):
    got = hampel_outliers(holey, h, 3.0, 0.01)
    assert got.any()
    np.testing.assert_array_equal(got, hampel_reference(holey, h, 3.0, 0.01))


@pytest.mark.parametrize("max_gap", [0, 1, 5, 30])
def test_fill_gaps_equals_the_gap_loop(holey, max_gap):
    np.testing.assert_array_equal(fill_gaps(holey, max_gap), fill_gaps_reference(holey, max_gap))


def test_point_precision_equals_the_3x3_products(holey, studio4):
    cams = studio4.arrays()
    f = 0.5 * (cams.K[:, 0, 0] + cams.K[:, 1, 1])
    used = np.random.default_rng(2).random(holey.shape[:-1] + (len(studio4),)) < 0.7
    got = point_precision(holey, used, cams.R_cam_from_world, cams.t_cam_from_world, f)
    ref = precision_reference(holey, used, cams.R_cam_from_world, cams.t_cam_from_world, f)
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-9 * np.abs(ref).max())


def bones_reference(xyz, bones, lengths, conf=None, iterations=10, precision=None):
    out = np.array(xyz, dtype=np.float64, copy=True)
    b = np.asarray(bones, int).reshape(-1, 2)
    L = np.broadcast_to(np.asarray(lengths, float), out.shape[:-2] + (len(b),))
    if precision is None:
        c = np.ones(out.shape[:-1]) if conf is None else np.clip(conf, 0, 1) + 1e-3
        A = (1.0 / c)[..., None, None] * np.eye(3)
    else:
        A = np.linalg.inv(precision)
    for _ in range(iterations):
        for k, (i, j) in enumerate(b):
            d = out[..., j, :] - out[..., i, :]
            n = np.linalg.norm(d, axis=-1)
            ok = np.isfinite(n) & (n > 1e-9) & np.isfinite(L[..., k])
            if not ok.any():
                continue
            with np.errstate(invalid="ignore", divide="ignore"):
                u = np.where(ok[..., None], d / np.where(ok, n, 1.0)[..., None], 0.0)
                ai = np.einsum("...ab,...b->...a", A[..., i, :, :], u)
                aj = np.einsum("...ab,...b->...a", A[..., j, :, :], u)
                mu = (n - L[..., k]) / np.einsum("...a,...a->...", u, ai + aj)
            mu = np.where(ok & np.isfinite(mu), mu, 0.0)[..., None]
            out[..., i, :] += mu * ai
            out[..., j, :] -= mu * aj
    return out


@pytest.mark.filterwarnings("ignore:Degrees of freedom:RuntimeWarning")   # the unseen joint
@pytest.mark.parametrize("with_precision", [False, True])
def test_bone_lengths_equal_the_joint_last_loop(holey, studio4, with_precision):
    from mocap.filter import enforce_bone_lengths
    from mocap.geometry.bones import robust_bone_lengths
    from mocap.keypoints import get_format
    xyz = fill_gaps(holey, 5)
    bones = get_format("body25").rigid_bone_indices
    lengths = robust_bone_lengths(xyz, bones)
    conf = np.random.default_rng(3).uniform(0.2, 1.0, xyz.shape[:-1])
    H = None
    if with_precision:
        cams = studio4.arrays()
        used = np.random.default_rng(2).random(xyz.shape[:-1] + (len(studio4),)) < 0.7
        H = point_precision(xyz, used, cams.R_cam_from_world, cams.t_cam_from_world,
                            0.5 * (cams.K[:, 0, 0] + cams.K[:, 1, 1]))
    got = enforce_bone_lengths(xyz, bones, lengths, conf, 10, H)
    # explicit 3 x 3 products and a closed-form inverse instead of einsum and LAPACK: the
    # same arithmetic up to the order of float operations (under a tenth of a nanometre)
    ref = bones_reference(xyz, bones, lengths, conf, 10, H)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-10)
    def spread(x):
        return np.nanmedian(np.nanstd(np.linalg.norm(x[..., bones[:, 0], :]
                                                     - x[..., bones[:, 1], :], axis=-1), 0))
    assert spread(got) < 0.5 * spread(xyz)                  # the bones are made steadier


@pytest.mark.parametrize("chunk", [5, 64, 1 << 20])
def test_point_precision_in_blocks_equals_the_one_pass(holey, studio4, chunk):
    """Blocks of any size give the one-pass einsum result (the reference: the one-pass code
    of the vectorised precision) up to the order of float operations."""
    cams = studio4.arrays()
    R, t = cams.R_cam_from_world, cams.t_cam_from_world
    f = 0.5 * (cams.K[:, 0, 0] + cams.K[:, 1, 1])
    used = np.random.default_rng(5).random(holey.shape[:-1] + (len(studio4),)) < 0.7
    X = np.nan_to_num(holey)
    Xc = np.einsum("cab,...b->...ca", R, X) + t
    z = Xc[..., 2]
    ok = used & (z > 1e-6)
    with np.errstate(divide="ignore", invalid="ignore"):
        x, y = Xc[..., 0] / z, Xc[..., 1] / z
        g = np.where(ok, (f / z) ** 2, 0.0)
    x, y = np.where(ok, x, 0.0), np.where(ok, y, 0.0)
    a = R[:, 0] - x[..., None] * R[:, 2]
    b = R[:, 1] - y[..., None] * R[:, 2]
    ga, gb = g[..., None] * a, g[..., None] * b
    H = np.einsum("...ca,...cb->...ab", ga, a) + np.einsum("...ca,...cb->...ab", gb, b)
    scale = np.maximum(np.trace(H, axis1=-2, axis2=-1) / 3.0, np.median(f) ** 2 / 100.0)
    ref = H + (1e-3 * scale)[..., None, None] * np.eye(3)
    got = point_precision(holey, used, R, t, f, chunk=chunk)
    np.testing.assert_allclose(got, ref, rtol=1e-13, atol=1e-12 * np.abs(ref).max())
    np.testing.assert_array_equal(got, np.swapaxes(got, -1, -2))          # exactly symmetric
    np.testing.assert_array_equal(got, point_precision(holey, used, R, t, f))


@pytest.mark.parametrize("block", [1, 200, 5000])
def test_hampel_in_frame_blocks_equals_the_whole_take(holey, monkeypatch, block):
    """Frame blocks of any size (one frame, a few, more than the take) give the windows'
    result bit for bit."""
    import mocap.filter
    monkeypatch.setattr(mocap.filter, "_BLOCK", block)
    np.testing.assert_array_equal(hampel_outliers(holey, 3, 3.0, 0.01),
                                  hampel_reference(holey, 3, 3.0, 0.01))
