"""The virtual studio: determinism, a plausible body, the error model does what it says."""
import numpy as np
import pytest

from mocap.errors import SimulationError
from mocap.simulate import (Actor, Body, ErrorModel, animate, load_rig_template, motion_names,
                            simulate_take)
from mocap.simulate.body import LANDMARK_NAMES


def test_simulation_is_deterministic(studio4):
    a = simulate_take(studio4, [Actor("squat", seed=2)], 20, 30.0, "coco17", ErrorModel(), seed=5)
    b = simulate_take(studio4, [Actor("squat", seed=2)], 20, 30.0, "coco17", ErrorModel(), seed=5)
    c = simulate_take(studio4, [Actor("squat", seed=2)], 20, 30.0, "coco17", ErrorModel(), seed=6)
    assert np.array_equal(a.detections.xy, b.detections.xy, equal_nan=True)
    assert np.array_equal(a.gt_xyz, b.gt_xyz)
    assert not np.array_equal(a.detections.xy, c.detections.xy, equal_nan=True)


@pytest.mark.parametrize("height", [1.5, 1.75, 1.95])
def test_body_height_is_exact(height):
    body = Body(height_m=height, seed=4)
    a = animate(body, "turn", 1, 30.0, seed=0)   # first frame of a turn: standing straight
    top = a["landmarks"][0, LANDMARK_NAMES.index("head_top"), 2]
    assert abs(top - height) < 0.01


@pytest.mark.parametrize("motion", motion_names())
def test_motions_stay_on_the_floor_with_constant_bones(motion):
    body = Body(1.75, seed=1)
    a = animate(body, motion, 90, 30.0, seed=3)
    soles = [LANDMARK_NAMES.index(n) for n in ("left_heel", "right_heel", "left_big_toe",
                                                 "right_big_toe")]
    lowest = a["landmarks"][:, soles, 2].min(1)
    assert lowest.min() > -1e-9 and np.median(lowest) < 0.03
    j = a["joints"]
    bones = np.linalg.norm(j[:, 1:] - j[:, body.parents[1:]], axis=-1)
    assert np.ptp(bones, axis=0).max() < 1e-9
    assert np.isfinite(j).all() and np.abs(j[..., :2]).max() < 3.0


def test_unknown_motion_is_a_clear_error():
    with pytest.raises(SimulationError, match="unknown motion 'moonwalk'.*walk"):
        animate(Body(), "moonwalk", 10, 30.0)


def test_perfect_detector_reports_exact_projections(studio4, clean_take):
    det = clean_take.detections
    uv = studio4.project(clean_take.gt_xyz)                     # (C, F, P, J, 2)
    seen = det.conf > 0
    assert seen.mean() > 0.95
    assert np.abs(det.xy[seen] - uv[seen]).max() < 1e-9


def test_error_model_rates_and_confidence(studio4):
    model = ErrorModel(outlier_rate=0.05, swap_rate=0.05, missing_frame_rate=0.05)
    take = simulate_take(studio4, [Actor("jumping_jacks", seed=0)], 200, 30.0, "body25", model,
                         seed=1)
    outl = np.mean([t["outlier"].mean() for t in take.truth.values()])
    swap = np.mean([t["swapped"].mean() for t in take.truth.values()])
    miss = np.mean([t["missing"].mean() for t in take.truth.values()])
    assert 0.03 < outl < 0.07 and 0.025 < swap < 0.08 and 0.025 < miss < 0.08
    # confidence is correlated with error on ordinary (non-outlier, non-swapped) detections
    det = take.detections
    uv = studio4.project(take.gt_xyz)
    err = np.linalg.norm(det.xy - uv, axis=-1)
    ok = np.isfinite(err)
    for c, name in enumerate(det.camera_names):
        ok[c] &= ~take.truth[name]["outlier"] & ~take.truth[name]["swapped"][..., None]
    e, k = err[ok], det.conf[ok]
    assert np.corrcoef(e, k)[0, 1] < -0.3
    assert np.median(e) < 6.0


def test_self_occlusion_is_seen_from_the_side(studio4):
    take = simulate_take(studio4, [Actor("turn", seed=0)], 60, 30.0, "body25", ErrorModel(),
                         seed=0)
    hidden = np.mean([t["hidden"].mean() for t in take.truth.values()])
    assert 0.03 < hidden < 0.5


def test_camera_offsets_shift_time(studio4):
    a = simulate_take(studio4, [Actor("walk", seed=0)], 30, 30.0, "body25", ErrorModel.perfect(),
                      camera_offsets=[0, 3, 0, 0])
    b = simulate_take(studio4, [Actor("walk", seed=0)], 30, 30.0, "body25", ErrorModel.perfect())
    # camera 1 at frame f shows reference frame f + 3
    xa, xb = a.detections.xy[1, :27], b.detections.xy[1, 3:30]
    ok = np.isfinite(xa) & np.isfinite(xb)
    assert np.abs(xa[ok] - xb[ok]).max() < 1e-9


def test_heatmaps_peak_at_the_detection(noisy_take):
    det = noisy_take.detections
    C, F, P, J = det.shape
    hm = det.heatmaps.astype(np.float32)
    flat = hm.reshape(C, F, P, J, -1)
    k = flat.argmax(-1)
    v, u = np.unravel_index(k, hm.shape[-2:])
    A = det.heatmap_affine[:, :, :, None]                        # (C, F, P, 1, 2, 3)
    px = A[..., 0] * u[..., None] + A[..., 1] * v[..., None] + A[..., 2]
    seen = det.conf > 0.3
    cell = det.heatmap_affine[..., 0, 0][..., None] * np.ones(J)
    d = np.linalg.norm(px - det.xy, axis=-1)
    assert np.median(d[seen] / cell[seen]) < 0.75
    assert (flat.max(-1)[det.conf == 0] == 0).all()


@pytest.mark.parametrize("name", ["studio4", "lab8", "dome16", "living_room3"])
def test_rig_templates_see_the_volume_centre(name):
    rig = load_rig_template(name)
    uv = rig.project(np.array([0.0, 0.0, 1.0]))
    for cam, p in zip(rig, uv):
        w, h = cam.size_wh
        assert 0 < p[0] < w and 0 < p[1] < h


def test_unknown_rig_template_lists_the_known_ones():
    with pytest.raises(SimulationError, match="not found.*studio4"):
        load_rig_template("nope")
