"""End to end (`mocap run` on a simulated session): a person who walks out of every view and
comes back keeps one identity, beside a second person present all along; the cameras are
synchronous and sync leaves them so (their people come and go)."""
from __future__ import annotations

import json
import warnings

import numpy as np

from mocap.app.pipeline import run
from mocap.app.studio import write_session
from mocap.simulate import Actor, ErrorModel, simulate_take
from mocap.types import Points3D, load_npz

F = 150


def test_a_person_walking_out_of_every_view_and_back_keeps_one_identity(studio4, tmp_path):
    away = Actor("walk", seed=3, xy_offset_m=(0.0, -0.8), active_frames=((0, 45), (95, F)))
    stays = Actor("jog_circle", seed=4, xy_offset_m=(0.5, 1.0))
    take = simulate_take(studio4, [away, stays], F, 30.0, "body25", ErrorModel(), seed=7)
    folder = write_session(tmp_path / "s", studio4, take,
                           {"fit": {"enabled": False}, "export": {"formats": ["trc"]}})
    run(folder)
    out = folder / "out"
    assert json.loads((out / "sync.json").read_text())["offsets"] == [0, 0, 0, 0]
    xyz = Points3D.load(out / "points3d.npz").xyz                       # (F, P, J, 3)
    gt = load_npz(folder / "gt.npz", ("xyz",), "gt")["xyz"]              # (F, A, J, 3)
    assert xyz.shape[1] == 2, "one identity per person"
    with warnings.catch_warnings():                                      # absent: NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        err = np.nanmean(np.linalg.norm(xyz[:, :, None] - gt[:, None], axis=-1), -1)  # F,P,A
    for a, frames in ((0, np.r_[0:45, 95:F]), (1, np.arange(F))):
        who = np.argmin(np.where(np.isfinite(err[frames, :, a]), err[frames, :, a], 9), 1)
        assert len(set(who.tolist())) == 1, f"actor {a} is split between identities"
        p = int(who[0])
        assert np.isfinite(xyz[frames, p]).any(-1).any(-1).mean() >= 0.97
        assert np.nanmedian(err[frames, p, a]) < 0.03
    p_away = int(np.nanargmin(err[10, :, 0]))
    assert np.isnan(xyz[55:85, p_away]).all()                             # gone while out
