"""The fit stage split in two: the pure fit of a take's people (nothing written) and the
files written from it, which together are ``fit_people``."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mocap.app.bodies import fit_people
from mocap.body import BodyMotion, load_body_model
from mocap.fit import PersonFit, fit_points3d
from mocap.app.fit_files import write_fits
from mocap.keypoints import get_format
from mocap.settings import Settings
from mocap.simulate.bodymodel import BodyActor, animate_body, body_keypoints
from mocap.types import Points3D


@pytest.fixture(scope="module")
def anny():
    return load_body_model("anny")


@pytest.fixture(scope="module")
def take(anny):
    """12 frames of one walking person in slot 1 (slot 0 never seen), noise-free keypoints."""
    kp = body_keypoints(anny, animate_body(anny, BodyActor("walk", seed=2), 12, 30.0), "body25")
    xyz = np.full((12, 2) + kp.shape[1:], np.nan)
    xyz[:, 1] = kp
    conf = np.zeros(xyz.shape[:3], np.float32)
    conf[:, 1] = 1.0
    return Points3D(xyz, conf, get_format("body25").joint_names, 30.0, "body25")


@pytest.fixture(scope="module")
def settings():
    return dataclasses.replace(Settings().fit, iteration_scale=0.1, device="cpu")


def test_the_pure_fit_writes_nothing_and_the_files_follow(anny, take, settings, tmp_path):
    fits = fit_points3d(take, settings, anny)
    assert [f.person for f in fits] == [1] and isinstance(fits[0], PersonFit)
    assert not any(tmp_path.iterdir())
    assert fits[0].body.num_frames == 12 and 1.0 < fits[0].height_m < 2.3
    assert [s["stage"] for s in fits[0].summary()["stages"]] == [
        "shape", "shape_orient", "body_pose", "refine"]
    entries = write_fits(tmp_path / "a", anny, fits)
    assert [(e["id"], e["body"], e["meshes"]) for e in entries] == [(1, "person1/body.npz", 0)]
    saved = BodyMotion.load(tmp_path / "a" / "person1" / "body.npz")
    np.testing.assert_array_equal(saved.betas, fits[0].body.betas)

    entries2, bodies = fit_people(take, settings, tmp_path / "b")
    assert list(bodies) == [1] and bodies[1][0].kind == "anny"
    np.testing.assert_array_equal(bodies[1][1].poses, fits[0].body.poses)
    # The app layer also records which keypoints the fit was made from (exports check it).
    assert len(entries2[0].pop("points3d_digest")) == 64
    strip = [{**e, "stages": [{k: v for k, v in s.items() if k != "seconds"}
                              for s in e["stages"]]} for e in (entries[0], entries2[0])]
    assert strip[0] == strip[1]
