"""Camera validation: every bad field raises CameraError naming the camera and the field."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from calibration import (
    CalibrationError,
    CalibrationFileError,
    Camera,
    CameraError,
    UnknownCameraError,
)

K = np.array([[1000.0, 0.0, 320.0], [0.0, 1000.0, 240.0], [0.0, 0.0, 1.0]])
GOOD = dict(
    name="side",
    size_wh=(640, 480),
    K=K,
    dist=np.zeros(5),
    R_cam_from_world=np.eye(3),
    t_cam_from_world=np.zeros(3),
)
FLIP = np.diag([1.0, 1.0, -1.0])


def _k(**entries):
    k = K.copy()
    for (i, j), v in ((tuple(map(int, key[1:])), v) for key, v in entries.items()):
        k[i, j] = v
    return k


@pytest.mark.parametrize(
    "change, field, found",
    [
        (dict(K=np.eye(3)[:2]), "K", r"expected shape \(3, 3\), found \(2, 3\)"),
        (dict(K=_k(k00=np.nan)), "K", r"expected finite values, found"),
        (dict(K=_k(k00=-5.0)), "K", r"expected positive focal lengths, found fx=-5.0"),
        (dict(K=_k(k01=0.5)), "K", r"expected zero skew"),
        (dict(K=_k(k22=2.0)), "K", r"last row \(0, 0, 1\), found 0.0 and \[0.0, 0.0, 2.0\]"),
        (dict(K=[["a", 0, 0], [0, 1, 0], [0, 0, 1]]), "K", r"expected numbers, found"),
        (
            dict(dist=np.zeros(6)),
            "dist",
            r"expected 0 or 4 or 5 or 8 coefficients for model 'pinhole', found 6",
        ),
        (
            dict(dist=np.zeros(5), model="fisheye"),
            "dist",
            r"expected 4 coefficients for model 'fisheye', found 5",
        ),
        (dict(dist=np.zeros((2, 2))), "dist", r"expected a 1-D array, found shape \(2, 2\)"),
        (
            dict(R_cam_from_world=np.eye(3) * 1.1),
            "R_cam_from_world",
            r"expected a rotation .* found max \|R R\^T - I\| = 0.21",
        ),
        (dict(R_cam_from_world=FLIP), "R_cam_from_world", r"det = -1"),
        (
            dict(t_cam_from_world=[0.0, np.inf, 0.0]),
            "t_cam_from_world",
            r"expected finite values, found \[0.0, inf, 0.0\]",
        ),
        (
            dict(t_cam_from_world=[0.0, 0.0]),
            "t_cam_from_world",
            r"expected shape \(3,\), found \(2,\)",
        ),
        (
            dict(size_wh=(0, 480)),
            "size_wh",
            r"expected 2 positive integers \(w, h\), found \(0, 480\)",
        ),
        (dict(size_wh=(640.5, 480)), "size_wh", r"found \(640.5, 480\)"),
        (dict(size_wh=("640", 480)), "size_wh", r"found \('640', 480\)"),
        (dict(size_wh=(640,)), "size_wh", r"found \(640,\)"),
        (
            dict(model="orthographic"),
            "model",
            r"expected one of \['pinhole', 'fisheye'\], found 'orthographic'",
        ),
    ],
)
def test_invalid_camera_names_camera_field_expected_and_found(change, field, found):
    with pytest.raises(CameraError, match=rf"^camera 'side': {field}: .*{found}") as info:
        Camera(**{**GOOD, **change})
    err = info.value
    assert (err.camera, err.field) == ("side", field)
    assert (
        "\n" not in str(err) and isinstance(err, CalibrationError) and isinstance(err, ValueError)
    )


def test_empty_name_is_rejected():
    with pytest.raises(CameraError, match=r"name: expected a non-empty string, found ''"):
        Camera(**{**GOOD, "name": ""})


@pytest.mark.parametrize(
    "err",
    [
        CameraError("cam0", "K", "expected shape (3, 3), found (2, 3)"),
        CalibrationFileError(
            "/x/calib.toml", "expected key 'matrix', found keys ['name']", "cam_0", "matrix"
        ),
        CalibrationFileError("/x/calib.toml", "expected at least one camera table, found none"),
        UnknownCameraError("cam9", ("cam0", "cam1")),
    ],
)
def test_errors_pickle_with_their_message(err):
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is type(err) and str(back) == str(err)


def test_file_error_message_layout():
    err = CalibrationFileError(
        "/x/calib.toml", "expected shape (3, 3), found (2, 3)", "cam_0", "matrix"
    )
    assert str(err) == "/x/calib.toml [cam_0] matrix: expected shape (3, 3), found (2, 3)"
    assert (err.path, err.table, err.key) == ("/x/calib.toml", "cam_0", "matrix")
