"""Fuzzing the AMASS ``.npz`` reader: any file gives a take or an
:class:`~exporters.errors.ExportError`, never another exception."""
from __future__ import annotations

import io

import numpy as np
from fuzz_inputs import FUZZ, mutated, typed_or_result
from fuzz_motion import valid_files
from hypothesis import given
from hypothesis import strategies as st

from exporters import ExportError, read_amass

_VALUES = st.sampled_from([np.zeros(0), np.zeros((2, 3)), np.zeros((2, 15)), np.full((2, 15), np.nan),
                           np.array(30.0), np.array(-1.0), np.array(np.inf), np.array("x"),
                           np.array(b"\xff"), np.array(["a", "b"]), np.arange(5), np.zeros((1, 2, 3)),
                           np.array([1e308, -1e308]), np.array(True)])


@FUZZ
@given(data=st.data())
def test_mutated_npz_bytes(tmp_path, data):
    path = tmp_path / "a.npz"
    path.write_bytes(data.draw(mutated(valid_files()["npz"])))
    typed_or_result(lambda: read_amass(path), ExportError)


@FUZZ
@given(key=st.sampled_from(["poses", "trans", "mocap_framerate", "betas", "gender", "surface_model_type",
                            "joint_names", "parents", "offsets"]), value=_VALUES, drop=st.booleans())
def test_npz_arrays_of_any_shape(tmp_path, key, value, drop):
    with np.load(io.BytesIO(valid_files()["npz"])) as npz:
        arrays = {k: npz[k] for k in npz.files}
    if drop:
        arrays.pop(key, None)
    else:
        arrays[key] = value
    path = tmp_path / "a.npz"
    np.savez(path, **arrays)
    typed_or_result(lambda: read_amass(path), ExportError)
