"""Fuzzing the C3D reader: any file should give points or an
:class:`~exporters.errors.ExportError`, never another exception.

ezc3d (the C++ reader under ``read_c3d``) crashes its process with a segmentation fault on
some corrupt files (a flipped byte of a valid file, a truncated file, random bytes):
``read_c3d`` runs it in a child process, so such a file is a FormatError too.
"""
from __future__ import annotations

from fuzz_inputs import FUZZ, mutated, typed_or_result
from fuzz_motion import valid_files
from hypothesis import given
from hypothesis import strategies as st

from exporters import ExportError, read_c3d


@FUZZ
@given(data=st.data())
def test_mutated_c3d(tmp_path, data):
    path = tmp_path / "a.c3d"
    path.write_bytes(data.draw(mutated(valid_files()["c3d"])))
    typed_or_result(lambda: read_c3d(path), ExportError)
