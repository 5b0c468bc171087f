"""The sequence fit on studio takes of the body model itself (ground truth for keypoints,
joint rotations and shape), through triangulation and filtering as in ``mocap run``; exact
recovery from noise-free keypoints; gaps; bad input; the stage in the pipeline and the CLI."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from body_scenes import write_smpl_folder
from mocap.body import BodyMotion, FitError, keypoint_layer, load_body_model, rest_height
from mocap.body.metrics import flexion_rms_deg, keypoint_mpjpe_mm, rotation_error_deg
from mocap.app.cli import main as cli
from mocap.fit import fit_sequence, prepare_data, torch_threads, views_from
from mocap.filter import filter_points
from mocap.settings import Settings
from mocap.simulate import ErrorModel, load_rig_template
from mocap.app.studio import write_body_session
from mocap.simulate.bodymodel import BodyActor, animate_body, body_keypoints, simulate_body_take
from mocap.triangulate import triangulate


@pytest.fixture(scope="module")
def smpl_dir(tmp_path_factory):
    return write_smpl_folder(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def smpl(smpl_dir):
    return load_body_model("smpl", smpl_dir)


def _errors(model, res, take, heights, betas):
    gt_R = np.concatenate([take.gt_root_R[:, 0, None], take.gt_local_R[:, 0]], 1)
    flex = flexion_rms_deg(model, res.joints, res.rotations[:, 0], take.gt_joints[:, 0],
                           take.gt_root_R[:, 0])
    return {"mpjpe_mm": keypoint_mpjpe_mm(res.keypoints, take.gt_xyz[:, 0]),
            "rot_deg": float(rotation_error_deg(res.rotations, gt_R).mean()),
            "height_mm": 1000 * abs(rest_height(model, res.betas) - heights[0]), **flex}


def _anny_take_errors(motion: str, frames: int = 90, views: bool = False,
                      seed: int = 1) -> tuple[dict, object]:
    anny = load_body_model("anny")
    rig = load_rig_template("studio4")
    bt = simulate_body_take(rig, anny, [BodyActor(motion, seed=seed)], frames, 30.0, "body25",
                            ErrorModel(), seed=seed + 2)
    s = Settings()
    points = filter_points(triangulate(bt.take.detections, rig, s.triangulate), s.filter, rig)
    with torch_threads(1):
        layer = keypoint_layer(anny, "body25")
        v = views_from(bt.take.detections, rig, 0, "body25", layer.device, layer.dtype) \
            if views else None
        extra = {"reprojection": s.fit.reprojection_weight} if views else None
        res = fit_sequence(layer, prepare_data(layer, points.xyz[:, 0], points.conf[:, 0], 30,
                                               v), extra_weights=extra)
    return _errors(anny, res, bt.take, bt.heights_m, bt.betas), res


@pytest.mark.slow
@pytest.mark.parametrize("motion", ["walk", "jumping_jacks"])
def test_anny_studio_take_meets_the_targets(motion):
    """The issue's targets on a studio take of Anny: keypoints < 15 mm, joint rotations < 5
    deg, knee/hip/elbow flexion RMS < 3 deg, height within 1 cm."""
    e, res = _anny_take_errors(motion)
    assert e["mpjpe_mm"] < 15.0, e
    assert e["rot_deg"] < 5.0, e
    assert max(e["knee"], e["hip"], e["elbow"]) < 3.0, e
    assert e["height_mm"] < 10.0, e
    assert res.observed.all() and [r["stage"] for r in res.report] == [
        "shape", "shape_orient", "body_pose", "refine"]


@pytest.mark.slow
def test_anny_deep_squat_within_known_bounds():
    """A deep squat (knees to 120 deg, trunk bent 35 deg): keypoints and rotations meet the
    targets; the pelvis tilt is barely observable from BODY_25 (two hip points), so hip
    flexion and height are looser (regression bounds, see benchmarks/fitting.py; this take
    gives hip 4.2 deg and height 12.5 mm)."""
    e, _ = _anny_take_errors("squat")
    assert e["mpjpe_mm"] < 15.0, e
    assert e["rot_deg"] < 5.0, e
    assert e["knee"] < 3.0 and e["elbow"] < 3.0, e
    assert e["hip"] < 5.0, e
    assert e["height_mm"] < 16.0, e


@pytest.mark.slow
def test_the_detections_bring_back_what_the_filter_rounds_off():
    """A jog (knees to 95 deg at 1.4 strides/s): the low-pass filter rounds the knee's peaks
    off; the default 2D reprojection term brings them back. On this take
    (90 frames) knee flexion RMS goes 6.55 -> 4.60 deg and MPJPE 15.5 -> 10.2 mm (the
    benchmark's 150-frame jog: 3.05 -> 1.93 deg); the bounds leave a margin."""
    plain, _ = _anny_take_errors("jog_circle", seed=2)
    e, res = _anny_take_errors("jog_circle", views=True, seed=2)
    assert e["knee"] < 0.8 * plain["knee"] and e["mpjpe_mm"] < 0.8 * plain["mpjpe_mm"], (plain, e)
    assert e["mpjpe_mm"] < 12.0 and e["knee"] < 5.5, e
    assert all("reprojection" in r["losses"] for r in res.report[1:])


def test_noise_free_keypoints_are_recovered(smpl):
    anim = animate_body(smpl, BodyActor("jumping_jacks", seed=4), 40, 30.0)
    kp = body_keypoints(smpl, anim, "body25")
    with torch_threads(1):
        layer = keypoint_layer(smpl, "body25", dtype=torch.float64)
        res = fit_sequence(layer, prepare_data(layer, kp, np.ones(kp.shape[:2]), 30.0))
    assert keypoint_mpjpe_mm(res.keypoints, kp) < 3.0
    assert rotation_error_deg(res.rotations, anim["rotations"]).mean() < 3.0
    assert abs(rest_height(smpl, res.betas) - rest_height(smpl, anim["betas"])) < 0.01


def test_gaps_are_bridged_and_flagged(smpl):
    anim = animate_body(smpl, BodyActor("walk", seed=5), 40, 30.0)
    kp = body_keypoints(smpl, anim, "coco17")
    obs = kp + np.random.default_rng(0).normal(0, 0.005, kp.shape)
    conf = np.ones(kp.shape[:2])
    obs[18:22] = np.nan                     # the person vanishes for 4 frames
    conf[18:22] = 0.0
    obs[5:30, 9] = np.nan                   # the left wrist is lost for a while
    with torch_threads(1):
        layer = keypoint_layer(smpl, "coco17")
        res = fit_sequence(layer, prepare_data(layer, obs, conf, 30.0), iteration_scale=0.5)
    assert np.isfinite(res.keypoints).all() and np.isfinite(res.rotations).all()
    assert not res.observed[18:22].any() and res.observed[:18].all()
    assert keypoint_mpjpe_mm(res.keypoints[18:22], kp[18:22]) < 30.0
    assert keypoint_mpjpe_mm(res.keypoints, kp) < 15.0


def test_the_fit_is_deterministic(smpl):
    anim = animate_body(smpl, BodyActor("turn", seed=6), 20, 30.0)
    kp = body_keypoints(smpl, anim, "coco17")
    conf = np.ones(kp.shape[:2])
    with torch_threads(1):
        layer = keypoint_layer(smpl, "coco17")
        a = fit_sequence(layer, prepare_data(layer, kp, conf, 30.0), iteration_scale=0.3)
        b = fit_sequence(layer, prepare_data(layer, kp, conf, 30.0), iteration_scale=0.3)
    np.testing.assert_array_equal(a.rotations, b.rotations)
    np.testing.assert_array_equal(a.betas, b.betas)


def test_bad_input_raises(smpl):
    layer = keypoint_layer(smpl, "coco17")
    with pytest.raises(FitError, match=r"\(F, 17, 3\)"):
        prepare_data(layer, np.zeros((5, 25, 3)), np.ones((5, 25)), 30.0)
    with pytest.raises(FitError, match="was ever observed"):
        prepare_data(layer, np.full((5, 17, 3), np.nan), np.zeros((5, 17)), 30.0)


def test_reprojection_term_fits_the_detections(smpl):
    rig = load_rig_template("studio4")
    bt = simulate_body_take(rig, smpl, [BodyActor("walk", seed=2)], 20, 30.0, "coco17",
                            ErrorModel.perfect(), seed=1)
    from mocap.fit import views_from
    with torch_threads(1):
        layer = keypoint_layer(smpl, "coco17")
        views = views_from(bt.take.detections, rig, 0, "coco17", layer.device, layer.dtype)
        kp = bt.take.gt_xyz[:, 0] + np.random.default_rng(1).normal(0, 0.01, (20, 17, 3))
        data = prepare_data(layer, kp, np.ones((20, 17)), 30.0, views)
        plain = fit_sequence(layer, data, iteration_scale=0.5)
        both = fit_sequence(layer, data, iteration_scale=0.5, extra_weights={"reprojection": 1.0})
        from dataclasses import replace

        from mocap.fit import DEFAULT_STAGES
        last_only = [replace(st, reprojection=st is DEFAULT_STAGES[-1]) for st in DEFAULT_STAGES]
        late = fit_sequence(layer, data, last_only, iteration_scale=0.2,
                            extra_weights={"reprojection": 1.0, "floor": 0.5})
    assert "reprojection" in both.report[-1]["losses"]
    assert ["reprojection" in r["losses"] for r in late.report] == [False, False, False, True]
    assert all("floor" in r["losses"] for r in late.report[1:])
    gt = bt.take.gt_xyz[:, 0]
    assert keypoint_mpjpe_mm(both.keypoints, gt) < keypoint_mpjpe_mm(plain.keypoints, gt)


@pytest.mark.slow
def test_pipeline_and_cli_fit_bodies(tmp_path, smpl, smpl_dir):
    """``mocap run`` fits Anny by default; ``mocap fit --model-path`` fits SMPL; a missing
    model path is a one-line error."""
    rig = load_rig_template("studio4")
    bt = simulate_body_take(rig, smpl, [BodyActor("walk", seed=3)], 30, 30.0, "body25",
                            ErrorModel(), seed=2)
    session = write_body_session(tmp_path / "s", rig, bt,
                                 settings={"export": {"formats": ["bvh"]},
                                           "fit": {"iteration_scale": 0.5}})
    assert cli(["-q", "run", str(session)]) == 0
    manifest = json.loads((session / "out" / "manifest.json").read_text())
    assert manifest["people"][0]["body"] == "person0/body.npz"
    anny_body = BodyMotion.load(session / "out" / "person0" / "body.npz")
    assert anny_body.surface_model_type == "anny" and anny_body.poses.shape == (30, 104, 3)
    assert cli(["-q", "fit", str(session), "--model-path", str(smpl_dir), "--meshes", "obj",
                "--mesh-every", "10", "--iteration-scale", "0.5"]) == 0
    body = BodyMotion.load(session / "out" / "person0" / "body.npz")
    assert body.surface_model_type == "smpl" and body.poses.shape == (30, 24, 3)
    assert len(list((session / "out" / "person0" / "meshes").glob("*.obj"))) == 3
    assert keypoint_mpjpe_mm(body.keypoints, bt.take.gt_xyz[:, 0]) < 15.0
    assert abs(rest_height(smpl, body.betas) - bt.heights_m[0]) < 0.02
    manifest = json.loads((session / "out" / "manifest.json").read_text())
    assert "person0.bvh" in manifest["people"][0]["files"]
    assert cli(["fit", str(session), "--model-path", str(tmp_path / "nowhere")]) == 2
