"""One run's stages read each source file once (a ten-minute take has 108,000 pose files;
every stage digested all of them: 28 s of an 88 s run), and a source changed between runs is
still seen."""
from __future__ import annotations

from pathlib import Path

from mocap.app import stages


def _counting(monkeypatch) -> list:
    calls: list = []
    real = stages.file_digest

    def counted(path: Path) -> str:
        calls.append(Path(path).name)
        return real(path)
    monkeypatch.setattr(stages, "file_digest", counted)
    return calls


def _session(tmp_path: Path) -> tuple[Path, Path]:
    pose = tmp_path / "pose" / "cam1"
    pose.mkdir(parents=True)
    for i in range(5):
        (pose / f"f{i:03d}.json").write_text(f'{{"frame": {i}}}')
    out = tmp_path / "out"
    out.mkdir()
    return tmp_path / "pose", out


def test_sources_are_digested_once_per_run_and_outputs_every_time(tmp_path, monkeypatch):
    pose, out = _session(tmp_path)
    calls = _counting(monkeypatch)
    runner = stages.StageRunner(tmp_path, out)

    def stage_a():
        (out / "a.npz").write_bytes(b"a1")
        return ["a.npz"]
    assert runner.run("a", [pose], {"k": 1}, stage_a)
    assert runner.run("b", [pose, out / "a.npz"], {"k": 1}, lambda: [])
    sources = [c for c in calls if c.endswith(".json")]
    assert sorted(sources) == [f"f{i:03d}.json" for i in range(5)]        # once each
    (out / "a.npz").write_bytes(b"a2, longer")                   # an output rewritten
    assert not runner.up_to_date("b", [pose, out / "a.npz"], {"k": 1})


def test_a_source_changed_between_runs_reruns_the_stage(tmp_path):
    pose, out = _session(tmp_path)
    assert stages.StageRunner(tmp_path, out).run("a", [pose], {}, lambda: [])
    assert stages.StageRunner(tmp_path, out).up_to_date("a", [pose], {})
    (pose / "cam1" / "f002.json").write_text('{"frame": 2, "changed": true}')
    assert not stages.StageRunner(tmp_path, out).up_to_date("a", [pose], {})


def test_the_record_is_the_same_with_or_without_known_digests(tmp_path):
    pose, out = _session(tmp_path)
    plain = stages.inputs_digest([pose], tmp_path)
    known: dict = {}
    assert stages.inputs_digest([pose], tmp_path, known) == plain
    assert stages.inputs_digest([pose], tmp_path, known) == plain and len(known) == 5
