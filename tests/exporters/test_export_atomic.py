"""atomic_write: a file is complete or absent, never half-written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from exporters import atomic_write


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
