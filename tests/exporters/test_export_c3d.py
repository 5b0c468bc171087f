"""C3D through ezc3d: labels, rate, points (and missing points) read back as written."""

from __future__ import annotations

from pathlib import Path

import ezc3d
import numpy as np
import pytest

from exporters.c3d import read_c3d, write_c3d
from exporters.errors import ExportError, FormatError

LABELS = ("pelvis", "left_knee", "right_knee", "nose")


def _points(rng: np.random.Generator, frames: int = 40) -> np.ndarray:
    points = rng.uniform([-2.0, -2.0, 0.0], [2.0, 2.0, 2.0], size=(frames, len(LABELS), 3))
    points[5, 1] = np.nan
    points[10:14, 3, 2] = np.nan  # one coordinate missing: the whole point is missing
    return points


@pytest.mark.parametrize("units", ["mm", "m"])
def test_ezc3d_reads_our_labels_rate_and_points(tmp_path: Path, rng, units: str) -> None:
    points = _points(rng)
    write_c3d(tmp_path / "p.c3d", points, LABELS, 59.94, units=units, descriptions=["a", "b", "c", "d"])
    c3d = ezc3d.c3d(str(tmp_path / "p.c3d"))       # the library itself, not our reader
    assert tuple(c3d["parameters"]["POINT"]["LABELS"]["value"]) == LABELS
    assert c3d["parameters"]["POINT"]["RATE"]["value"][0] == pytest.approx(59.94, rel=1e-6)
    assert c3d["parameters"]["POINT"]["UNITS"]["value"] == [units]
    assert c3d["header"]["points"]["size"] == 4 and c3d["header"]["points"]["last_frame"] == 39
    data = c3d["data"]["points"]
    scale = 1000.0 if units == "mm" else 1.0
    missing = ~np.isfinite(points).all(-1)
    np.testing.assert_allclose(np.transpose(data[:3], (2, 1, 0))[~missing], scale * points[~missing],
                               rtol=1e-6, atol=1e-7 * scale)
    assert np.isnan(np.transpose(data[:3], (2, 1, 0))[missing]).all()
    assert (c3d["data"]["meta_points"]["residuals"][0].T[missing] < 0).all()
    back = read_c3d(tmp_path / "p.c3d")
    assert back.labels == LABELS and back.descriptions == ("a", "b", "c", "d")
    assert back.rate_hz == pytest.approx(59.94, rel=1e-6) and back.first_frame == 0
    np.testing.assert_allclose(back.points[~missing], points[~missing], rtol=1e-6, atol=1e-7)
    assert np.isnan(back.points[missing]).all() and np.isfinite(back.points[~missing]).all()


def test_writing_is_atomic_and_leaves_nothing_behind(tmp_path: Path, rng) -> None:
    write_c3d(tmp_path / "a.c3d", _points(rng), LABELS, 30.0)
    with pytest.raises(ExportError):
        write_c3d(tmp_path / "a.c3d", _points(rng), LABELS[:2], 30.0)
    assert [p.name for p in tmp_path.iterdir()] == ["a.c3d"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"points_m": np.zeros((3, 4, 2))}, r"C3D points: expected shape \(F, M, 3\), found \(3, 4, 2\)"),
        ({"labels": ("a", "b")}, r"C3D labels: expected 4 \(one per point\), found 2"),
        ({"labels": ("a", "a", "b", "c")}, r"C3D labels: expected unique labels"),
        ({"labels": ("a", "", "b", "c")}, r"C3D labels\[1\]: expected a non-empty ASCII string"),
        ({"rate_hz": 0.0}, r"C3D rate_hz: expected a finite number > 0, found 0\.0"),
        ({"units": "cm"}, r"C3D units: expected 'mm' or 'm', found 'cm'"),
        ({"points_m": np.full((2, 4, 3), np.inf)}, r"C3D points: expected finite metres or NaN"),
    ],
)
def test_bad_input_is_rejected(tmp_path: Path, kwargs: dict, message: str) -> None:
    args = {"points_m": np.zeros((2, 4, 3)), "labels": LABELS, "rate_hz": 30.0, **kwargs}
    with pytest.raises(ExportError, match=message):
        write_c3d(tmp_path / "x.c3d", **args)


def test_reading_a_file_that_is_not_c3d(tmp_path: Path) -> None:
    (tmp_path / "bad.c3d").write_bytes(b"not a c3d file at all" * 10)
    with pytest.raises(FormatError, match=r"bad\.c3d, file: expected a C3D file ezc3d can read"):
        read_c3d(tmp_path / "bad.c3d")
    with pytest.raises(FileNotFoundError):
        read_c3d(tmp_path / "none.c3d")
