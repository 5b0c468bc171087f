"""Detection resumes inside a camera: chunks of frames are checkpointed (keypoints, heatmaps
and the tracker's state after the chunk's last frame), a rerun loads the finished chunks and
detects from the first missing one, and the result equals an uninterrupted run's."""
from __future__ import annotations

import numpy as np
import pytest

from mocap.detect import run as run_mod
from mocap.detect.types import BackendSpec, PersonResult
from mocap.detect.video import probe_source
from tiny_video import grey_video

F, CHUNK = 22, 5


def _video(path, frames=F):
    return grey_video(path, frames)


class Interrupted(RuntimeError):
    pass


class Follower:
    """A tracker-like fake backend: its answer depends on the state it carries from frame to
    frame (a smoothed grey level and a frame counter), and a second person appears on every
    7th frame, so a resumed run matches the uninterrupted one only if the state is restored."""

    format, heatmap_hw = "coco17", (4, 4)
    calls: list = []
    fail_at: "int | None" = None

    def __init__(self, spec):
        self.level, self.frame = 0.0, 0

    def state(self) -> dict:
        return {"level": self.level, "frame": self.frame}

    def restore(self, state: dict) -> None:
        self.level, self.frame = float(state["level"]), int(state["frame"])

    def process(self, rgb):
        if self.frame == Follower.fail_at:
            raise Interrupted(f"killed at frame {self.frame}")
        Follower.calls.append(self.frame)
        self.level = 0.7 * self.level + 0.3 * float(rgb.mean())
        hm = np.full((17, 4, 4), self.level / 255.0, np.float32)
        hm[:, 0, 0] = 0.0
        aff = np.array([[4.0, 0.0, self.frame], [0.0, 4.0, 1.0]])
        out = [(0, PersonResult(np.full((17, 2), self.level), np.full(17, 0.5), hm, aff))]
        if self.frame % 7 == 3:
            out.append((1, PersonResult(np.full((17, 2), self.frame + 0.5), np.ones(17),
                                        0.5 * hm, aff)))
        self.frame += 1
        return out


@pytest.fixture
def follower(monkeypatch):
    Follower.calls, Follower.fail_at = [], None
    monkeypatch.setattr(run_mod, "make_backend", Follower)
    return Follower


def _job(tmp_path, folder):
    info = probe_source(_video(tmp_path / "cam_a.avi"), "cam_a")
    return run_mod.CameraJob(info, F, BackendSpec(max_people=4), tmp_path / folder / "a.npz",
                             "print", chunk_frames=CHUNK)


def _arrays(path):
    with np.load(path) as d:
        return {k: d[k] for k in d.files}


def _same(a, b) -> bool:
    return a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")


def test_a_rerun_detects_only_from_the_first_missing_chunk(tmp_path, follower):
    ref = run_mod.detect_camera(_job(tmp_path, "ref"))
    assert follower.calls == list(range(F))

    job = _job(tmp_path, "victim")
    follower.calls, follower.fail_at = [], 12          # inside the third chunk (10..14)
    with pytest.raises(Interrupted):
        run_mod.detect_camera(job)
    assert not job.out_path.exists()
    assert run_mod.frames_left(job) == F - 2 * CHUNK   # two chunks are on disk

    follower.calls, follower.fail_at = [], None
    run_mod.detect_camera(job)
    assert follower.calls == list(range(2 * CHUNK, F)), "finished chunks were detected again"
    a, b = _arrays(ref), _arrays(job.out_path)
    assert set(a) == set(b)
    for k in a:
        assert _same(a[k], b[k]), k
    assert a["heatmaps"].shape == (F, 2, 17, 4, 4) and a["xy"].shape == (F, 2, 17, 2)
    assert sorted(p.name for p in job.out_path.parent.iterdir()) == ["a.npz"], \
        "the chunk files are removed once the camera's file is written"


def test_chunks_of_another_job_are_not_reused(tmp_path, follower):
    job = _job(tmp_path, "out")
    follower.fail_at = 7
    with pytest.raises(Interrupted):
        run_mod.detect_camera(job)
    assert run_mod.frames_left(job) == F - CHUNK
    other = run_mod.CameraJob(job.info, F, job.spec, job.out_path, "another print",
                              chunk_frames=CHUNK)
    assert run_mod.frames_left(other) == F
    follower.calls, follower.fail_at = [], None
    run_mod.detect_camera(other)
    assert follower.calls == list(range(F))
    assert str(np.load(other.out_path)["fingerprint"]) == "another print"


def test_the_result_does_not_depend_on_the_chunk_size(tmp_path, follower):
    one = run_mod.detect_camera(_job(tmp_path, "one"))
    info = probe_source(tmp_path / "cam_a.avi", "cam_a")
    job = run_mod.CameraJob(info, F, BackendSpec(max_people=4), tmp_path / "big" / "a.npz",
                            "print", chunk_frames=1000)
    a, b = _arrays(one), _arrays(run_mod.detect_camera(job))
    for k in a:
        assert _same(a[k], b[k]), k


def test_the_reader_starts_at_a_frame(tmp_path):
    from mocap.detect.video import FrameReader
    info = probe_source(_video(tmp_path / "cam_a.avi"), "cam_a")
    with FrameReader(info, 12, start=7) as frames:
        got = [(f, int(rgb.mean().round())) for f, rgb in frames]
    assert [f for f, _ in got] == list(range(7, 12))
    assert all(abs(level - 10 * f) <= 2 for f, level in got)


@pytest.mark.network
def test_blazepose_resumed_equals_uninterrupted(tmp_path, monkeypatch):
    """The real tracker (BlazePose lite) on a real video: killed inside a chunk, rerun, the
    camera's file is the uninterrupted run's, bit for bit (the regions of interest carried
    over in the chunk's state)."""
    from mocap.datasets import pose2sim_demo
    from mocap.detect.backends import make_backend
    video = pose2sim_demo("0.10.49") / "Demo_SinglePerson" / "videos" / "cam04.mp4"
    info = probe_source(video, "cam04")
    spec = BackendSpec(landmark_model="lite", flip=False, max_people=2, detect_interval=3)
    job = lambda name: run_mod.CameraJob(info, 10, spec, tmp_path / name / "cam04.npz",  # noqa
                                         "print", chunk_frames=4)
    ref = run_mod.detect_camera(job("ref"))
    calls = []

    def counted(spec, fail_at=None):
        backend = make_backend(spec)
        inner = backend.process

        def process(rgb):
            if len(calls) == fail_at:
                raise Interrupted("killed")
            calls.append(1)
            return inner(rgb)
        backend.process = process
        return backend
    monkeypatch.setattr(run_mod, "make_backend", lambda s: counted(s, fail_at=6))
    with pytest.raises(Interrupted):
        run_mod.detect_camera(job("victim"))
    calls.clear()
    monkeypatch.setattr(run_mod, "make_backend", counted)
    run_mod.detect_camera(job("victim"))
    assert len(calls) == 6                      # frames 4..9: the first chunk was kept
    a, b = _arrays(ref), _arrays(tmp_path / "victim" / "cam04.npz")
    for k in a:
        assert _same(a[k], b[k]), k


def test_a_chunk_of_no_frames_is_refused(tmp_path):
    from mocap.errors import DetectorError
    from mocap.settings import settings_from_dict
    video = _video(tmp_path / "cam_a.avi", 4)
    with pytest.raises(DetectorError, match="chunk_frames: expected at least 1 frame, found 0"):
        run_mod.make_jobs([video], ("cam_a",), settings_from_dict({}), tmp_path, None,
                          chunk_frames=0)
    job, = run_mod.make_jobs([video], ("cam_a",), settings_from_dict({}), tmp_path, None,
                             chunk_frames=3)
    assert job.chunk_frames == 3 and run_mod.frames_left(job) == 4


def test_a_camera_killed_while_assembling_detects_nothing_again(tmp_path, follower,
                                                                 monkeypatch):
    job = _job(tmp_path, "out")
    ref = _arrays(run_mod.detect_camera(_job(tmp_path, "ref")))
    real = run_mod.write_camera_file

    def killed(*args, **kwargs):
        raise Interrupted("killed while writing the camera's file")
    monkeypatch.setattr(run_mod, "write_camera_file", killed)
    with pytest.raises(Interrupted):
        run_mod.detect_camera(job)
    assert run_mod.frames_left(job) == 0 and not job.out_path.exists()
    monkeypatch.setattr(run_mod, "write_camera_file", real)
    follower.calls = []
    got = _arrays(run_mod.detect_sources([job], workers=1)[0])
    assert follower.calls == []
    assert all(_same(ref[k], got[k]) for k in ref)


def test_without_a_terminal_progress_is_logged_with_the_rate(tmp_path, follower, caplog):
    import logging
    caplog.set_level(logging.INFO, logger="mocap.detect.run")
    job = _job(tmp_path, "out")
    follower.fail_at = 12
    with pytest.raises(Interrupted):
        run_mod.detect_sources([job], workers=1, desc="detect take")
    follower.fail_at = None
    caplog.clear()
    run_mod.detect_sources([job], workers=1, desc="detect take")
    last = [m for m in caplog.messages if m.startswith("detect take:")][-1]
    assert last.startswith(f"detect take: {F - 10}/{F - 10} frames (100 %), ")  # frames left
    assert "frames/s" in last
