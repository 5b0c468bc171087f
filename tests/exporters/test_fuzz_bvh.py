"""Fuzzing the BVH reader: any file gives a skeleton and motion or an
:class:`~exporters.errors.ExportError`, never another exception."""
from __future__ import annotations

from fuzz_inputs import FUZZ, mutated, typed_or_result
from fuzz_motion import valid_files
from hypothesis import given
from hypothesis import strategies as st

from exporters import ExportError, read_bvh


@FUZZ
@given(up=st.sampled_from(["y", "z"]), data=st.data())
def test_mutated_bvh(tmp_path, up, data):
    path = tmp_path / "a.bvh"
    path.write_bytes(data.draw(mutated(valid_files()["bvh"])))
    typed_or_result(lambda: read_bvh(path, up=up), ExportError)
