"""Model files: offline errors, hash checks, the cache, ``mocap models``."""
from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading

import pytest

from mocap.app.cli import main
from mocap.datasets import PINNED_NPM, PINNED_WHEELS, WHEEL_TARGETS, fetch_npm, fetch_wheel
from mocap.errors import ModelError
from mocap.models import LANDMARK_MODELS, MODELS, cached_model, landmark_model_name, model_path

_USER_CACHE = os.environ.get("MOCAP_CACHE_DIR")


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    """A fresh cache directory, and pip cut off from any package index."""
    monkeypatch.setenv("MOCAP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    monkeypatch.setenv("npm_config_registry", "http://127.0.0.1:9")   # nothing listens there
    return tmp_path / "cache"


def test_pins_are_consistent():
    for spec in MODELS.values():
        if spec.registry == "pypi":
            assert spec.package in PINNED_WHEELS and spec.package in WHEEL_TARGETS
        else:
            assert spec.registry == "npm" and spec.package in PINNED_NPM
        assert len(spec.sha256) == 64
    assert {MODELS[n].registry for n in LANDMARK_MODELS.values()} == {"pypi", "npm"}
    assert landmark_model_name("heavy") == "pose_landmark_heavy"
    with pytest.raises(ModelError, match="expected one of heavy, full, lite"):
        landmark_model_name("huge")


def test_offline_npm_model_is_one_line_naming_the_fix(empty_cache):
    with pytest.raises(ModelError) as info:
        model_path("pose_landmark_heavy")
    msg = str(info.value)
    assert "\n" not in msg and "`mocap models fetch`" in msg
    assert "@mediapipe/pose@0.5.1675469404 npm package" in msg


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


@pytest.fixture
def local_registry(empty_cache, monkeypatch):
    """The pinned npm tarballs (fetched once into the user's cache) served by a local registry
    with npm's URL layout; yields its URL."""
    monkeypatch.delenv("npm_config_registry")
    if _USER_CACHE is None:
        monkeypatch.delenv("MOCAP_CACHE_DIR")
    else:
        monkeypatch.setenv("MOCAP_CACHE_DIR", _USER_CACHE)
    root = empty_cache.parent / "registry"
    for name, version in PINNED_NPM:
        dest = root / name / "-" / f"{name.rsplit('/', 1)[-1]}-{version}.tgz"
        dest.parent.mkdir(parents=True)
        shutil.copy(fetch_npm(name, version), dest)
    monkeypatch.setenv("MOCAP_CACHE_DIR", str(empty_cache))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("npm_config_registry", f"http://127.0.0.1:{server.server_port}")
    yield root
    server.shutdown()
    server.server_close()


@pytest.mark.network
def test_npm_fetch_check_and_repair(local_registry):
    """Heavy, lite and the hand model come from the registry's tarballs (downloaded over HTTP,
    hash-checked, cached); a corrupted cached file is unpacked again from the cached tarball,
    and a tarball whose bytes differ from the pin is refused."""
    path = model_path("pose_landmark_heavy")
    assert path.is_file() and cached_model("pose_landmark_heavy") == path
    assert model_path("hand_landmark_full").is_file()
    path.write_bytes(b"corrupt")
    assert cached_model("pose_landmark_heavy") is None
    assert model_path("pose_landmark_heavy") == path
    for cached in (local_registry.parent / "cache" / "npm").iterdir():
        cached.unlink()
    tarball = next(local_registry.rglob("pose-*.tgz"))
    tarball.write_bytes(b"not the pinned tarball")
    (local_registry.parent / "cache" / "models" / "pose_landmark_lite.tflite").unlink(
        missing_ok=True)
    with pytest.raises(ModelError, match="differs from the pinned"):
        model_path("pose_landmark_lite")
