"""Real external data, fetched from PyPI wheels pinned by version and sha256, kept in a cache.

The Pose2Sim demo ships inside the ``pose2sim`` wheel: version 0.4.15 has OpenPose BODY_25B
JSON of 4 cameras, a Qualisys calibration (anipose-style TOML and ``.qca.txt``) and reference
``.trc`` files; version 0.10.49 has the SinglePerson demo videos and checkerboard images. They
are fetched with ``pip download --no-deps`` (the registry is the only network allowed), checked
against the pinned hash, and unpacked once into ``$MOCAP_CACHE_DIR`` (default
``~/.cache/mocap``).

npm packages (the BlazePose Heavy and Lite landmark models and the hand landmark model ship in
``@mediapipe/pose`` and ``@mediapipe/hands``) are fetched the same way from the npm registry
(``$npm_config_registry``, default ``https://registry.npmjs.org``): the pinned version's
tarball, checked against its pinned sha256 (:func:`fetch_npm`).
"""
from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from exporters.atomic import replace_atomically

from .errors import DataFetchError

log = logging.getLogger(__name__)

__all__ = ["cache_dir", "fetch_wheel", "fetch_npm", "npm_registry", "pose2sim_demo", "sha256_of",
           "PINNED_WHEELS", "PINNED_NPM", "WHEEL_TARGETS", "pose2sim_opensim_setup"]

#: (distribution, version) -> sha256 of the wheel file.
PINNED_WHEELS = {
    ("pose2sim", "0.4.15"): "9325774a2789355229acb5753ff468e8f9dd57bd2e396a192a5e2a0c1d10008c",
    ("pose2sim", "0.10.49"): "403e0dc4065898ba6a595e72a8970950310979253d60e24c2e00b16b36bf21e1",
    # BlazePose model files (see mocap.models); never installed, only unpacked.
    ("mediapipe", "0.10.21"): "05dc4a9e593655a79558d05d6227d31018c2537a4bd3362b51e230cf22aecfe3",
}

#: (npm package, version) -> sha256 of its registry tarball (``.tgz``).
PINNED_NPM = {
    ("@mediapipe/pose", "0.5.1675469404"):
        "8bb349a7b3a3ba699df23be804ddd3b3eab810b50b15406894be257859388a84",
    ("@mediapipe/hands", "0.4.1675469240"):
        "bdd5be939c60cbd72a49f4b6141407683cf2a67263598e1a44757d70b3dfcb8a",
}

#: Seconds a registry download may stall before it counts as offline.
_NPM_TIMEOUT_S = 60

#: (distribution, version) -> (platform tag, python version) of a binary wheel, so that the
#: same pinned file is downloaded whatever machine asks for it.
WHEEL_TARGETS = {
    ("mediapipe", "0.10.21"): ("manylinux_2_28_x86_64", "3.11"),
}


def cache_dir() -> Path:
    """The cache folder (``$MOCAP_CACHE_DIR``, default ``~/.cache/mocap``), created."""
    root = Path(os.environ.get("MOCAP_CACHE_DIR", Path.home() / ".cache" / "mocap"))
    root.mkdir(parents=True, exist_ok=True)
    return root


def sha256_of(path: Path) -> str:
    """The hex sha256 digest of a file's bytes (read in 1 MiB blocks)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _pinned_sha(pins: dict, name: str, version: str, what: str) -> str:
    """The pinned sha256 of ``name`` ``version`` in ``pins`` (raises when not pinned)."""
    if (name, version) not in pins:
        raise DataFetchError(f"{name} {version} is not a pinned {what}; pinned: {sorted(pins)}")
    return pins[(name, version)]


def _keep_checked(part: Path, dest: Path, want: str, source: str) -> None:
    """Move a downloaded file into the cache atomically once its sha256 is the pinned one."""
    got = sha256_of(part)
    if got != want:
        raise DataFetchError(f"{source}: sha256 {got} differs from the pinned {want}")
    replace_atomically(part, dest)


def fetch_wheel(name: str, version: str) -> Path:
    """The pinned wheel file, downloaded into the cache on first use.

    Raises:
        DataFetchError: not pinned, the download failed (offline), or the hash differs.
    """
    want = _pinned_sha(PINNED_WHEELS, name, version, "data wheel")
    folder = cache_dir() / "wheels"
    folder.mkdir(exist_ok=True)
    found = [p for p in folder.glob(f"{name}-{version}-*.whl") if sha256_of(p) == want]
    if found:
        return found[0]
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "-q", "-d", tmp, f"{name}=={version}"]
        if (name, version) in WHEEL_TARGETS:
            platform, python = WHEEL_TARGETS[(name, version)]
            cmd += ["--platform", platform, "--python-version", python]
        log.info("fetching %s==%s from the package registry", name, version)
        res = subprocess.run(cmd, capture_output=True, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if res.returncode != 0 or not wheels:
            raise DataFetchError(f"could not download {name}=={version} "
                                 f"({res.stderr.strip().splitlines()[-1:] or 'no wheel'}); "
                                 f"run `pip download --no-deps {name}=={version}` when online")
        dest = folder / wheels[0].name
        _keep_checked(wheels[0], dest, want, wheels[0].name)
    return dest


def npm_registry() -> str:
    """The npm registry's URL (``$npm_config_registry``, as npm itself reads it)."""
    return os.environ.get("npm_config_registry", "https://registry.npmjs.org").rstrip("/")


def npm_tarball_url(name: str, version: str) -> str:
    """The registry URL of a package version's tarball (``@scope/pkg`` -> ``pkg-<v>.tgz``)."""
    return f"{npm_registry()}/{name}/-/{name.rsplit('/', 1)[-1]}-{version}.tgz"


def fetch_npm(name: str, version: str) -> Path:
    """The pinned npm tarball, downloaded from the registry into ``<cache>/npm`` on first use.

    Raises:
        DataFetchError: not pinned, the download failed (offline), or the hash differs.
    """
    want = _pinned_sha(PINNED_NPM, name, version, "npm package")
    folder = cache_dir() / "npm"
    folder.mkdir(exist_ok=True)
    dest = folder / f"{name.replace('/', '+')}-{version}.tgz"
    if dest.is_file() and sha256_of(dest) == want:
        return dest
    url = npm_tarball_url(name, version)
    log.info("fetching %s@%s from the npm registry", name, version)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        part = Path(tmp) / dest.name
        try:
            with urllib.request.urlopen(url, timeout=_NPM_TIMEOUT_S) as resp, \
                    open(part, "wb") as fh:
                for block in iter(lambda: resp.read(1 << 20), b""):
                    fh.write(block)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DataFetchError(f"could not download {name}@{version} from {url} ({reason})"
                                 ) from None
        _keep_checked(part, dest, want, url)
    return dest


def pose2sim_demo(version: str = "0.4.15") -> Path:
    """The unpacked ``Pose2Sim/`` folder of a pinned pose2sim wheel (its ``Demo*`` folders).

    Returns:
        e.g. ``<cache>/pose2sim-0.4.15/Pose2Sim`` holding ``Demo/`` (0.4.15) or
        ``Demo_SinglePerson/`` etc. (0.10.49).
    """
    root = cache_dir() / f"pose2sim-{version}"
    done = root / ".complete"
    if not done.is_file():
        wheel = fetch_wheel("pose2sim", version)
        tmp = Path(tempfile.mkdtemp(dir=cache_dir(), prefix=f".pose2sim-{version}-"))
        with zipfile.ZipFile(wheel) as z:
            members = [n for n in z.namelist() if n.startswith("Pose2Sim/Demo")]
            z.extractall(tmp, members)
        (tmp / ".complete").write_text(PINNED_WHEELS[("pose2sim", version)])
        replace_atomically(tmp, root)
    return root / "Pose2Sim"


def pose2sim_opensim_setup(version: str = "0.10.49") -> Path:
    """The unpacked ``Pose2Sim/OpenSim_Setup/`` folder of a pinned pose2sim wheel (BSD-3):
    ``Model_Pose2Sim_simple.osim``, ``Geometry/``, ``Markers_<format>.xml``,
    ``Scaling_Setup_Pose2Sim_<format>.xml`` and ``IK_Setup_Pose2Sim_<format>.xml``."""
    root = cache_dir() / f"pose2sim-{version}-opensim"
    if not (root / ".complete").is_file():
        wheel = fetch_wheel("pose2sim", version)
        tmp = Path(tempfile.mkdtemp(dir=cache_dir(), prefix=f".pose2sim-{version}-opensim-"))
        with zipfile.ZipFile(wheel) as z:
            z.extractall(tmp, [n for n in z.namelist()
                               if n.startswith("Pose2Sim/OpenSim_Setup/")])
        (tmp / ".complete").write_text(PINNED_WHEELS[("pose2sim", version)])
        replace_atomically(tmp, root)
    return root / "Pose2Sim" / "OpenSim_Setup"


def pose2sim_demo_capture():
    """The Pose2Sim 0.4.15 demo as a capture: ``(rig, detections)``.

    The rig is the shipped Qualisys calibration (``Calib_qualisys.toml``); the detections are
    its OpenPose BODY_25B JSON of the 4 cameras at 60 fps, (4, F, P, 25) with F the shortest
    camera's frame count and P the most people any camera found (the subject and, in some
    views, a bystander; missing people NaN with confidence 0).
    """
    import numpy as np

    from calibration import Rig

    from .io.openpose import read_openpose_folder
    from .types import Detections2D

    root = pose2sim_demo("0.4.15") / "Demo"
    rig = Rig.load(root / "calibration" / "Calib_qualisys.toml")
    per_cam = [read_openpose_folder(root / "pose" / f"cam{c}_json", "body25b") for c in (1, 2, 3, 4)]
    F = min(x.shape[0] for x, _, _ in per_cam)
    P = max(x.shape[1] for x, _, _ in per_cam)
    xy = np.full((4, F, P, 25, 2), np.nan)
    conf = np.zeros((4, F, P, 25), np.float32)
    for c, (x, cf, _) in enumerate(per_cam):
        xy[c, :, :x.shape[1]] = x[:F]
        conf[c, :, :x.shape[1]] = cf[:F]
    return rig, Detections2D(xy=xy, conf=conf, format="body25b", camera_names=rig.names, fps=60.0)
