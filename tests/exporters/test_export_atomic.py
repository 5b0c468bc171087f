"""exporters.atomic: a file (or folder) is complete or absent, never half-written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from exporters import atomic_write
from exporters.atomic import atomic_path, atomic_write_bytes, atomic_write_text, replace_atomically


def test_writes_text_and_bytes(tmp_path: Path) -> None:
    with atomic_write(tmp_path / "a.txt", "w", encoding="utf-8") as handle:
        handle.write("héllo\n")
    with atomic_write(tmp_path / "b.bin", "wb") as handle:
        handle.write(b"\x00\x01")
    assert (tmp_path / "a.txt").read_text(encoding="utf-8") == "héllo\n"
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.bin"]


def test_error_inside_the_block_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_write(tmp_path / "a.txt") as handle:
            handle.write("half")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_error_keeps_the_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_write(target) as handle:
            handle.write("new")
            raise KeyboardInterrupt
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]


def test_replaces_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    target.write_text("old")
    with atomic_write(target) as handle:
        handle.write("new")
    assert target.read_text() == "new"


def test_permissions_follow_the_umask_like_open(tmp_path: Path) -> None:
    reference = tmp_path / "reference"
    reference.write_text("")
    with atomic_write(tmp_path / "atomic") as handle:
        handle.write("")
    assert os.stat(tmp_path / "atomic").st_mode == os.stat(reference).st_mode


def test_bad_open_arguments_leave_nothing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="mode must be"):
        with atomic_write(tmp_path / "a", "a"):
            pass
    with pytest.raises(LookupError):
        with atomic_write(tmp_path / "a", "w", encoding="no-such-codec"):
            pass
    assert list(tmp_path.iterdir()) == []


def test_one_call_writers(tmp_path: Path) -> None:
    atomic_write_bytes(tmp_path / "b.bin", b"\x00\x01")
    atomic_write_text(tmp_path / "a.txt", "héllo\n")
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    assert (tmp_path / "a.txt").read_text(encoding="utf-8") == "héllo\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.bin"]


def test_atomic_path_renames_what_the_block_wrote(tmp_path: Path) -> None:
    target = tmp_path / "a.h5"
    target.write_text("old")
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".a.h5.") and tmp.name.endswith(".tmp")
        assert not tmp.exists()
        tmp.write_text("new")
    assert target.read_text() == "new"
    assert list(tmp_path.iterdir()) == [target]


def test_atomic_path_error_keeps_the_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "a.h5"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]


def test_replace_atomically_moves_files_and_folders(tmp_path: Path) -> None:
    source = tmp_path / "new.txt"
    source.write_text("new")
    replace_atomically(source, tmp_path / "sub" / "a.txt")          # the parent folder is made
    assert (tmp_path / "sub" / "a.txt").read_text() == "new" and not source.exists()
    old, new = tmp_path / "data", tmp_path / ".data.build"
    (old / "deep").mkdir(parents=True)
    (old / "deep" / "old.txt").write_text("old")
    new.mkdir()
    (new / "new.txt").write_text("new")
    replace_atomically(new, old)                                     # a non-empty folder is replaced
    assert sorted(p.name for p in old.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "sub"]


def test_replace_atomically_failure_keeps_the_existing_folder(tmp_path: Path) -> None:
    old = tmp_path / "data"
    old.mkdir()
    (old / "old.txt").write_text("old")
    with pytest.raises(FileNotFoundError):
        replace_atomically(tmp_path / "missing", old)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]
    assert (old / "old.txt").read_text() == "old"
