"""Resumable stages: skipped when unchanged, rerun when inputs, settings or outputs change."""
import json
from dataclasses import dataclass

import pytest

from mocap.progress import track
from mocap.app.stages import StageRunner


@dataclass(frozen=True)
class S:
    k: float = 1.0


def _stage(runner, inp, settings, calls):
    def work():
        calls.append(1)
        (runner.out / "a.txt").write_text(inp.read_text().upper())
        return ["a.txt"]
    return runner.run("upper", [inp], settings, work)


@pytest.fixture
def setup(tmp_path):
    inp = tmp_path / "in.txt"
    inp.write_text("hello")
    out = tmp_path / "out"
    out.mkdir()
    return StageRunner(tmp_path, out), inp


def test_second_run_is_skipped(setup):
    runner, inp = setup
    calls = []
    assert _stage(runner, inp, S(), calls) is True
    assert _stage(runner, inp, S(), calls) is False
    assert len(calls) == 1 and (runner.out / "a.txt").read_text() == "HELLO"
    rec = json.loads(runner.record_path("upper").read_text())
    assert rec["inputs"] == {"in.txt": rec["inputs"]["in.txt"]} and "a.txt" in rec["outputs"]


@pytest.mark.parametrize("change", ["input", "settings", "output_deleted", "output_edited", "force"])
def test_changes_rerun_the_stage(setup, change):
    runner, inp = setup
    calls = []
    _stage(runner, inp, S(), calls)
    settings = S()
    if change == "input":
        inp.write_text("bye")
    elif change == "settings":
        settings = S(k=2.0)
    elif change == "output_deleted":
        (runner.out / "a.txt").unlink()
    elif change == "output_edited":
        (runner.out / "a.txt").write_text("tampered")
    else:
        runner.force = True
    assert _stage(runner, inp, settings, calls) is True and len(calls) == 2


def test_a_failed_stage_leaves_no_record(setup):
    runner, inp = setup

    def boom():
        raise RuntimeError("killed")
    with pytest.raises(RuntimeError):
        runner.run("upper", [inp], S(), boom)
    assert not runner.record_path("upper").exists()


def test_track_logs_progress(caplog):
    caplog.set_level("INFO", logger="mocap.progress")
    assert list(track(range(5), desc="frames", every_s=0.0)) == list(range(5))
    assert any("frames: 3/5 (60 %)" in r.message for r in caplog.records)


def test_stale_temporaries_are_removed(setup):
    runner, _ = setup
    (runner.out / "sub").mkdir()
    stale = runner.out / "sub" / ".points3d.npz.0a1b2c.tmp"
    stale.write_bytes(b"partial")
    keep = runner.out / "points3d.npz"
    keep.write_bytes(b"complete")
    assert runner.remove_stale_temporaries() == 1
    assert not stale.exists() and keep.exists()
