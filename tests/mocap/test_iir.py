"""The numpy Butterworth filters give scipy.signal's results (the design to rounding, the
zero-phase pass within 1e-12 of the signal's scale), and the filter stage no longer imports
scipy.signal."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy.signal import butter, sosfiltfilt

from mocap.filter import butterworth_zero_phase, runs
from mocap.iir import butter_lowpass_sos, sosfiltfilt as np_sosfiltfilt, sosfiltfilt_padlen


@pytest.mark.parametrize("order", [1, 2, 3, 4, 5, 8])
@pytest.mark.parametrize("cutoff_hz, fps", [(6.0, 30.0), (1.0, 120.0), (14.0, 30.0),
                                            (0.5, 100.0)])
def test_zero_phase_pass_equals_scipy(order, cutoff_hz, fps):
    ref_sos = butter(order, cutoff_hz, btype="low", fs=fps, output="sos")
    sos = butter_lowpass_sos(order, cutoff_hz, fps)
    assert sos.shape == ref_sos.shape
    assert sosfiltfilt_padlen(sos) == 3 * (order + 1)
    if order % 2 == 0:                     # conjugate pairs only: the same sections
        np.testing.assert_allclose(sos, ref_sos, rtol=1e-12, atol=1e-15)
    x = np.cumsum(np.random.default_rng(order).normal(0, 0.01, (700, 4)), 0) + 1.0
    for n in (len(x), sosfiltfilt_padlen(sos) + 1, 129, 128):      # block edges too
        got = np_sosfiltfilt(sos, x[:n])
        ref = sosfiltfilt(ref_sos, x[:n], axis=0)
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12 * np.abs(ref).max())
    np.testing.assert_allclose(np_sosfiltfilt(sos, x[:, 0]), sosfiltfilt(ref_sos, x[:, 0]),
                               rtol=0, atol=1e-12 * np.abs(x).max())


def test_stage_filter_equals_the_per_series_scipy_loop(clean_take):
    """butterworth_zero_phase (stretches shared by several series filtered together) gives the
    old per-series, per-stretch scipy loop within a picometre."""
    rng = np.random.default_rng(2)
    xyz = clean_take.gt_xyz + rng.normal(0, 0.005, clean_take.gt_xyz.shape)
    xyz[20:23, 0, 4] = np.nan
    xyz[5:9, 0, 7, 1] = np.nan
    xyz[:, 0, 9] = np.nan
    got = butterworth_zero_phase(xyz, 6.0, 30.0, 4)
    sos = butter(4, 6.0, btype="low", fs=30.0, output="sos")
    ref = xyz.copy()
    flat = ref.reshape(len(ref), -1)
    for k in range(flat.shape[1]):
        s = flat[:, k].copy()
        for a, b in runs(np.isfinite(s)):
            if b - a > 3 * (2 * len(sos) + 1):
                flat[a:b, k] = sosfiltfilt(sos, s[a:b])
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12)
    assert not np.allclose(got, xyz, equal_nan=True)             # it filtered


def test_filter_module_does_not_import_scipy_signal():
    code = "import sys, mocap.filter; print('scipy.signal' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
