"""mocap.geometry.bones: one bone-length computation (per frame, robust over frames)."""
import numpy as np
import pytest

from mocap import filter as mfilter
from mocap.geometry import bone_lengths, robust_bone_lengths


def _chain(rng, F):
    """(F, 3, 3) a 3-joint chain with bones 0.5 m and 0.3 m, randomly oriented per frame."""
    d = rng.normal(size=(F, 2, 3))
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    root = rng.uniform(-1, 1, (F, 3))
    j1 = root + 0.5 * d[:, 0]
    return np.stack([root, j1, j1 + 0.3 * d[:, 1]], 1)


def test_filter_uses_the_geometry_bone_lengths():
    assert mfilter.bone_lengths is bone_lengths
    assert mfilter.robust_bone_lengths is robust_bone_lengths


def test_lengths_per_frame_and_robust_median(rng):
    xyz = _chain(rng, 20)
    bones = np.array([[0, 1], [1, 2]])
    L = bone_lengths(xyz, bones)
    assert L.shape == (20, 2)
    np.testing.assert_allclose(L, [[0.5, 0.3]] * 20, atol=1e-12)
    xyz[:5, 2] = np.nan                                   # the second bone missing 5 frames
    xyz[7, 1] = [9.0, 9.0, 9.0]                           # one wild frame for both bones
    L = bone_lengths(xyz, bones)
    assert np.isnan(L[:5, 1]).all() and np.isfinite(L[:5, 0]).all()
    np.testing.assert_allclose(robust_bone_lengths(xyz, bones), [0.5, 0.3], atol=1e-12)
    never = xyz.copy()
    never[:, 2] = np.nan
    assert np.isnan(robust_bone_lengths(never, bones)[1])


def test_frames_mask_and_minimum_count(rng):
    """A frame selection per bone (e.g. both ends confident) and a minimum frame count, as the
    fit's robust lengths use them."""
    xyz = _chain(rng, 10)
    xyz[:4, 1] += [0.0, 0.0, 0.1]                           # 4 frames with other lengths
    bones = np.array([[0, 1], [1, 2]])
    frames = np.ones((10, 2), bool)
    frames[:4] = False
    np.testing.assert_allclose(robust_bone_lengths(xyz, bones, frames), [0.5, 0.3], atol=1e-12)
    few = np.zeros((10, 2), bool)
    few[:2, 0] = few[:, 1] = True
    L = robust_bone_lengths(xyz, bones, few, min_frames=3)
    assert np.isnan(L[0]) and L[1] == pytest.approx(np.median(bone_lengths(xyz, bones)[:, 1]))
    per_person = np.stack([xyz, xyz], 1)                   # (F, P, J, 3)
    assert robust_bone_lengths(per_person, bones).shape == (2, 2)
