"""Gait events and range of motion of the report's biomechanics section (pure functions)."""
from __future__ import annotations

import numpy as np

from mocap.report.biomech import curves_from_mot, heel_strikes, is_walk, rom_rows


def test_heel_strikes_of_a_stepping_heel() -> None:
    fps, F = 30.0, 120
    t = np.arange(F) / fps
    z = 0.04 + 0.08 * np.clip(np.sin(2 * np.pi * t), 0, None)     # swings of 0.5 s, 1 Hz
    z[50] = np.nan
    strikes = heel_strikes(z)
    assert len(strikes) == 4                                      # the heel back on the floor
    assert np.abs(strikes - [15, 45, 75, 105]).max() <= 1         # within a frame
    assert len(heel_strikes(np.full(F, 0.04))) == 0                # standing: none
    assert is_walk(np.c_[t * 1.2, np.zeros(F)], fps, [strikes, strikes])
    assert not is_walk(np.zeros((F, 2)), fps, [strikes, strikes])  # strikes on the spot
    assert not is_walk(np.c_[t * 1.2, np.zeros(F)], fps, [strikes[:1], []])   # one step


def test_curves_from_a_mot_with_gaps_and_rom() -> None:
    labels = ["time", "hip_flexion_r", "hip_flexion_l", "knee_angle_r", "knee_angle_l",
              "ankle_angle_r", "ankle_angle_l", "hip_adduction_r", "hip_adduction_l"]
    frames = np.array([0, 1, 2, 5, 6])
    values = np.c_[frames / 30.0, np.tile(np.arange(5.0)[:, None] * 10, (1, 8))]
    curves = curves_from_mot(labels, values, 30.0, 8)
    knee = curves[("knee", "right", "flexion")]
    np.testing.assert_array_equal(np.isnan(knee), [0, 0, 0, 1, 1, 0, 0, 1])
    assert knee[6] == 40.0
    rows = rom_rows(curves, "IK")
    assert ("knee flexion", "right", 0.0, 40.0, 40.0) == rows[3][:5] and len(rows) == 8
