"""Fuzzing the anipose and Pose2Sim TOML readers: any file gives cameras or a
:class:`~calibration.errors.CalibrationError`, never another exception."""
from __future__ import annotations

import tomllib

import numpy as np
import tomli_w
from fuzz_inputs import FUZZ, mutated, mutated_tree, typed_or_result
from hypothesis import given
from hypothesis import strategies as st

from calibration import Camera
from calibration.errors import CalibrationError
from calibration.io.formats import RigMetadata, anipose_document, pose2sim_document, read_calibration

K = np.array([[1000.0, 0.0, 959.5], [0.0, 1010.0, 539.5], [0.0, 0.0, 1.0]])
CAMERAS = (
    Camera.from_rvec("front", (1920, 1080), K, [-0.3, 0.09, 0.001, -0.0008, -0.01], [0.1, -0.2, 0.05],
                     [0.1, -0.2, 3.0]),
    Camera.from_rvec("side", (1280, 720), K, [0.08, -0.02, 0.004, -0.0006], [1.2, 0.3, -0.1],
                     [0.5, 0.1, 2.5], "fisheye"),
)
META = RigMetadata(adjusted=True, error_px=0.4, error_px_per_camera=(0.3, 0.5))
DOCS = {"anipose": anipose_document(CAMERAS, META), "pose2sim": pose2sim_document(CAMERAS, META)}


@FUZZ
@given(fmt=st.sampled_from(sorted(DOCS)), data=st.data())
def test_mutated_toml_bytes(tmp_path, fmt, data):
    path = tmp_path / "calib.toml"
    path.write_bytes(data.draw(mutated(tomli_w.dumps(DOCS[fmt]).encode())))
    typed_or_result(lambda: read_calibration(path), CalibrationError)


def _toml_safe(tree):
    """TOML has no null: None becomes a string, so the wrong-type values still reach the reader."""
    if isinstance(tree, dict):
        return {k: _toml_safe(v) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_toml_safe(v) for v in tree]
    return "null" if tree is None else tree


@FUZZ
@given(fmt=st.sampled_from(sorted(DOCS)), read_as=st.sampled_from([None, "anipose", "pose2sim"]),
       data=st.data())
def test_wrong_values_in_toml(tmp_path, fmt, read_as, data):
    doc = _toml_safe(data.draw(mutated_tree(DOCS[fmt], max_mutations=3)))
    if not isinstance(doc, dict):
        doc = {"value": doc}
    path = tmp_path / "calib.toml"
    try:
        path.write_text(tomli_w.dumps(doc))
    except (TypeError, ValueError):    # a tree TOML cannot hold (a list of tables with a number)
        return
    tomllib.loads(path.read_text())
    typed_or_result(lambda: read_calibration(path, read_as), CalibrationError)
