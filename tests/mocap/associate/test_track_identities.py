"""Stable identities over time: crossing, occlusion, leaving and coming back, main subject."""
from __future__ import annotations

import numpy as np
import pytest

from mocap.errors import AssociationError
from mocap.settings import AssociateSettings
from mocap.simulate import ErrorModel
from mocap.simulate.crowd import crowd_actors, score_identities, simulate_crowd
from mocap.associate import (Identities, detections_by_identity, identify_people, link_frames,
                             rig_aim_point, stitch_tracklets)
from mocap.associate.tracklets import _Tracklet
from mocap.triangulate import select_main_person, triangulate


def test_three_people_crossing_keep_their_identities(studio4, crossing3):
    det, ids = identify_people(crossing3.detections, studio4)
    score = score_identities(ids.slot_identity, crossing3)
    assert ids.num_people == 3 and det.shape[2] == 3
    assert score.identity_switches == 0 and score.identity_swaps == 0
    assert (score.recall >= 0.98).all()
    assert (score.ids_per_actor == 1).all()
    assert score.purity > 0.995
    # The detections' P axis is the identity: triangulated, each is its actor.
    pts = triangulate(det, studio4)
    for p in range(3):
        t = np.bincount(score.identity_of[:, p][score.identity_of[:, p] >= 0]).argmax()
        err = np.nanmean(np.linalg.norm(pts.xyz[:, t] - crossing3.gt_xyz[:, p], axis=-1))
        assert err < 0.02


def test_leaving_and_coming_back_keeps_the_identity(studio4, crowd4):
    """crowd4: actor 2 enters at frame 40, actor 3 leaves at 40 and comes back at 80."""
    _, ids = identify_people(crowd4.detections, studio4)
    score = score_identities(ids.slot_identity, crowd4)
    assert ids.num_people == 4
    assert (score.ids_per_actor == 1).all()
    assert score.identity_switches == 0 and score.identity_swaps == 0
    assert (score.recall >= 0.98).all()
    back = score.identity_of[:, 3]
    assert (back[40:80] == -1).all() and back[90] == back[10] >= 0
    assert (score.identity_of[:40, 2] == -1).all()


def test_reidentification_needs_matching_body_proportions(studio4, crowd4):
    """With a bone tolerance too tight to match anyone, the returning actor gets a new
    identity (the joining is not done on position alone after a long absence)."""
    strict = AssociateSettings(reid_bone_tolerance=1e-4)
    _, ids = identify_people(crowd4.detections, studio4, strict)
    score = score_identities(ids.slot_identity, crowd4)
    assert score.ids_per_actor[3] == 2
    assert score.identity_switches >= 1


def test_max_people_keeps_the_best_observed(studio4, crowd4):
    _, ids = identify_people(crowd4.detections, studio4, AssociateSettings(max_people=2))
    score = score_identities(ids.slot_identity, crowd4)
    assert ids.num_people == 2
    assert sorted(np.flatnonzero(score.ids_per_actor)) == [0, 1]      # in the take all along


def test_main_subject_is_the_actor_not_the_bystander(studio4):
    crowd = simulate_crowd(studio4, crowd_actors("bystander", 60), 60, 30.0, "body25",
                           ErrorModel(), seed=4)
    det, ids = identify_people(crowd.detections, studio4,
                               AssociateSettings(mode="main_subject"))
    assert ids.num_people == 1 and det.shape[2] == 1
    score = score_identities(ids.slot_identity, crowd)
    assert (score.identity_of[:, 0] == 0).all()
    assert (score.identity_of[:, 1] == -1).all()
    pts = triangulate(det, studio4)
    err = np.nanmedian(np.linalg.norm(pts.xyz[:, 0] - crowd.gt_xyz[:, 0], axis=-1), axis=-1)
    assert (err < 0.03).all()
    # The scene is a real test: the largest skeleton per view is often the bystander.
    big = triangulate(select_main_person(crowd.detections), studio4)
    err_big = np.nanmedian(np.linalg.norm(big.xyz[:, 0] - crowd.gt_xyz[:, 0], axis=-1), -1)
    assert (err_big > 0.3).sum() > 10


def test_main_subject_needs_the_rig(studio4, crossing3):
    from mocap.associate import associate_take
    from mocap.associate import track_people
    assoc = associate_take(crossing3.detections, studio4)
    with pytest.raises(AssociationError, match="main_subject.*needs the rig"):
        track_people(assoc, 30.0, AssociateSettings(mode="main_subject"),
                     np.zeros((0, 2), int), None)


def test_aim_point_of_the_studio_is_its_target(studio4):
    assert np.allclose(rig_aim_point(studio4), [0.0, 0.0, 1.0], atol=1e-9)


def test_link_frames_follows_two_people_through_a_crossing_and_a_gap():
    """Two people walking towards each other along x, passing 0.5 m apart, each missing
    for 4 frames at the crossing; constant velocity prediction keeps them apart."""
    F, J = 60, 6
    t = np.arange(F)
    base = np.random.default_rng(0).normal(0, 0.2, (J, 3))
    a = np.stack([-1.5 + 0.05 * t, np.full(F, 0.25), np.zeros(F)], -1)
    b = np.stack([1.5 - 0.05 * t, np.full(F, -0.25), np.zeros(F)], -1)
    xyz = np.full((F, 2, J, 3), np.nan)
    order = t % 2 == 0                                                  # groups swap places
    xyz[:, 0] = np.where(order[:, None, None], a[:, None] + base, b[:, None] + base)
    xyz[:, 1] = np.where(order[:, None, None], b[:, None] + base, a[:, None] + base)
    live = np.ones((F, 2), bool)
    live[28:32] = False
    tr = link_frames(xyz, live, 30.0, AssociateSettings())
    who = np.where(order[:, None], [[0, 1]], [[1, 0]])                # actor of each group
    ok = live
    pairs = {(int(w), int(k)) for w, k in zip(who[ok], tr[ok])}
    assert len(pairs) == 2 and len({k for _, k in pairs}) == 2
    assert (tr[~live] == -1).all()


def _tracklet(first, last, start, end, sig):
    return _Tracklet(first, last, np.array(start, float), np.array(end, float),
                     np.array(sig, float))


def test_stitching_joins_by_position_and_body_and_is_global():
    s = AssociateSettings()
    tall = [0.45, 0.44, 0.30, 0.28, 0.40]
    short = [0.40, 0.39, 0.27, 0.25, 0.36]
    tracks = [_tracklet(0, 50, [0, 0, 1], [1, 0, 1], tall),             # A, leaves at 50
              _tracklet(0, 50, [0, 2, 1], [1, 2, 1], short),            # B, leaves at 50
              _tracklet(120, 200, [1.1, 2, 1], [0, 0, 1], tall),        # A back, near B's exit
              _tracklet(120, 200, [1.1, 0, 1], [0, 2, 1], short)]       # B back, near A's exit
    ident = stitch_tracklets(tracks, 30.0, s)
    assert ident[0] == ident[2] and ident[1] == ident[3] and ident[0] != ident[1]
    # Too far to have walked there: not joined.
    far = [_tracklet(0, 10, [0, 0, 1], [0, 0, 1], tall),
           _tracklet(12, 30, [9, 0, 1], [9, 0, 1], tall)]
    assert len(set(stitch_tracklets(far, 30.0, s))) == 2
    # Overlapping in time: never one person.
    both = [_tracklet(0, 40, [0, 0, 1], [0, 0, 1], tall),
            _tracklet(30, 60, [0, 0, 1], [0, 0, 1], tall)]
    assert len(set(stitch_tracklets(both, 30.0, s))) == 2


def test_short_spurious_tracks_are_dropped(studio4, clean_take):
    """A ghost seen by two cameras for 3 frames is not a person."""
    det = clean_take.detections
    C, F, P, J = det.shape
    xy = np.concatenate([det.xy, np.full((C, F, 1, J, 2), np.nan)], 2)
    conf = np.concatenate([det.conf, np.zeros((C, F, 1, J), np.float32)], 2)
    ghost = clean_take.gt_xyz[20:23, 0] + np.array([1.5, -1.5, 0.0])
    for c in (0, 1):
        xy[c, 20:23, 1] = studio4[c].project(ghost)
        conf[c, 20:23, 1] = 0.9
    out, ids = identify_people(det.replace(xy=xy, conf=conf), studio4)
    assert ids.num_people == 1
    assert (ids.slot_identity[:, 20:23, 1] == -1).all()
    assert np.array_equal(out.xy[:, :, 0], det.xy[:, :, 0], equal_nan=True)


def test_detections_by_identity_undoes_the_shuffle(crossing3):
    det = detections_by_identity(crossing3.detections, crossing3.slot_person, 3)
    orig = crossing3.take.detections
    assert np.array_equal(det.xy, orig.xy, equal_nan=True)
    assert np.array_equal(det.conf, orig.conf)


def test_mode_off_keeps_the_detector_order(studio4, crossing3):
    out, ids = identify_people(crossing3.detections, studio4, AssociateSettings(mode="off"))
    assert out is crossing3.detections
    assert ids.num_people == 3 and ids.mode == "off"


def test_nobody_seen_twice_is_an_error(studio4, clean_take):
    det = clean_take.detections
    conf = det.conf.copy()
    conf[1:] = 0.0
    with pytest.raises(AssociationError, match="no person was seen by two or more"):
        identify_people(det.replace(conf=conf), studio4)


def test_identities_file_round_trip(studio4, crossing3, tmp_path):
    _, ids = identify_people(crossing3.detections, studio4)
    ids.save(tmp_path / "identities.npz")
    back = Identities.load(tmp_path / "identities.npz")
    assert np.array_equal(back.slot_identity, ids.slot_identity)
    assert back.num_people == ids.num_people and back.mode == ids.mode
    assert np.allclose(back.score, ids.score)
    assert back.camera_names == studio4.names
    from mocap.errors import MocapError
    (tmp_path / "bad.npz").write_bytes(b"nope")
    with pytest.raises(MocapError, match="bad.npz"):
        Identities.load(tmp_path / "bad.npz")
