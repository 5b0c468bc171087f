"""walk_planted: the stance foot carries the body (its lowest sole point never slides), the
feet take turns, the body goes forward; the true contacts found in it."""
from __future__ import annotations

import numpy as np

from mocap.export.contacts import CONTACT_COLUMNS, contact_intervals
from mocap.simulate import Body, animate
from mocap.simulate.body import LANDMARK_NAMES, SOLE_LANDMARKS
from mocap.simulate.footfalls import foot_metrics, true_contacts


def test_the_lowest_sole_point_never_slides_and_the_body_walks_on():
    anim = animate(Body(1.75, seed=2), "walk_planted", 90, 30.0, seed=2)
    soles = anim["landmarks"][:, [LANDMARK_NAMES.index(n) for n in SOLE_LANDMARKS]]
    low = soles[:, :, 2].argmin(1)
    frames = np.arange(1, 90)
    slide = np.linalg.norm(soles[frames, low[1:], :2] - soles[frames - 1, low[1:], :2], axis=-1)
    assert slide.max() < 1e-9 and np.abs(soles[:, :, 2].min(1)).max() < 1e-9
    assert np.linalg.norm(anim["root_pos"][-1, :2] - anim["root_pos"][0, :2]) > 3.0      # ~1.5 m/s for 3 s
    assert len(set(np.asarray(SOLE_LANDMARKS)[low].tolist())) >= 4                          # heels and toes, both feet


def test_true_contacts_of_the_planted_walk():
    anim = animate(Body(1.75, seed=2), "walk_planted", 90, 30.0, seed=2)
    names = anim["landmark_names"]
    truth = true_contacts(anim["landmarks"], names, 30.0)
    for side in ("left", "right"):
        runs = contact_intervals(truth[:, CONTACT_COLUMNS.index(f"{side}_foot")])
        assert len(runs) >= 4 and max(stop - start for start, stop in runs) >= 8   # heel strikes, rolls
    metrics = foot_metrics(anim["landmarks"], anim["landmarks"], names, truth, 30.0)
    # the toe point is the mean of two toes: it moves a few millimetres while the foot rolls
    # on the big toe (the lowest point itself never slides: the test above)
    assert metrics.slide_max_mm < 10.0 and metrics.floor_max_mm < 1e-6 and metrics.outside_max_mm == 0.0
