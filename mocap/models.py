"""Model files of the detectors, fetched once and kept in the user's cache.

The BlazePose person detector and landmark model ship inside the ``mediapipe==0.10.21`` wheel
(newer wheels ship none). That wheel is downloaded from the package registry with
``pip download --no-deps`` (never installed: it pins numpy<2), checked against its pinned
sha256 (:data:`mocap.datasets.PINNED_WHEELS`), and the two ``.tflite`` files are unpacked into
``<cache>/models/`` and checked against their own pinned sha256. Later calls only re-hash the
cached files. Offline without a cached copy, :func:`model_path` raises :class:`ModelError`
naming the command that fixes it (``mocap models fetch``).
"""
from __future__ import annotations

import logging
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

from exporters.atomic import atomic_path

from .datasets import cache_dir, fetch_wheel, sha256_of
from .errors import DataFetchError, ModelError

log = logging.getLogger(__name__)

__all__ = ["ModelFile", "MODELS", "ModelError", "model_path", "cached_model", "fetch_models",
           "models_dir", "FETCH_COMMAND"]

#: The command a user runs (online) to fill the cache.
FETCH_COMMAND = "mocap models fetch"


@dataclass(frozen=True)
class ModelFile:
    """One model file inside a pinned wheel.

    Attributes:
        name: short name (``pose_detection``), also the cached file's stem.
        wheel: (distribution, version) of the pinned wheel that holds it.
        member: the file's path inside the wheel.
        sha256: hash of the file itself.
        description: one line for ``mocap models``.
    """

    name: str
    wheel: tuple[str, str]
    member: str
    sha256: str
    description: str

    @property
    def filename(self) -> str:
        return self.name + Path(self.member).suffix


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
)}


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


def _unpack(spec: ModelFile, wheel: Path) -> Path:
    """Extract one member of a wheel into the cache atomically and check its hash."""
    dest = models_dir() / spec.filename
    try:
        with zipfile.ZipFile(wheel) as z:
            data = z.read(spec.member)
    except (KeyError, zipfile.BadZipFile, OSError) as exc:
        raise ModelError(f"{wheel}: cannot read {spec.member} ({exc})") from None
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
        fetch: download the wheel when the file is not cached (False: only look).
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
    dist, version = spec.wheel
    try:
        wheel = fetch_wheel(dist, version)
    except DataFetchError as exc:
        if "differs from the pinned" in str(exc):
            raise ModelError(str(exc)) from None
        log.debug("download of %s==%s failed: %s", dist, version, exc)
        raise ModelError(f"model {name!r} is not in {models_dir()} and the {dist}=={version} "
                         f"wheel that holds it could not be downloaded; run "
                         f"`{FETCH_COMMAND}` when online") from None
    log.info("unpacking %s from %s", spec.member, wheel.name)
    return _unpack(spec, wheel)


def fetch_models(names: "tuple[str, ...] | None" = None) -> dict[str, Path]:
    """Fetch (if needed) and check every model, or the given ones; name -> path."""
    return {n: model_path(n) for n in (names or tuple(MODELS))}
