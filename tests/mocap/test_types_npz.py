"""``save_npz``: what ``np.load`` reads back is what was saved, whichever member is deflated
and whichever stored; noise floats are stored, everything that shrinks is deflated."""
from __future__ import annotations

import zipfile

import numpy as np

from mocap.types import Points3D, load_npz, save_npz


def test_round_trip_and_member_choice(tmp_path):
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 1, (100000, 3))
    holes = np.full((100000, 3), np.nan)
    holes[:100] = rng.normal(0, 1, (100, 3))
    arrays = dict(noise=noise, holes=holes, flags=rng.random((100000, 6)) < 0.5,
                  counts=rng.integers(0, 6, 100000), names=np.array(["a", "bb"]),
                  scalar=np.array(30.0), small=rng.normal(0, 1, 10).astype(np.float32),
                  strided=noise[::2, ::2])
    path = save_npz(tmp_path / "a.npz", **arrays)
    back = load_npz(path, tuple(arrays), "test")
    for k, v in arrays.items():
        assert back[k].dtype == v.dtype and back[k].shape == v.shape
        np.testing.assert_array_equal(back[k], v)
    with zipfile.ZipFile(path) as zf:
        kind = {i.filename: i.compress_type for i in zf.infolist()}
    assert kind["noise.npy"] == kind["strided.npy"] == zipfile.ZIP_STORED
    for k in ("holes", "flags", "counts", "names", "scalar", "small"):
        assert kind[f"{k}.npy"] == zipfile.ZIP_DEFLATED, k
    rest = sum(arrays[k].nbytes for k in ("holes", "flags", "counts"))
    assert path.stat().st_size < noise.nbytes + arrays["strided"].nbytes + 0.25 * rest


def test_points3d_round_trip(tmp_path, clean_take):
    rng = np.random.default_rng(1)
    F, P, J = clean_take.gt_xyz.shape[:3]
    p = Points3D(xyz=clean_take.gt_xyz + rng.normal(0, 1e-3, (F, P, J, 3)),
                 conf=rng.random((F, P, J)).astype(np.float32),
                 joint_names=tuple(f"j{i}" for i in range(J)), fps=30.0, format="body25",
                 views_used=rng.random((F, P, J, 4)) < 0.8,
                 reproj_err_px=rng.random((F, P, J)).astype(np.float32),
                 camera_names=("a", "b", "c", "d"))
    q = Points3D.load(p.save(tmp_path / "p.npz"))
    for k in ("xyz", "conf", "views_used", "reproj_err_px"):
        np.testing.assert_array_equal(getattr(q, k), getattr(p, k))
    assert (q.joint_names, q.fps, q.format, tuple(q.camera_names)) == (
        p.joint_names, p.fps, p.format, p.camera_names)
