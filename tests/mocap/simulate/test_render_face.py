"""The painted face (mocap.simulate.render.face_paint): which mesh faces show the eyes, brows
and lips on the Anny body, and a tiny Workbench close-up of the face in which the eyes are
dark where the truth's eye keypoints project (a plain-skin face, as rendered before, is not).

The render test is skipped only when ``.venv-blender`` is absent AND CI is unset.
"""
from __future__ import annotations


import numpy as np
import pytest

from calibration import Camera, Rig
from mocap.simulate.bodymodel import BodyActor
from blender_skip import needs_blender

SIZE = (160, 120)



@pytest.fixture(scope="module")
def anny():
    from mocap.body.anny_model import load_anny
    return load_anny()


@pytest.fixture(scope="module")
def painted(anny):
    from mocap.simulate.render import face_parts, vertex_parts
    from mocap.simulate.render.face_paint import face_paint
    parts = face_parts(anny.faces, vertex_parts(anny.joint_names, anny.weights.numpy()))
    return parts, face_paint(anny, parts)


def _centroids(anny, sel: np.ndarray) -> np.ndarray:
    return anny.template.numpy()[np.asarray(anny.faces)[sel]].mean(1)


def test_face_parts_sit_on_the_face_anatomy(anny, painted):
    """Each part is painted on both sides, only on skin, where a face has it: the irises on
    the front of the eyeballs around the truth's eye keypoints, the brows above the eyes, the
    lips between the mouth corners, nothing on the back of the head."""
    from mocap.body.regressors import spec_rest_position
    from mocap.simulate.render.face_paint import FACE_PARTS
    parts, paint = painted
    assert (parts[paint >= 0] == 0).all()                     # skin only
    kp = {n: spec_rest_position(anny, anny.keypoints[n]) for n in
          ("left_eye", "right_eye", "left_mouth", "right_mouth", "nose")}
    pos = {name: _centroids(anny, paint == k) for k, name in enumerate(FACE_PARTS)}
    for name, c in pos.items():
        assert (c[:, 0] > 0).sum() >= 3 and (c[:, 0] < 0).sum() >= 3, name      # both sides
        assert (c[:, 1] < kp["nose"][1] + 0.05).all(), name   # the front of the head (-Y)
    for side, sgn in (("left", 1), ("right", -1)):
        iris = pos["iris"][np.sign(pos["iris"][:, 0]) == sgn]
        assert np.linalg.norm(iris.mean(0) - kp[f"{side}_eye"]) < 0.006, side
        assert np.linalg.norm(iris - iris.mean(0), axis=1).max() < 0.012, side
        brow = pos["brow"][np.sign(pos["brow"][:, 0]) == sgn]
        assert 0.010 < brow[:, 2].mean() - kp[f"{side}_eye"][2] < 0.025, side
    mouth = 0.5 * (kp["left_mouth"] + kp["right_mouth"])
    assert np.abs(pos["lips"][:, 2] - mouth[2]).max() < 0.012
    assert np.abs(pos["lips"][:, 0]).max() <= kp["left_mouth"][0] + 0.003


def _face_camera(eyes: np.ndarray, ears: np.ndarray) -> Camera:
    """A camera 0.45 m in front of the face (between the eyes, away from the ears) looking
    at it, the head about 110 px across."""
    mid = eyes.mean(0)
    fwd = mid - ears.mean(0)
    fwd[2] = 0.0
    fwd /= np.linalg.norm(fwd)
    centre = mid + 0.45 * fwd
    z = -fwd
    x = np.cross([0.0, 0.0, -1.0], z)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    R = np.stack([x, y, z])
    K = np.array([[300.0, 0, (SIZE[0] - 1) / 2], [0, 300.0, (SIZE[1] - 1) / 2], [0, 0, 1]])
    return Camera("face", SIZE, K, np.zeros(5), R, -R @ centre)


def _luma(grey: np.ndarray, xy: np.ndarray, r: int = 1) -> float:
    """Mean of the 3 x 3 pixels around ``xy`` (2,) (r = 1), or the darkest such mean within
    ``r`` - 1 pixels of it; 8-bit grey (H, W)."""
    u, v = np.round(xy).astype(int)
    win = grey[v - r:v + r + 1, u - r:u + r + 1]
    if r == 1:
        return float(win.mean())
    box = sum(win[i:i + win.shape[0] - 2, j:j + win.shape[1] - 2]
              for i in range(3) for j in range(3)) / 9.0
    return float(box.min())


@needs_blender
def test_rendered_eyes_are_dark_where_the_truth_eyes_project(anny):
    """A close-up of the face (Workbench, one frame, about 0.7 px per mm): within 3 px (4 mm)
    of the truth's projected eye keypoints the image is dark (the irises: the truth's eye
    point lies on the eyeball 3 mm above the pupil), far darker than the cheek below each eye;
    the plain face rendered as before shows skin there."""
    from mocap.simulate.render import RenderSettings, animate_actors, keypoint_truth, render_take
    actor = BodyActor("walk", seed=1)
    truth = keypoint_truth(anny, animate_actors(anny, [actor], 1, 30.0), ("blazepose33",))
    names = ["left_eye", "right_eye", "left_ear", "right_ear", "left_mouth", "right_mouth"]
    from mocap.keypoints import get_format
    idx = [get_format("blazepose33").joint_names.index(n) for n in names]
    xyz = truth["blazepose33"][0, 0, idx]
    rig = Rig([_face_camera(xyz[:2], xyz[2:4])])
    looks = []
    for face in (True, False):
        take = render_take(rig, anny, [actor], 1, 30.0,
                           RenderSettings(floor=False, face=face), formats=("blazepose33",))
        xy = take.truth["xy_blazepose33"][0, 0, 0, idx]
        grey = take.images[0][0].astype(float).mean(-1)
        cheek = xy[:2] + np.array([0.0, 0.6]) * (xy[4:6].mean(0) - xy[:2].mean(0))[1]
        looks.append([(_luma(grey, e, r=4), _luma(grey, c)) for e, c in zip(xy[:2], cheek)])
    for eye, cheek in looks[0]:
        assert eye < 60 and eye < 0.4 * cheek, looks
    for eye, cheek in looks[1]:
        assert eye > 0.6 * cheek, looks


def test_painted_faces_change_the_render_cache_keys(anny, painted):
    """A painted take is cached apart from a plain-face one: the session key differs (the
    plain one keeps the key of the takes rendered before faces were painted) and so do the
    arrays Blender's cache fingerprints."""
    import hashlib
    import json
    from dataclasses import asdict, replace

    from mocap.app.render_session import RenderSpec, render_key
    from mocap.simulate.render import LOOKS, PART_NAMES, painted_parts
    spec = RenderSpec()
    plain = replace(spec, face=False)
    before = {k: v for k, v in asdict(spec).items() if k != "face"}
    assert render_key(plain) == hashlib.sha256(
        json.dumps(before, sort_keys=True).encode()).hexdigest()[:16]
    assert render_key(spec) != render_key(plain)
    parts, paint = painted
    shown = painted_parts(parts, paint)
    assert (shown != parts).sum() == (paint >= 0).sum() > 100
    assert shown.max() == len(PART_NAMES) - 1 and LOOKS[0].colors().shape == (len(PART_NAMES), 3)
