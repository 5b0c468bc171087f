"""The virtual studio's multi-person scenes: paths, coming and going, occlusion by others,
shuffled detections, and the identity score against the ground truth."""
from __future__ import annotations

import numpy as np
import pytest

from mocap.errors import SimulationError
from mocap.simulate import Actor, Body, ErrorModel, animate, simulate_take
from mocap.simulate.crowd import (crowd_actors, hidden_by_others, scene_names,
                                  score_identities, shuffle_people, simulate_crowd)
from mocap.simulate.motions import path_through_waypoints


def test_waypoint_path_walks_at_the_given_speed():
    t = np.arange(0, 6, 1 / 30)
    xy, heading = path_through_waypoints(t, [(0, 0), (2, 0), (2, 2)], 1.0, start_s=1.0)
    assert np.allclose(xy[t <= 1.0], 0.0)                              # waits, then walks
    speed = np.linalg.norm(np.diff(xy, axis=0), axis=-1) * 30
    moving = (t[1:] > 1.05) & (t[1:] < 4.95)
    assert np.allclose(speed[moving], 1.0, atol=1e-6)
    assert np.allclose(xy[t >= 5.0], [2, 2])                           # stops at the end
    assert np.allclose(heading[(t > 1.5) & (t < 2.5)], 0.0)            # along +x
    assert np.allclose(heading[(t > 3.6) & (t < 4.9)], np.pi / 2)      # then along +y
    with pytest.raises(SimulationError, match="repeat a point"):
        path_through_waypoints(t, [(0, 0), (0, 0)], 1.0)


def test_animate_follows_waypoints_with_feet_on_the_floor():
    a = animate(Body(), "walk", 40, 30.0, seed=1, waypoints=[(-1, 0), (1, 0)],
                speed_m_per_s=1.2)
    pelvis = a["joints"][:, 0]
    assert np.allclose(pelvis[:, 1], 0.0, atol=1e-9)
    assert pelvis[-1, 0] - pelvis[0, 0] == pytest.approx(1.2 * 39 / 30, abs=1e-6)
    assert a["landmarks"][..., 2].min() > -1e-6


def test_actor_out_of_the_studio_is_not_seen_and_has_no_truth(studio4):
    actor = Actor("walk", seed=2, active_frames=((5, 10), (15, 20)))
    take = simulate_take(studio4, [actor], 25, 30.0, "body25", ErrorModel.perfect())
    present = np.zeros(25, bool)
    present[5:10] = present[15:20] = True
    assert np.isfinite(take.gt_xyz[present]).all()
    assert np.isnan(take.gt_xyz[~present]).all()
    assert (take.detections.conf[:, ~present] == 0).all()
    assert (take.detections.conf[:, present] > 0).any(-1).all()
    assert actor.present(np.arange(25)).tolist() == present.tolist()


def test_absent_actors_hide_nobody(studio4):
    """An actor standing between a camera and another, but out of the studio, hides nothing."""
    front = dict(motion="stand", seed=1, xy_offset_m=(1.5, 1.5))
    back = Actor("stand", seed=2, xy_offset_m=(-0.5, -0.5))
    t_in = simulate_take(studio4, [Actor(**front), back], 3, 30.0, "body25",
                         ErrorModel.perfect())
    t_out = simulate_take(studio4, [Actor(**front, active_frames=((10, 20),)), back], 3,
                          30.0, "body25", ErrorModel.perfect())
    alone = simulate_take(studio4, [back], 3, 30.0, "body25", ErrorModel.perfect())
    own = alone.truth["cam1"]["hidden"][:, 0]                          # self-occlusion only
    assert (t_in.truth["cam1"]["hidden"][:, 1] & ~own).any()
    assert np.array_equal(t_out.truth["cam1"]["hidden"][:, 1], own)


def test_crossing_people_hide_each_other(studio4, crossing3):
    hidden = hidden_by_others(studio4, crossing3.take)
    assert hidden.any(axis=(0, 2, 3)).mean() > 0.3                     # many frames
    assert 0.01 < hidden.mean() < 0.3                                   # partial occlusion
    # Hidden joints are not detected.
    assert (crossing3.take.detections.conf[hidden] == 0).all()
    gt = crossing3.take.gt_joints[:, :, 0, :2]
    closest = min(np.linalg.norm(gt[:, a] - gt[:, b], axis=-1).min()
                  for a in range(3) for b in range(a + 1, 3))
    assert closest < 0.6                                                # paths really cross


def test_shuffled_detections_keep_their_permutation(crossing3):
    det, truth = crossing3.detections, crossing3.slot_person
    orig = crossing3.take.detections
    C, F, P, J = det.shape
    moved = np.zeros((C, F), int)
    for c in range(C):
        for f in range(F):
            present = (orig.conf[c, f] > 0).any(-1)
            k = truth[c, f]
            assert (k[:present.sum()] >= 0).all() and (k[present.sum():] == -1).all()
            for slot, p in enumerate(k):
                if p >= 0:
                    assert np.array_equal(det.xy[c, f, slot], orig.xy[c, f, p], equal_nan=True)
            moved[c, f] = (k[k >= 0] != np.arange((k >= 0).sum())).any()
    assert moved.mean() > 0.5                                           # really shuffled


def test_shuffle_moves_heatmaps_with_people(studio4):
    take = simulate_take(studio4, crowd_actors("crossing2", 4), 4, 30.0, "coco17",
                         ErrorModel(), seed=1, heatmaps=True, heatmap_size=16)
    det, truth = shuffle_people(take.detections, np.random.default_rng(0))
    c, f, k = np.nonzero(truth >= 0)
    assert np.array_equal(det.heatmaps[c, f, k], take.detections.heatmaps[c, f, truth[c, f, k]])
    assert np.array_equal(det.heatmap_affine[c, f, k],
                          take.detections.heatmap_affine[c, f, truth[c, f, k]])


def test_every_scene_builds(studio4):
    for name in scene_names():
        actors = crowd_actors(name, 30)
        assert 2 <= len(actors) <= 4
    with pytest.raises(SimulationError, match="unknown crowd scene 'mob'"):
        crowd_actors("mob", 30)


def test_score_of_the_truth_is_perfect_and_a_swap_is_counted(crossing3):
    truth = crossing3.slot_person
    perfect = score_identities(truth, crossing3)
    assert perfect.identity_switches == 0 and perfect.identity_swaps == 0
    assert perfect.purity == 1.0 and (perfect.recall == 1.0).all()
    assert (perfect.ids_per_actor == 1).all()
    # Exchange the identities of actors 0 and 1 from frame 60 on: two switches, two swaps.
    swapped = truth.copy()
    late = swapped[:, 60:]
    late[truth[:, 60:] == 0], late[truth[:, 60:] == 1] = 1, 0
    bad = score_identities(swapped, crossing3)
    assert bad.identity_switches == 2 and bad.identity_swaps == 2
    assert (bad.ids_per_actor[:2] == 2).all()
    # Nobody found: zero recall.
    none = score_identities(np.full_like(truth, -1), crossing3)
    assert (none.recall == 0).all()
    with pytest.raises(SimulationError, match="expected"):
        score_identities(truth[:, :10], crossing3)


def test_mostly_hidden_people_are_not_detected(studio4):
    crowd = simulate_crowd(studio4, crowd_actors("crossing3", 40), 40, 30.0, "body25",
                           ErrorModel.perfect(), seed=1, min_visible_frac=0.9)
    seen = (crowd.take.detections.conf > 0).any(-1)
    kept = (crowd.take.detections.conf > 0).sum(-1)
    assert (kept[seen] >= 0.9 * 25).all()
    with pytest.raises(SimulationError, match="min_visible_frac"):
        simulate_crowd(studio4, crowd_actors("crossing2", 5), 5, min_visible_frac=1.5)
