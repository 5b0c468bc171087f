"""The fast ``.npz`` writer (exporters/npz.py): what it writes reads back exactly with
``np.load``; float noise is stored, structured arrays deflated."""
from __future__ import annotations

import io
import zipfile

import numpy as np

from exporters.amass import AmassMotion, read_amass, write_amass
from exporters.npz import deflates, write_npz


def test_round_trip_and_member_compression():
    rng = np.random.default_rng(0)
    arrays = {"noise": rng.normal(size=(400, 300)), "flags": np.zeros(200000, bool),
              "name": np.array("anny"), "small": np.arange(5.0),
              "nan_block": np.full((300, 400), np.nan)}
    buf = io.BytesIO()
    write_npz(buf, arrays)
    buf.seek(0)
    with np.load(buf, allow_pickle=False) as back:
        for k, v in arrays.items():
            np.testing.assert_array_equal(back[k], v)
    buf.seek(0)
    kinds = {i.filename: i.compress_type for i in zipfile.ZipFile(buf).infolist()}
    assert kinds["noise.npy"] == zipfile.ZIP_STORED
    assert kinds["flags.npy"] == kinds["nan_block.npy"] == zipfile.ZIP_DEFLATED
    assert not deflates(arrays["noise"]) and deflates(arrays["nan_block"])


def test_amass_file_reads_back(tmp_path):
    rng = np.random.default_rng(1)
    motion = AmassMotion(rng.normal(0, 0.3, (2000, 72)), rng.normal(size=(2000, 3)), 30.0,
                         betas=rng.normal(size=10))
    write_amass(tmp_path / "a.npz", motion)
    back = read_amass(tmp_path / "a.npz")
    np.testing.assert_array_equal(back.poses, motion.poses)
    np.testing.assert_array_equal(back.trans, motion.trans)
    np.testing.assert_array_equal(back.betas, motion.betas)
    assert back.fps == 30.0
