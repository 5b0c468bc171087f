"""Model files: offline errors, hash checks, the cache, ``mocap models``."""
from __future__ import annotations

import os
import shutil

import pytest

from mocap.app.cli import main
from mocap.datasets import PINNED_WHEELS, WHEEL_TARGETS, fetch_wheel
from mocap.errors import ModelError
from mocap.models import MODELS, cached_model, model_path

_USER_CACHE = os.environ.get("MOCAP_CACHE_DIR")


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    """A fresh cache directory, and pip cut off from any package index."""
    monkeypatch.setenv("MOCAP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    return tmp_path / "cache"


def test_pins_are_consistent():
    for spec in MODELS.values():
        assert spec.wheel in PINNED_WHEELS and spec.wheel in WHEEL_TARGETS
        assert len(spec.sha256) == 64


def test_offline_without_cache_is_one_line_naming_the_fix(empty_cache):
    with pytest.raises(ModelError) as info:
        model_path("pose_landmark_full")
    msg = str(info.value)
    assert "\n" not in msg and "`mocap models fetch`" in msg and "mediapipe==0.10.21" in msg
    with pytest.raises(ModelError, match="not in .*run `mocap models fetch`"):
        model_path("pose_detection", fetch=False)
    with pytest.raises(ModelError, match="unknown model 'pose_heavy'"):
        model_path("pose_heavy")


def test_cli_models_lists_missing_files(empty_cache, capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "pose_detection" in out and "missing (run `mocap models fetch`)" in out
    assert main(["models", "fetch"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "mocap models fetch" in err[0]


@pytest.mark.network
def test_fetch_check_and_repair(empty_cache, monkeypatch):
    """From the pinned wheel (fetched once into the default cache), the files are unpacked and
    checked; a corrupted cached file is noticed and unpacked again."""
    monkeypatch.delenv("PIP_NO_INDEX")
    monkeypatch.delenv("PIP_FIND_LINKS")
    if _USER_CACHE is None:
        monkeypatch.delenv("MOCAP_CACHE_DIR")
    else:
        monkeypatch.setenv("MOCAP_CACHE_DIR", _USER_CACHE)
    wheel = fetch_wheel("mediapipe", "0.10.21")             # the user's cache: fetched once
    (empty_cache / "wheels").mkdir(parents=True)
    shutil.copy(wheel, empty_cache / "wheels" / wheel.name)
    monkeypatch.setenv("MOCAP_CACHE_DIR", str(empty_cache))
    monkeypatch.setenv("PIP_NO_INDEX", "1")                    # no download needed any more
    path = model_path("pose_detection")
    assert path.is_file() and cached_model("pose_detection") == path
    path.write_bytes(b"corrupt")
    assert cached_model("pose_detection") is None
    assert model_path("pose_detection") == path and cached_model("pose_detection") == path
