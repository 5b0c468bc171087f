"""Fuzzing the readers of other tools' 2D keypoint files (COCO results JSON, DeepLabCut CSV
and H5, SLEAP analysis H5): any file gives keypoints or a :class:`~mocap.errors.MocapError`,
never another exception."""
from __future__ import annotations

import functools
import json
import shutil
import tempfile
from pathlib import Path

import h5py
import numpy as np
from fuzz_inputs import FUZZ, mutated, mutated_tree, typed_or_result
from hypothesis import given
from hypothesis import strategies as st

from mocap.errors import MocapError
from mocap.io.importers import (read_coco_results, read_dlc, read_pose_file, write_coco_results,
                                write_dlc_csv, write_dlc_h5, write_sleap_analysis)

RNG = np.random.default_rng(1)
XY = RNG.uniform(0, 1000, (3, 2, 17, 2))
CONF = RNG.uniform(0.1, 1.0, (3, 2, 17)).astype(np.float32)
XY[1, 1, 4] = np.nan
CONF[1, 1, 4] = 0.0


@functools.cache
def _valid() -> dict[str, bytes]:
    """The bytes of one valid file of each kind (coco17, 3 frames, 2 people)."""
    folder = Path(tempfile.mkdtemp(prefix="fuzz_valid_"))
    write_coco_results(folder / "coco.json", XY, CONF)
    write_dlc_csv(folder / "multi.csv", XY, CONF, "coco17")
    write_dlc_csv(folder / "single.csv", XY[:, :1], CONF[:, :1], "coco17")
    write_dlc_h5(folder / "dlc.h5", XY, CONF, "coco17")
    write_sleap_analysis(folder / "sleap.h5", XY, CONF, "coco17")
    blobs = {p.name: p.read_bytes() for p in folder.iterdir()}
    shutil.rmtree(folder)
    return blobs


COCO_DATASET = {"images": [{"id": 7, "file_name": "frame_000002.jpg"}, {"id": 8, "file_name": "x.jpg"}],
                "annotations": [{"image_id": 7, "category_id": 1, "keypoints": [10, 20, 2] * 17},
                                {"image_id": 7, "category_id": 1, "keypoints": [10, 20, 1] * 17,
                                 "score": 0.5}]}


@FUZZ
@given(fmt=st.sampled_from([None, "coco17", "halpe26"]), data=st.data())
def test_mutated_coco_bytes(tmp_path, fmt, data):
    path = tmp_path / "cam.json"
    path.write_bytes(data.draw(mutated(_valid()["coco.json"])))
    typed_or_result(lambda: read_coco_results(path, fmt), MocapError)


@FUZZ
@given(fmt=st.sampled_from([None, "coco17"]), dataset=st.booleans(),
       max_people=st.sampled_from([None, 1]), data=st.data())
def test_wrong_values_in_coco_json(tmp_path, fmt, dataset, max_people, data):
    tree = COCO_DATASET if dataset else json.loads(_valid()["coco.json"])[:4]
    doc = data.draw(mutated_tree(tree, max_mutations=3))
    path = tmp_path / "cam.json"
    path.write_text(json.dumps(doc))
    typed_or_result(lambda: read_coco_results(path, fmt, max_people=max_people), MocapError)


@FUZZ
@given(name=st.sampled_from(["multi.csv", "single.csv"]), data=st.data())
def test_mutated_dlc_csv(tmp_path, name, data):
    path = tmp_path / "cam.csv"
    path.write_bytes(data.draw(mutated(_valid()[name])))
    typed_or_result(lambda: read_dlc(path, "coco17"), MocapError)


@FUZZ
@given(name=st.sampled_from(["dlc.h5", "sleap.h5"]), data=st.data())
def test_mutated_h5_bytes(tmp_path, name, data):
    path = tmp_path / "cam.h5"
    path.write_bytes(data.draw(mutated(_valid()[name], max_mutations=2)))
    typed_or_result(lambda: read_pose_file(path, "coco17"), MocapError)


_ARRAYS = st.sampled_from([np.zeros(0), np.zeros((2, 2, 17, 3)), np.zeros((2, 3, 17, 3)),
                           np.full((1, 2, 17, 4), np.inf), np.zeros((2, 17, 3)), np.array([b"x"]),
                           np.array([1.0, 2.0]), np.array(3.0), np.zeros((1, 2, 0, 0)),
                           np.array([b"nose", b"nose"]), np.array(["l_eye", "r_eye"], dtype="S"),
                           np.arange(17), np.zeros((1, 17, 2))])


@FUZZ
@given(tracks=_ARRAYS, scores=st.one_of(st.none(), _ARRAYS), nodes=_ARRAYS, data=st.data())
def test_sleap_datasets_of_any_shape(tmp_path, tracks, scores, nodes, data):
    path = tmp_path / "cam.h5"
    with h5py.File(path, "w") as f:
        f["tracks"] = tracks
        f["node_names"] = nodes
        if scores is not None:
            f["point_scores"] = scores
    typed_or_result(lambda: read_pose_file(path, "coco17"), MocapError)
