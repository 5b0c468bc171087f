"""Rig: explicit order, access by index and name, subsets, batched projection."""

from __future__ import annotations

import numpy as np
import pytest

from calibration import CalibrationError, Rig, RigMetadata, UnknownCameraError


def test_order_is_the_given_order_never_sorted(camera):
    names = ["cam10", "cam2", "cam1", "b", "a"]
    rig = Rig(tuple(camera.replace(name=n) for n in names))
    assert rig.names == tuple(names)
    assert [c.name for c in rig] == names and len(rig) == 5


def test_getitem_by_index_and_name(rig):
    assert rig[1].name == "cam1" and rig[-1].name == "cam3" and rig["cam2"] is rig[2]
    assert rig[np.int64(0)] is rig[0]
    assert rig.index("cam3") == 3


def test_unknown_name_lists_the_known_ones(rig):
    with pytest.raises(
        UnknownCameraError,
        match=r"unknown camera 'cam9': expected one of \['cam0', 'cam1', 'cam2', 'cam3'\]",
    ):
        rig["cam9"]
    with pytest.raises(CalibrationError, match="cam9"):
        rig.index("cam9")


def test_bad_keys(rig):
    with pytest.raises(CalibrationError, match=r"expected -4 <= index < 4, found 4"):
        rig[4]
    with pytest.raises(CalibrationError, match=r"expected a camera index or name, found float 1.5"):
        rig[1.5]


def test_duplicate_names_are_rejected(camera):
    with pytest.raises(
        CalibrationError, match=r"expected unique names, found \['front'\] more than once"
    ):
        Rig((camera, camera))


def test_empty_and_non_camera_are_rejected(camera):
    with pytest.raises(CalibrationError, match="expected at least one camera, found none"):
        Rig(())
    with pytest.raises(CalibrationError, match="rig camera 1: expected a Camera, found str"):
        Rig((camera, "cam1"))


def test_per_camera_errors_must_match_cameras(camera):
    with pytest.raises(
        CalibrationError,
        match=r"error_px_per_camera: expected 1 numbers \(one per camera\), found 2",
    ):
        Rig((camera,), RigMetadata(error_px_per_camera=(0.1, 0.2)))


def test_subset_follows_the_given_names(rig):
    rig = Rig(
        rig.cameras,
        RigMetadata(adjusted=True, error_px=0.4, error_px_per_camera=(0.1, 0.2, 0.3, 0.4)),
    )
    sub = rig.subset(["cam3", "cam0"])
    assert sub.names == ("cam3", "cam0")
    assert sub.metadata == RigMetadata(adjusted=True, error_px=None, error_px_per_camera=(0.4, 0.1))
    with pytest.raises(UnknownCameraError):
        rig.subset(["cam0", "nope"])
    with pytest.raises(
        CalibrationError, match="expected a sequence of camera names, found the string 'cam0'"
    ):
        rig.subset("cam0")


def test_P_and_project_are_stacked_in_rig_order(rig, scene_points):
    assert rig.P.shape == (4, 3, 4)
    np.testing.assert_array_equal(rig.P[2], rig[2].P)
    X = scene_points.reshape(10, 20, 3)
    xy = rig.project(X)
    assert xy.shape == (4, 10, 20, 2)
    for c, cam in enumerate(rig):
        np.testing.assert_array_equal(xy[c], cam.project(X))


def test_every_camera_of_the_ring_sees_the_scene(rig, scene_points):
    xy = rig.project(scene_points)
    w, h = rig[0].size_wh
    assert np.all((xy[..., 0] > 0) & (xy[..., 0] < w) & (xy[..., 1] > 0) & (xy[..., 1] < h))


def test_rig_equality(rig, make_rig):
    assert rig == make_rig()
    assert rig != make_rig(n=3)
