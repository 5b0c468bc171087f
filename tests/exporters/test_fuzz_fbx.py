"""Fuzzing the binary FBX reader (the decoder of ``exporters.fbx_format`` and the scene mapping
of ``exporters.fbx``): any file gives a scene or an :class:`~exporters.errors.ExportError`,
never another exception."""
from __future__ import annotations

from fuzz_inputs import FUZZ, mutated, typed_or_result
from fuzz_motion import valid_files
from hypothesis import given
from hypothesis import strategies as st

from exporters import ExportError
from exporters.fbx import read_fbx
from exporters.fbx_format import decode_document


@FUZZ
@given(data=st.data())
def test_mutated_fbx(tmp_path, data):
    path = tmp_path / "a.fbx"
    path.write_bytes(data.draw(mutated(valid_files()["fbx"])))
    typed_or_result(lambda: read_fbx(path), ExportError)


@FUZZ
@given(data=st.data())
def test_mutated_fbx_document(data):
    blob = data.draw(mutated(valid_files()["fbx"]))
    typed_or_result(lambda: decode_document(blob, "a.fbx"), ExportError)
