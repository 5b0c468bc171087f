"""A later window of a chunked fit runs one pose stage (the last pose stage's objective and
budget, no shape terms), and stays on the truth."""
from __future__ import annotations

import dataclasses

import numpy as np

from mocap.body import load_body_model
from mocap.fit import fit_points3d
from mocap.fit.chunks import later_stages
from mocap.fit.options import DEFAULT_STAGES
from mocap.settings import Settings
from mocap.simulate import ErrorModel, load_rig_template
from mocap.simulate.bodymodel import BodyActor, simulate_body_take
from mocap.triangulate import triangulate
from mocap.filter import filter_points


def test_later_windows_run_one_pose_stage_without_the_shape():
    (st,) = later_stages(DEFAULT_STAGES)
    last = DEFAULT_STAGES[-1]
    assert st.optimise == ("global_orient", "transl", "body_pose")
    assert st.max_iterations == last.max_iterations and not st.init_pose
    assert set(st.weights) == set(last.weights) - {"shape_prior", "bone_length"}
    assert all(st.weights[k] == last.weights[k] for k in st.weights)
    assert later_stages(DEFAULT_STAGES[:1]) == ()          # shape only: nothing to pose


def test_later_windows_of_a_fit_stay_on_the_truth():
    """Every later window reports its one stage, within the budget, and the fit stays on
    the truth (the reported losses are those of the pose terms alone)."""
    anny, rig = load_body_model("anny"), load_rig_template("studio4")
    bt = simulate_body_take(rig, anny, [BodyActor("walk", seed=1)], 70, 30.0, "body25",
                            ErrorModel(), seed=3)
    s = Settings()
    points = filter_points(triangulate(bt.take.detections, rig, s.triangulate), s.filter, rig)
    fit = fit_points3d(points, dataclasses.replace(
        s.fit, device="cpu", reprojection_weight=0.0, chunk_frames=40,
        chunk_overlap_frames=10), anny)[0]
    later = [r for r in fit.report if r["window"] > 0]
    assert [r["stage"] for r in later] == ["refine_window"]
    assert all(r["iterations"] <= DEFAULT_STAGES[-1].max_iterations for r in later)
    assert not set(later[0]["losses"]) & {"shape_prior", "bone_length"}
    err = np.linalg.norm(fit.body.keypoints - bt.take.gt_xyz[:, 0], axis=-1)
    assert np.nanmean(err) < 0.02


def test_later_windows_in_worker_processes_give_what_one_process_gives(monkeypatch):
    """Given the first window's shape, the even windows depend on their own frames and the
    odd ones on those and their neighbours' solutions: the fit is the same (to the bit)
    whether each round's windows run one after the other or in two forked workers."""
    import mocap.fit.chunks as chunks

    anny, rig = load_body_model("anny"), load_rig_template("studio4")
    bt = simulate_body_take(rig, anny, [BodyActor("walk", seed=1)], 150, 30.0, "body25",
                            ErrorModel(), seed=3)
    s = Settings()
    points = filter_points(triangulate(bt.take.detections, rig, s.triangulate), s.filter, rig)
    settings = dataclasses.replace(s.fit, device="cpu", reprojection_weight=0.0,
                                   chunk_frames=40, chunk_overlap_frames=10,
                                   iteration_scale=0.25)
    fits, forked = [], []
    real = chunks.map_blocks
    for workers in (1, 2):
        monkeypatch.setattr(chunks, "fork_workers", lambda jobs, n=workers: min(n, jobs))
        monkeypatch.setattr(chunks, "idle_cpus", lambda: 2)
        monkeypatch.setattr(chunks, "map_blocks", lambda fn, jobs, w, size: (
            forked.append((w, len(jobs))), real(fn, jobs, w, size))[1])
        fits.append(fit_points3d(points, settings, anny)[0])
    assert sorted({r["window"] for r in fits[0].report}) == [0, 1, 2, 3, 4]
    assert forked == [(1, 2), (1, 2), (2, 2), (2, 2)]      # rounds: windows 2, 4; then 1, 3
    np.testing.assert_array_equal(fits[0].body.poses, fits[1].body.poses)
    np.testing.assert_array_equal(fits[0].body.trans, fits[1].body.trans)
    err = np.linalg.norm(fits[0].body.keypoints - bt.take.gt_xyz[:, 0], axis=-1)
    assert np.nanmean(err) < 0.025
