"""Fuzzing the OpenCV and EasyMocap YAML readers: any file gives cameras or a
:class:`~calibration.errors.CalibrationError`, never another exception."""
from __future__ import annotations

import numpy as np
from fuzz_inputs import FUZZ, mutated, typed_or_result
from hypothesis import given
from hypothesis import strategies as st

from calibration import Camera, Rig
from calibration.errors import CalibrationError
from calibration.io.opencv_yaml import read_easymocap, read_opencv_yaml, write_easymocap, write_opencv_yaml

K = np.array([[1000.0, 0.0, 959.5], [0.0, 1010.0, 539.5], [0.0, 0.0, 1.0]])
CAMERAS = (
    Camera.from_rvec("front", (1920, 1080), K, [-0.3, 0.09, 0.001, -0.0008, -0.01], [0.1, -0.2, 0.05],
                     [0.1, -0.2, 3.0]),
    Camera.from_rvec("side", (1280, 720), K, [-0.2, 0.05, 0.0, 0.0], [1.2, 0.3, -0.1], [0.5, 0.1, 2.5]),
)


def _valid(tmp_path):
    write_opencv_yaml(tmp_path / "valid.yml", CAMERAS[0])
    write_easymocap(tmp_path / "intri_ok.yml", tmp_path / "extri_ok.yml", Rig(CAMERAS))
    return ((tmp_path / "valid.yml").read_bytes(), (tmp_path / "intri_ok.yml").read_bytes(),
            (tmp_path / "extri_ok.yml").read_bytes())


@FUZZ
@given(data=st.data())
def test_mutated_opencv_yaml(tmp_path, data):
    valid, _, _ = _valid(tmp_path)
    path = tmp_path / "cam.yml"
    path.write_bytes(data.draw(mutated(valid)))
    typed_or_result(lambda: read_opencv_yaml(path), CalibrationError)


@FUZZ
@given(which=st.sampled_from(["intri", "extri"]), data=st.data())
def test_mutated_easymocap_yaml(tmp_path, which, data):
    _, intri, extri = _valid(tmp_path)
    files = {"intri": intri, "extri": extri}
    files[which] = data.draw(mutated(files[which]))
    for name, blob in files.items():
        (tmp_path / f"{name}.yml").write_bytes(blob)
    typed_or_result(lambda: read_easymocap(tmp_path / "intri.yml", tmp_path / "extri.yml", (1920, 1080)),
                    CalibrationError)
