"""The :class:`Rig`: an ordered, immutable set of calibrated cameras.

Camera order is explicit: the order the cameras were given in, or the order of the tables in
the file they were loaded from; it is never a sort. Every (C, ...) array a rig returns follows
that order.
"""

from __future__ import annotations

import dataclasses
import logging
import operator
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from calibration.camera import Camera
from calibration.errors import CalibrationError, CalibrationFileError, UnknownCameraError
from calibration.formats import ANIPOSE, RigMetadata, read_calibration, write_calibration

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rig:
    """Ordered cameras with unique names, and what the calibration file said about them.

    Attributes:
        cameras: the cameras, in rig order (a list is accepted and stored as a tuple).
        metadata: bundle-adjustment flag and reprojection errors (see
            :class:`~calibration.formats.RigMetadata`).
    """

    cameras: tuple[Camera, ...]
    metadata: RigMetadata = RigMetadata()

    def __post_init__(self) -> None:
        cams = tuple(self.cameras)
        if not cams:
            raise CalibrationError("rig cameras: expected at least one camera, found none")
        for i, cam in enumerate(cams):
            if not isinstance(cam, Camera):
                raise CalibrationError(
                    f"rig camera {i}: expected a Camera, found {type(cam).__name__}"
                )
        names = [c.name for c in cams]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise CalibrationError(
                f"rig cameras: expected unique names, found {dupes} more than once in {names}"
            )
        per_camera = self.metadata.error_px_per_camera
        if per_camera is not None and len(per_camera) != len(cams):
            raise CalibrationError(
                f"rig metadata error_px_per_camera: expected {len(cams)} numbers (one per camera), "
                f"found {len(per_camera)}"
            )
        object.__setattr__(self, "cameras", cams)

    # -- access

    @property
    def names(self) -> tuple[str, ...]:
        """Camera names in rig order."""
        return tuple(c.name for c in self.cameras)

    def __len__(self) -> int:
        return len(self.cameras)

    def __iter__(self) -> Iterator[Camera]:
        return iter(self.cameras)

    def __getitem__(self, key: int | str) -> Camera:
        """The camera at an index (negative counts from the end) or with a name."""
        if isinstance(key, str):
            return self.cameras[self.index(key)]
        try:
            i = operator.index(key)
        except TypeError:
            raise CalibrationError(
                f"rig key: expected a camera index or name, found {type(key).__name__} {key!r}"
            ) from None
        if not -len(self) <= i < len(self):
            raise CalibrationError(
                f"rig index: expected -{len(self)} <= index < {len(self)}, found {i}"
            )
        return self.cameras[i]

    def index(self, name: str) -> int:
        """Position of the camera called ``name``; UnknownCameraError lists the known names."""
        try:
            return self.names.index(name)
        except ValueError:
            raise UnknownCameraError(name, self.names) from None

    def subset(self, names: Iterable[str]) -> "Rig":
        """A rig of the named cameras, in the order the names are given.

        Per-camera errors follow the cameras; the overall error, which described the full
        rig, is dropped.
        """
        if isinstance(names, str):
            raise CalibrationError(
                f"subset names: expected a sequence of camera names, found the string {names!r}"
            )
        idx = [self.index(n) for n in names]
        per_camera = self.metadata.error_px_per_camera
        metadata = dataclasses.replace(
            self.metadata,
            error_px=None,
            error_px_per_camera=None if per_camera is None else tuple(per_camera[i] for i in idx),
        )
        return Rig(tuple(self.cameras[i] for i in idx), metadata)

    # -- geometry

    @property
    def P(self) -> np.ndarray:
        """(C, 3, 4) projection matrices ``K [R | t]`` in rig order (distortion ignored)."""
        return np.stack([c.P for c in self.cameras])

    def project(self, X_world: Any) -> np.ndarray:
        """(..., 3) world points, metres -> (C, ..., 2) pixels per camera, NaN behind a camera."""
        return np.stack([c.project(X_world) for c in self.cameras])

    # -- files

    @classmethod
    def load(cls, path: str | os.PathLike, fmt: str | None = None) -> "Rig":
        """Load an anipose or Pose2Sim TOML file (``fmt`` None: detect it); cameras in file
        order."""
        p = Path(path)
        if p.suffix.lower() != ".toml":
            raise CalibrationFileError(
                p,
                "expected a .toml calibration file (anipose or Pose2Sim), "
                f"found suffix {p.suffix!r}",
            )
        found, cameras, metadata = read_calibration(p, fmt)
        log.info(
            "loaded %d cameras %s from %s (%s format)",
            len(cameras),
            [c.name for c in cameras],
            p,
            found,
        )
        return cls(cameras, metadata)

    def save(self, path: str | os.PathLike, fmt: str = ANIPOSE) -> None:
        """Write the rig atomically as anipose TOML (default) or Pose2Sim TOML (``"pose2sim"``)."""
        write_calibration(path, self.cameras, self.metadata, fmt)

    def __repr__(self) -> str:
        return f"Rig(cameras={list(self.names)}, metadata={self.metadata})"
