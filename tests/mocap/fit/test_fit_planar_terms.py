"""The fit's loss terms on the frames-last forward pass: the parameters' rotations in that
layout, and every term with the fixed shape's moments made once per stage equal to the terms
made from the shape at each evaluation (values and gradients)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from mocap.body import load_body_model
from mocap.body.regressors import keypoint_layer, shape_moments
from mocap.body.planar import from_planar
from mocap.fit import prepare_data
from mocap.fit.init import initial_params, initial_pose
from mocap.fit.losses import loss_terms
from mocap.fit.optimise import stage_constants
from mocap.fit.options import FitOptions
from mocap.fit.params import rotations, rotations_planar
from mocap.simulate.bodymodel import BodyActor, animate_body, body_keypoints

D = dict(dtype=torch.float64)


@pytest.fixture(scope="module")
def fit_state():
    anny = load_body_model("anny")
    layer = keypoint_layer(anny, "body25", dtype=torch.float64)
    kp = body_keypoints(anny, animate_body(anny, BodyActor("walk", seed=2), 8, 30.0), "body25")
    data = prepare_data(layer, kp, np.ones(kp.shape[:2]), 30.0, None)
    params = initial_params(layer, data)
    initial_pose(layer, data, params)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        params.body_pose.add_(0.2 * torch.randn(params.body_pose.shape, generator=g, **D))
        params.global_orient.add_(0.1 * torch.randn(params.global_orient.shape, generator=g,
                                                    **D))
    return layer, data, params


def test_rotations_planar_are_the_rotations(fit_state):
    _, _, params = fit_state
    torch.testing.assert_close(from_planar(rotations_planar(params), 2), rotations(params),
                               rtol=0, atol=1e-14)


def test_terms_with_the_shape_fixed_equal_the_terms_made_each_time(fit_state):
    layer, data, params = fit_state
    consts = {**stage_constants(layer, FitOptions()), "torso_only": False,
              "extended_only": False}
    weights = {k: 1.0 for k in ("keypoints", "smooth", "lumbopelvic", "pose_prior",
                                "joint_limits", "spine_coupling")}
    out = []
    for moments in (None, shape_moments(layer, params.betas)):
        p = params.copy()
        p.body_pose.requires_grad_(True)
        c = consts if moments is None else {**consts, "moments": moments}
        terms = loss_terms(layer, p, data, c, weights)
        sum(terms.values()).backward()
        out.append(({k: float(v.detach()) for k, v in terms.items()}, p.body_pose.grad))
    (t0, g0), (t1, g1) = out
    assert t0 == pytest.approx(t1, rel=1e-12) and t0["keypoints"] > 0
    torch.testing.assert_close(g1, g0, rtol=1e-10, atol=1e-12)
