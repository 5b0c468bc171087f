"""Foot contact detection against the true contacts of a studio walk whose feet do not slide."""
from __future__ import annotations

import numpy as np
import pytest
from anim_scenes import planted_walk

from mocap.errors import MocapError
from mocap.export.contacts import (CONTACT_COLUMNS, ContactOptions, clean_runs, contact_intervals,
                                   detect_contacts, foot_points, read_contacts_csv, write_contacts_csv)
from mocap.simulate.footfalls import true_contacts


def _precision_recall(found: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    hit = (found & truth).sum()
    return hit / max(found.sum(), 1), hit / max(truth.sum(), 1)


@pytest.mark.parametrize("seed", [4, 7])
def test_contacts_of_a_studio_walk_match_the_truth(seed):
    xyz, gt, names, fps = planted_walk(seed)
    truth = true_contacts(gt, names, fps)
    found = detect_contacts(xyz, names, fps, ContactOptions(0.04, 0.3, 0.05)).flags
    for col in ("left_toe", "right_toe", "left_foot", "right_foot"):
        k = CONTACT_COLUMNS.index(col)
        precision, recall = _precision_recall(found[:, k], truth[:, k])
        assert precision >= 0.85 and recall >= 0.8, (col, precision, recall)
    # a walk: each foot touches down at least twice, never both feet in the air for long
    for col in ("left_foot", "right_foot"):
        assert len(contact_intervals(found[:, CONTACT_COLUMNS.index(col)])) >= 2


def test_hysteresis_and_minimum_length():
    fps = 30.0
    xyz = np.zeros((40, 2, 3))
    xyz[:, 1] = [0.2, 0.0, 0.0]
    z = np.full(40, 0.20)
    z[5:20] = 0.0          # a contact of 15 frames
    z[12] = 0.05           # noise above the threshold, under 1.5 x: the contact holds
    z[30] = 0.0            # one frame: dropped (shorter than 0.1 s)
    xyz[:, :, 2] = z[:, None]
    found = detect_contacts(xyz, ("left_ankle", "right_ankle"), fps, ContactOptions(0.04, 0.3, 0.1)).flags
    heel = found[:, CONTACT_COLUMNS.index("left_heel")]
    # one contact, held through the noisy frame; its ends lose the frames whose speed over
    # +-0.05 s sees the (unphysical) 20 cm jump
    (start, stop), = contact_intervals(heel)
    assert 5 <= start <= 7 and 18 <= stop <= 20
    assert np.array_equal(found[:, CONTACT_COLUMNS.index("left_foot")], heel)


def test_clean_runs_closes_short_gaps_then_drops_short_runs():
    flags = np.array([1, 1, 1, 0, 1, 1, 0, 0, 0, 0, 1, 0, 0], bool)
    assert contact_intervals(clean_runs(flags, 2)) == [(0, 6)]


def test_foot_points_fall_back_to_ankles_and_body_feet():
    points = foot_points(("pelvis", "left_ankle", "left_foot", "right_ankle"))
    assert points == {"left_heel": (1,), "left_toe": (2,), "right_heel": (3,), "right_toe": (3,)}
    with pytest.raises(MocapError, match="right_heel or right_ankle"):
        foot_points(("left_ankle",))


def test_csv_round_trip(tmp_path):
    xyz, _, names, fps = planted_walk(4)
    contacts = detect_contacts(xyz, names, fps)
    path = tmp_path / "person0" / "contacts.csv"
    write_contacts_csv(path, contacts)
    lines = path.read_text().splitlines()
    assert lines[0] == "frame,time_s," + ",".join(CONTACT_COLUMNS)
    assert len(lines) == len(xyz) + 1
    assert np.array_equal(read_contacts_csv(path), contacts.flags)
    path.write_text("frame,time\n")
    with pytest.raises(MocapError, match="expected the header"):
        read_contacts_csv(path)
