"""Model files of the detectors, fetched once and kept in the user's cache.

The BlazePose person detector and the Full landmark model ship inside the ``mediapipe==0.10.21``
wheel (newer wheels ship none). That wheel is downloaded from the package registry with
``pip download --no-deps`` (never installed: it pins numpy<2), checked against its pinned
sha256 (:data:`mocap.datasets.PINNED_WHEELS`). The Heavy and Lite landmark models ship in the
npm package ``@mediapipe/pose@0.5.1675469404`` and the hand landmark model in
``@mediapipe/hands@0.4.1675469240``: their tarballs come from the npm registry, checked against
:data:`mocap.datasets.PINNED_NPM`. Each ``.tflite`` member is unpacked into ``<cache>/models/``
and checked against its own pinned sha256. Later calls only re-hash the cached files. Offline
without a cached copy, :func:`model_path` raises :class:`ModelError` naming the command that
fixes it (``mocap models fetch``).
"""
from __future__ import annotations

import logging
import os
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from exporters.atomic import atomic_path

from .datasets import cache_dir, fetch_npm, fetch_wheel, sha256_of
from .errors import DataFetchError, ModelError

log = logging.getLogger(__name__)

__all__ = ["ModelFile", "MODELS", "ModelError", "model_path", "cached_model", "fetch_models",
           "models_dir", "FETCH_COMMAND", "LANDMARK_MODELS", "landmark_model_name"]

#: The command a user runs (online) to fill the cache.
FETCH_COMMAND = "mocap models fetch"


@dataclass(frozen=True)
class ModelFile:
    """One model file inside a pinned wheel (PyPI) or package tarball (npm).

    Attributes:
        name: short name (``pose_detection``), also the cached file's stem.
        package: (distribution, version) of the pinned wheel or npm package that holds it.
        member: the file's path inside the wheel or tarball.
        sha256: hash of the file itself.
        description: one line for ``mocap models``.
        registry: ``pypi`` (a wheel) or ``npm`` (a tarball).
    """

    name: str
    package: tuple[str, str]
    member: str
    sha256: str
    description: str
    registry: str = "pypi"

    @property
    def source(self) -> str:
        """``mediapipe==0.10.21`` or ``@mediapipe/pose@0.5.1675469404``."""
        dist, version = self.package
        return f"{dist}=={version}" if self.registry == "pypi" else f"{dist}@{version}"

    @property
    def filename(self) -> str:
        return self.name + Path(self.member).suffix


_NPM_POSE = ("@mediapipe/pose", "0.5.1675469404")

MODELS: dict[str, ModelFile] = {m.name: m for m in (
    ModelFile("pose_detection", ("mediapipe", "0.10.21"),
              "mediapipe/modules/pose_detection/pose_detection.tflite",
              "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c",
              "BlazePose person detector, 224x224 input, SSD anchors (Apache-2.0)"),
    ModelFile("pose_landmark_full", ("mediapipe", "0.10.21"),
              "mediapipe/modules/pose_landmark/pose_landmark_full.tflite",
              "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f",
              "BlazePose full landmark model, 256x256 crop, 33+6 points, 64x64 heatmaps "
              "(Apache-2.0)"),
    ModelFile("pose_landmark_heavy", _NPM_POSE, "package/pose_landmark_heavy.tflite",
              "59e42d71bcd44cbdbabc419f0ff76686595fd265419566bd4009ef703ea8e1fe",
              "BlazePose heavy landmark model, same inputs and outputs as full (Apache-2.0)",
              "npm"),
    ModelFile("pose_landmark_lite", _NPM_POSE, "package/pose_landmark_lite.tflite",
              "f17bfbecadb61c3be1baa8b8d851cc6619c870a87167b32848ad20db306b9d61",
              "BlazePose lite landmark model, same inputs and outputs as full (Apache-2.0)",
              "npm"),
    ModelFile("hand_landmark_full", ("@mediapipe/hands", "0.4.1675469240"),
              "package/hand_landmark_full.tflite",
              "8c026882c9ec059ce0f8e75266bee5a9a23c341a40e0000df755374d3d1b9b68",
              "MediaPipe hand landmark model, 224x224 crop, 21 points (Apache-2.0)", "npm"),
)}

#: ``[detect] model`` of the BlazePose backend -> the landmark model's name in :data:`MODELS`.
LANDMARK_MODELS = {"heavy": "pose_landmark_heavy", "full": "pose_landmark_full",
                   "lite": "pose_landmark_lite"}


def landmark_model_name(variant: str) -> str:
    """The :data:`MODELS` name of a BlazePose landmark variant (``heavy``, ``full``, ``lite``).

    Raises:
        ModelError: another name.
    """
    if variant not in LANDMARK_MODELS:
        raise ModelError(f"[detect] model = {variant!r}; expected one of "
                         f"{', '.join(LANDMARK_MODELS)} for the blazepose backend")
    return LANDMARK_MODELS[variant]


def models_dir() -> Path:
    """``<cache>/models`` (``$MOCAP_CACHE_DIR``, default ``~/.cache/mocap``), created."""
    folder = cache_dir() / "models"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _spec(name: str) -> ModelFile:
    if name not in MODELS:
        raise ModelError(f"unknown model {name!r}; expected one of {', '.join(MODELS)}")
    return MODELS[name]


def cached_model(name: str) -> "Path | None":
    """The cached file of a model if present and intact, else None (nothing is fetched)."""
    spec = _spec(name)
    path = models_dir() / spec.filename
    if path.is_file() and sha256_of(path) == spec.sha256:
        return path
    if path.is_file():
        log.warning("%s: sha256 differs from the pinned %s; fetching it again", path,
                    spec.sha256)
    return None


def _read_member(spec: ModelFile, archive: Path) -> bytes:
    """One member's bytes from a wheel (zip) or an npm tarball (gzipped tar)."""
    try:
        if spec.registry == "npm":
            with tarfile.open(archive, "r:gz") as t:
                fh = t.extractfile(spec.member)
                if fh is None:
                    raise KeyError(spec.member)
                return fh.read()
        with zipfile.ZipFile(archive) as z:
            return z.read(spec.member)
    except (KeyError, zipfile.BadZipFile, tarfile.TarError, OSError, EOFError) as exc:
        raise ModelError(f"{archive}: cannot read {spec.member} ({exc})") from None


def _unpack(spec: ModelFile, wheel: Path) -> Path:
    """Extract one member of a wheel or tarball into the cache atomically, check its hash."""
    dest = models_dir() / spec.filename
    data = _read_member(spec, wheel)
    with atomic_path(dest) as tmp:
        tmp.write_bytes(data)
        got = sha256_of(tmp)
        if got != spec.sha256:
            raise ModelError(f"{wheel.name}:{spec.member}: sha256 {got} differs from the pinned "
                             f"{spec.sha256}")
        os.chmod(tmp, 0o644)
    return dest


def model_path(name: str, fetch: bool = True) -> Path:
    """The local, hash-checked file of a model, fetched into the cache on first use.

    Args:
        name: a key of :data:`MODELS`.
        fetch: download the wheel or tarball when the file is not cached (False: only look).
    Raises:
        ModelError: unknown name; not cached and cannot be fetched (one line naming
            ``mocap models fetch``); a corrupt download.
    """
    spec = _spec(name)
    found = cached_model(name)
    if found is not None:
        return found
    if not fetch:
        raise ModelError(f"model {name!r} is not in {models_dir()}; run `{FETCH_COMMAND}` "
                         f"(needs the package registry once)")
    dist, version = spec.package
    what = "wheel" if spec.registry == "pypi" else "npm package"
    try:
        wheel = fetch_wheel(dist, version) if spec.registry == "pypi" else \
            fetch_npm(dist, version)
    except DataFetchError as exc:
        if "differs from the pinned" in str(exc):
            raise ModelError(str(exc)) from None
        log.debug("download of %s failed: %s", spec.source, exc)
        raise ModelError(f"model {name!r} is not in {models_dir()} and the {spec.source} "
                         f"{what} that holds it could not be downloaded; run "
                         f"`{FETCH_COMMAND}` when online") from None
    log.info("unpacking %s from %s", spec.member, wheel.name)
    return _unpack(spec, wheel)


def fetch_models(names: "tuple[str, ...] | None" = None) -> dict[str, Path]:
    """Fetch (if needed) and check every model, or the given ones; name -> path."""
    return {n: model_path(n) for n in (names or tuple(MODELS))}
