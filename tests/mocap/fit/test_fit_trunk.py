"""The trunk in the fit: the lumbopelvic rhythm (shared by the studio and the fit's prior),
the spine's coupling, the stance weights that switch the rhythm off for a lying person, and
the rotation preconditioner."""
from __future__ import annotations

import numpy as np
import pytest
import roma
import torch

from body_scenes import fit_noise_free
from mocap.body import keypoint_layer, load_body_model
from mocap.body.lumbopelvic import (EARLY_SHARE, LATE_FROM_RAD, LATE_SHARE,
                                    pelvis_tilt_of_trunk)
from mocap.fit import (FitOptions, initial_params, lumbopelvic_loss, prepare_data,
                       rotation_scales, spine_coupling_loss, stage_constants, stance_weights)
from mocap.keypoints import get_format
from mocap.simulate.bodymodel import BodyActor, animate_body

D = np.pi / 180


@pytest.fixture(scope="module")
def anny():
    return load_body_model("anny")


@pytest.fixture(scope="module")
def layer64(anny):
    return keypoint_layer(anny, "body25", dtype=torch.float64)


def test_rhythm_shares_the_bend_lumbar_first_then_the_pelvis():
    T = np.radians(np.linspace(-120, 120, 481))
    P = pelvis_tilt_of_trunk(T)
    np.testing.assert_allclose(P, -pelvis_tilt_of_trunk(-T), atol=1e-15)      # odd
    assert np.all(np.diff(P) > 0)                                              # monotone
    share = np.gradient(P, T)                                                  # C1, rising
    assert share[240] == pytest.approx(EARLY_SHARE, abs=2e-3)
    assert share[-1] == pytest.approx(LATE_SHARE, abs=1e-9)
    assert np.abs(np.diff(share)).max() < 5e-3
    for deg, want in ((8, 2.54), (35, 13.22), (95, 48.5)):
        assert np.degrees(pelvis_tilt_of_trunk(np.radians(deg))) == pytest.approx(want, abs=0.01)
    t = torch.tensor(T)
    np.testing.assert_allclose(pelvis_tilt_of_trunk(t, 1.1).numpy(), 1.1 * P, atol=1e-12)
    assert LATE_FROM_RAD == pytest.approx(np.pi / 2)


def _trunk_of(c, rotations):
    """(pelvis tilt, spine flexion sum) (F,) radians from (F, Jb, 3, 3) local rotations."""
    R = torch.as_tensor(rotations, dtype=torch.float64)
    p = -torch.asin((R[:, 0] @ c["forward"])[:, 2])
    e = roma.rotmat_to_rotvec(R[:, 1:])
    return p.numpy(), (e[:, c["spine"]] * c["spine_flexion"]).sum((-1, -2)).numpy()


@pytest.mark.parametrize("motion,peak_deg", [("jog_circle", 8), ("squat", 35 * 0.85),
                                             ("bend_and_reach", 95)])
def test_studio_actors_follow_the_rhythm_with_an_individual_scale(anny, layer64, motion,
                                                                   peak_deg):
    c = stage_constants(layer64, FitOptions())
    anim = animate_body(anny, BodyActor(motion, seed=4), 150, 30.0)
    p, s = _trunk_of(c, anim["rotations"])
    T = p + s
    assert np.degrees(T.max()) >= peak_deg - 0.5
    big = np.abs(T) > 2 * D
    k = p[big] / pelvis_tilt_of_trunk(T[big])
    np.testing.assert_allclose(k, k[0], rtol=1e-6)       # one scale per actor
    assert 0.9 <= k[0] <= 1.1
    # The trunk loss is zero for an actor of the population rhythm, (k - 1)^2 otherwise.
    R = torch.as_tensor(anim["rotations"])
    e = roma.rotmat_to_rotvec(R[:, 1:])
    loss = lumbopelvic_loss(R[:, 0], e, c["forward"], c["spine"], c["spine_flexion"],
                            torch.ones(len(R), dtype=torch.float64), 1.0)
    assert float(loss) == pytest.approx(float(np.mean((p - p / k[0]) ** 2)), rel=1e-6)
    # The studio bends the spine as one curve.
    assert float(spine_coupling_loss(e, c["spine"], 1.0)) < 1e-12


def test_bend_keeps_the_legs_vertical_under_the_pelvis(anny):
    anim = animate_body(anny, BodyActor("bend_and_reach", seed=4), 150, 30.0)
    idx = {c: anny.fitted.index(n) for n, c in anny.canonical.items()}
    thigh = anim["joints"][:, idx["left_knee"]] - anim["joints"][:, idx["left_hip"]]
    lean = np.degrees(np.arccos(-thigh[:, 2] / np.linalg.norm(thigh, axis=1)))
    assert lean.max() < 12.0      # only the knees' 12 degrees and the ankles move the thighs


def test_trunk_terms_pass_gradcheck(layer64):
    c = stage_constants(layer64, FitOptions())
    g = torch.Generator().manual_seed(0)
    F, J = 4, len(layer64.parents) - 1
    root = roma.rotvec_to_rotmat(0.4 * torch.randn(F, 3, generator=g, dtype=torch.float64))
    pose = (0.2 * torch.randn(F, J, 3, generator=g, dtype=torch.float64)).requires_grad_()
    rv = roma.rotmat_to_rotvec(root).requires_grad_()
    stance = torch.tensor([1.0, 0.5, 0.0, 1.0], dtype=torch.float64)

    def lp(rv, pose):
        return lumbopelvic_loss(roma.rotvec_to_rotmat(rv), pose, c["forward"], c["spine"],
                                c["spine_flexion"], stance, 0.05)

    assert torch.autograd.gradcheck(lp, (rv, pose))
    assert torch.autograd.gradcheck(lambda e: spine_coupling_loss(e, c["spine"], 0.05), (pose,))


def test_stance_weights_switch_off_lying_and_fill_gaps():
    names = get_format("body25").joint_names
    F = 6
    xyz = np.zeros((F, len(names), 3))
    hips = [names.index(n) for n in ("left_hip", "right_hip")]
    ankles = [names.index(n) for n in ("left_ankle", "right_ankle")]
    heights = np.array([0.9, 0.45, 0.225, 0.05, -0.6, 0.9])   # stand, squat, kneel, lie, hand
    xyz[:, hips, 2] = heights[:, None] + 0.08
    xyz[:, ankles, 2] = 0.08
    w = stance_weights(xyz, names)
    np.testing.assert_allclose(w, [1.0, 1.0, 0.5, 0.0, 0.0, 1.0])
    xyz[[2, 3], :] = np.nan                                    # missing: nearest frame's value
    np.testing.assert_allclose(stance_weights(xyz, names), [1.0, 1.0, 1.0, 0.0, 0.0, 1.0])
    assert np.all(stance_weights(xyz, ("nose", "neck")) == 1.0)


def test_rotation_scales_follow_the_levers(anny, layer64):
    kp = np.random.default_rng(0).normal(size=(5, 25, 3))
    data = prepare_data(layer64, kp, np.ones((5, 25)), 30.0)
    root, body = rotation_scales(layer64, initial_params(layer64, data), data)
    s = dict(zip(anny.fitted[1:], body.flatten().tolist()))
    by = {anny.canonical[n]: v for n, v in s.items()}
    assert float(root) < by["left_hip"] < by["left_knee"] < by["left_ankle"]
    assert by["left_shoulder"] < by["left_elbow"]
    assert by["left_wrist"] == pytest.approx(20.0)             # carries no keypoint: 5 cm lever
    assert by["left_knee"] == pytest.approx(by["right_knee"])


@pytest.mark.slow
def test_noise_free_bend_recovers_the_pelvis_and_the_hips(anny):
    """Keypoints cannot tell the pelvis's tilt from the spine's bend; with the rhythm and the
    spine's coupling as priors, a studio actor (individual scale within 10 % of the
    population's) is fitted within two degrees at the hips."""
    _, _, flex = fit_noise_free(anny, "bend_and_reach", 90, seed=6)
    assert flex["hip"] < 2.0          # 1.11 measured; 5.52 without the two trunk priors
    assert flex["elbow"] < 1.5 and flex["knee"] < 1.0     # 0.76 and 0.47
