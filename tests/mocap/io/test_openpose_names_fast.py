"""Frame numbers read by one slice of fixed-width OpenPose names are the regular expression's
numbers, and names of any other form go through the regular expression."""
from __future__ import annotations

import pytest

from mocap.io.checks import frame_number
from mocap.io.openpose import fixed_width_numbers


@pytest.mark.parametrize("names", [
    [f"cam1_{i:012d}_keypoints.json" for i in range(0, 300, 7)],
    [f"{i:06d}.json" for i in (3, 4, 9, 120)],
    [f"take2_cam10_{i:04d}.json" for i in range(20)],
])
def test_fixed_width_numbers_are_the_last_numbers(names):
    assert fixed_width_numbers(names) == [frame_number(n[:-5]) for n in names]


@pytest.mark.parametrize("names", [
    ["a_1.json", "a_22.json"],                          # widths differ
    ["cam1_0001_k.json", "cam2_0002_k.json"],           # prefixes differ
    ["x_0001_k1.json", "x_0002_k1.json"],               # a digit after the number
    ["x_0001_a.json", "x_000b_a.json"],                 # not all digits
    ["x_０００1.json", "x_０００2.json"],                  # non-ASCII digits
    ["nonumber.json", "nonumberx.json"],
    ["only_0001.json"],
])
def test_other_names_fall_back(names):
    assert fixed_width_numbers(names) is None
