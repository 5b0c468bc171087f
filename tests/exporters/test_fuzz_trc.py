"""Fuzzing the TRC reader: any file gives markers or an
:class:`~exporters.errors.ExportError`, never another exception."""
from __future__ import annotations

from fuzz_inputs import FUZZ, mutated, typed_or_result
from fuzz_motion import valid_files
from hypothesis import given
from hypothesis import strategies as st

from exporters import ExportError
from exporters.trc import read_trc


@FUZZ
@given(up=st.sampled_from(["y", "z", "file"]), data=st.data())
def test_mutated_trc(tmp_path, up, data):
    path = tmp_path / "a.trc"
    path.write_bytes(data.draw(mutated(valid_files()["trc"])))
    typed_or_result(lambda: read_trc(path, up=up), ExportError)
