"""Cross-view association on studio scenes with several people (detections shuffled per camera
and frame, as a detector reports them)."""
from __future__ import annotations

import numpy as np
import pytest

from mocap.associate import associate_take
from mocap.settings import AssociateSettings
from mocap.simulate import Actor, ErrorModel, simulate_take
from mocap.simulate.crowd import crowd_actors, shuffle_people, simulate_crowd


def _group_people(assoc, slot_person):
    """(F, G, C) actor of each group member (-2 where no member)."""
    F, G, C = assoc.slots.shape
    c = np.arange(C)[None, None, :]
    f = np.arange(F)[:, None, None]
    who = slot_person[c, f, np.maximum(assoc.slots, 0)]
    return np.where(assoc.slots >= 0, who, -2)


def _purity(assoc, slot_person) -> float:
    who = _group_people(assoc, slot_person)
    good = total = 0
    for f in range(who.shape[0]):
        for g in range(who.shape[1]):
            m = who[f, g][who[f, g] != -2]
            if len(m):
                good += np.bincount(m[m >= 0]).max() if (m >= 0).any() else 0
                total += len(m)
    return good / total


def test_three_people_crossing_are_associated_in_every_frame(studio4, crossing3):
    assoc = associate_take(crossing3.detections, studio4)
    assert _purity(assoc, crossing3.slot_person) > 0.995
    who = _group_people(assoc, crossing3.slot_person)
    visible = crossing3.views_seen >= 2                                # (F, P)
    for p in range(3):
        found = ((who == p).sum(-1) >= 2).any(-1)                      # (F,)
        assert (found & visible[:, p]).sum() >= 0.98 * visible[:, p].sum()
    # Each group: 2+ views, and its rough 3D pose is the actor's (association joints).
    live = assoc.num_views >= 2
    assert ((assoc.num_views == 0) | live).all()
    f, g = np.nonzero(live)
    actor = np.array([np.bincount(w[w >= 0]).argmax() for w in who[f, g]])
    gt = crossing3.gt_xyz[f, actor][:, assoc.joints]
    err = np.nanmedian(np.linalg.norm(assoc.xyz[f, g] - gt, axis=-1))
    assert err < 0.03


def test_association_does_not_depend_on_the_detector_order(studio4, crossing3):
    """Shuffling the skeletons again gives the same people (up to group order)."""
    det2, perm2 = shuffle_people(crossing3.take.detections, np.random.default_rng(99))
    a1 = associate_take(crossing3.detections, studio4)
    a2 = associate_take(det2, studio4)
    who1 = _group_people(a1, crossing3.slot_person)
    who2 = _group_people(a2, perm2)
    for f in range(crossing3.detections.num_frames):
        # Each group as "actor seen in camera c" per camera, compared as sets of groups.
        g1 = sorted(tuple(r) for r in who1[f] if (r != -2).any())
        g2 = sorted(tuple(r) for r in who2[f] if (r != -2).any())
        assert g1 == g2, f


def test_a_person_seen_by_two_cameras_only(studio4):
    """Two cameras, two people crossing: both found from the one camera pair."""
    rig = studio4.subset(["cam1", "cam2"])
    crowd = simulate_crowd(rig, crowd_actors("crossing2", 60), 60, 30.0, "body25",
                           ErrorModel(), seed=3)
    assoc = associate_take(crowd.detections, rig)
    who = _group_people(assoc, crowd.slot_person)
    assert _purity(assoc, crowd.slot_person) == 1.0
    for p in range(2):
        both = crowd.views_seen[:, p] == 2
        found = ((who == p).sum(-1) == 2).any(-1)
        assert both.sum() > 40
        assert (found & both).sum() >= 0.98 * both.sum()


def test_noise_free_single_person_is_recovered_exactly(studio4, clean_take):
    assoc = associate_take(clean_take.detections, studio4)
    assert (assoc.num_views[:, 0] == 4).all()
    assert (assoc.slots[:, 0] == 0).all()
    gt = clean_take.gt_xyz[:, 0][:, assoc.joints]
    assert np.nanmax(np.linalg.norm(assoc.xyz[:, 0] - gt, axis=-1)) < 1e-6
    assert np.nanmax(assoc.residual_m[:, 0]) < 1e-6


def test_a_left_right_mirrored_view_is_kept_and_flagged(studio4, clean_take):
    det = clean_take.detections
    flip = det.keypoint_format.flip_permutation
    xy, conf = det.xy.copy(), det.conf.copy()
    xy[2, 10:20, 0] = xy[2, 10:20, 0][:, flip]
    conf[2, 10:20, 0] = conf[2, 10:20, 0][:, flip]
    assoc = associate_take(det.replace(xy=xy, conf=conf), studio4)
    assert (assoc.num_views[:, 0] == 4).all()
    assert assoc.flipped[10:20, 0, 2].all()
    assert not assoc.flipped[:10, 0].any() and not assoc.flipped[20:, 0].any()


def test_frames_without_two_views_give_no_people(studio4, clean_take):
    det = clean_take.detections
    conf = det.conf.copy()
    conf[1:, 5] = 0.0                                                   # frame 5: camera 1 only
    conf[:, 6] = 0.0                                                    # frame 6: nobody
    assoc = associate_take(det.replace(conf=conf, xy=np.where(conf[..., None] > 0, det.xy,
                                                              np.nan)), studio4)
    assert (assoc.num_views[5:7] == 0).all()
    assert np.isnan(assoc.xyz[5:7]).all()
    assert (assoc.num_views[7:, 0] == 4).all()


def test_two_people_far_apart_are_never_merged(studio4):
    """Two people on one epipolar plane of a camera pair: the other views keep them apart."""
    actors = [Actor("squat", seed=1, xy_offset_m=(-1.0, -1.0)),
              Actor("squat", seed=2, xy_offset_m=(1.0, 1.0))]                  # cam1-cam3 axis
    take = simulate_take(studio4, actors, 20, 30.0, "body25", ErrorModel(), seed=2)
    det, slot_person = shuffle_people(take.detections, np.random.default_rng(1))
    assoc = associate_take(det, studio4)
    assert _purity(assoc, slot_person) == 1.0
    assert ((assoc.num_views >= 2).sum(-1) == 2).mean() >= 0.95


@pytest.mark.parametrize("fmt", ["coco17", "halpe26"])
def test_other_keypoint_formats(studio4, fmt):
    crowd = simulate_crowd(studio4, crowd_actors("crossing2", 20), 20, 30.0, fmt,
                           ErrorModel(), seed=8)
    assoc = associate_take(crowd.detections, studio4, AssociateSettings())
    assert _purity(assoc, crowd.slot_person) == 1.0
    assert ((assoc.num_views >= 2).sum(-1) == 2).all()
