"""Fuzzing the OpenPose JSON folder reader: any file gives keypoints or a
:class:`~mocap.errors.MocapError`, never another exception."""
from __future__ import annotations

import json

import numpy as np
from fuzz_inputs import FUZZ, mutated, mutated_tree, typed_or_result
from hypothesis import given
from hypothesis import strategies as st

from mocap.errors import MocapError
from mocap.io.openpose import guess_openpose_format, openpose_frame_dict, read_openpose_folder

RNG = np.random.default_rng(0)
XY = RNG.uniform(0, 1000, (2, 25, 2))
CONF = RNG.uniform(0.1, 1.0, (2, 25))
CONF[1, 3] = 0.0
FRAME = openpose_frame_dict(XY, CONF)


def _read(folder, fmt):
    if fmt == "guess":
        return guess_openpose_format(folder)
    return read_openpose_folder(folder, fmt)


def _folder(tmp_path, blob: bytes):
    folder = tmp_path / "cam"
    folder.mkdir(exist_ok=True)
    (folder / "cam_000000000000_keypoints.json").write_text(json.dumps(FRAME))
    (folder / "cam_000000000001_keypoints.json").write_bytes(blob)
    return folder


@FUZZ
@given(fmt=st.sampled_from(["body25", "coco18", "auto", "guess"]), data=st.data())
def test_mutated_openpose_bytes(tmp_path, fmt, data):
    folder = _folder(tmp_path, data.draw(mutated(json.dumps(FRAME).encode())))
    typed_or_result(lambda: _read(folder, fmt), MocapError)


@FUZZ
@given(fmt=st.sampled_from(["body25", "auto", "guess"]), data=st.data())
def test_wrong_values_in_openpose_json(tmp_path, fmt, data):
    doc = data.draw(mutated_tree(FRAME, max_mutations=3))
    folder = _folder(tmp_path, json.dumps(doc).encode())
    typed_or_result(lambda: _read(folder, fmt), MocapError)
