"""The :class:`Rig`: an ordered, immutable set of calibrated cameras, and
:class:`RigArrays`, the same cameras as batched arrays (numpy, or torch tensors on a device).

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
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from calibration.camera import Camera
from calibration.errors import CalibrationError, CalibrationFileError, UnknownCameraError
from calibration.io.formats import ANIPOSE, RigMetadata, read_calibration, write_calibration
from calibration.lens import FISHEYE, N_COEFFS, distort, pad_coefficients

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rig:
    """Ordered cameras with unique names, and what the calibration file said about them.

    Attributes:
        cameras: the cameras, in rig order (a list is accepted and stored as a tuple).
        metadata: bundle-adjustment flag and reprojection errors (see
            :class:`~calibration.io.formats.RigMetadata`).
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

    def arrays(self) -> "RigArrays":
        """The cameras as batched numpy arrays (see :class:`RigArrays`; ``.to(device)`` for
        torch). Built once per rig and shared: the arrays are read-only."""
        cached = self.__dict__.get("_arrays")
        if cached is None:
            cached = RigArrays.from_cameras(self.cameras)
            object.__setattr__(self, "_arrays", cached)  # a cache, not a field
        return cached

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


def _ns(x):
    """numpy, or torch when ``x`` is a tensor (imported only then)."""
    if type(x).__module__.startswith("torch"):
        import torch

        return torch
    return np


def _read_only(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class RigArrays:
    """A rig's cameras as batched arrays: read-only numpy arrays (:meth:`Rig.arrays`), or
    torch tensors on one device (:meth:`to`). C cameras, rig order; frames and units as in
    :class:`~calibration.camera.Camera`.

    Attributes:
        K: (C, 3, 3) intrinsics, pixels (zero skew).
        dist: (C, 8) lens coefficients, zero-padded: pinhole ``(k1, k2, p1, p2, k3, k4, k5,
            k6)``, fisheye ``(k1, k2, k3, k4, 0, 0, 0, 0)`` (see :mod:`calibration.lens`).
        fisheye: (C,) bool, the camera's model is fisheye.
        R_cam_from_world: (C, 3, 3) rotations world -> camera.
        t_cam_from_world: (C, 3) translations world -> camera, metres.
        rvec: (C, 3) Rodrigues vectors of ``R_cam_from_world``, radians (each camera's own,
            :attr:`Camera.rvec`).
        centers: (C, 3) camera centres, world frame, metres.
        size_wh: (C, 2) image (width, height), pixels (integers).
    """

    K: Any
    dist: Any
    fisheye: Any
    R_cam_from_world: Any
    t_cam_from_world: Any
    rvec: Any
    centers: Any
    size_wh: Any

    @classmethod
    def from_cameras(cls, cameras: Sequence[Camera]) -> "RigArrays":
        """The arrays of ``cameras`` (in their order), numpy float64 (read-only)."""
        cams = tuple(cameras)
        if not cams:
            raise CalibrationError("rig arrays: expected at least one camera, found none")
        return cls(
            K=_read_only(np.stack([c.K for c in cams])),
            dist=_read_only(np.stack([pad_coefficients(c.dist, N_COEFFS) for c in cams])),
            fisheye=_read_only(np.array([c.model == FISHEYE for c in cams])),
            R_cam_from_world=_read_only(np.stack([c.R_cam_from_world for c in cams])),
            t_cam_from_world=_read_only(np.stack([c.t_cam_from_world for c in cams])),
            rvec=_read_only(np.stack([c.rvec for c in cams])),
            centers=_read_only(np.stack([c.center for c in cams])),
            size_wh=_read_only(np.array([c.size_wh for c in cams], dtype=np.int64)),
        )

    def __len__(self) -> int:
        return int(self.K.shape[0])

    def to(self, device=None, dtype=None) -> "RigArrays":
        """The same arrays as torch tensors on ``device``: floats as ``dtype`` (default
        float64), ``fisheye`` bool, ``size_wh`` int64. torch is imported here."""
        import torch

        dtype = torch.float64 if dtype is None else dtype
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        kinds = {"fisheye": torch.bool, "size_wh": torch.int64}
        return RigArrays(**{  # numpy arrays copied: they are read-only
            k: torch.as_tensor(np.array(v) if isinstance(v, np.ndarray) else v,
                               dtype=kinds.get(k, dtype), device=device)
            for k, v in fields.items()
        })

    def lens_coefficients(self, ndim: int = 1):
        """(8, C, 1, ...) the lens coefficients as rows for :func:`calibration.lens.distort`,
        each broadcasting against (C, ...) coordinates with ``ndim`` axes after C."""
        d = self.dist.T
        return d.reshape(tuple(d.shape) + (1,) * ndim)

    def fisheye_mask(self, ndim: int = 1):
        """(C, 1, ...) the fisheye flags broadcasting against (C, ...) with ``ndim`` axes
        after C."""
        return self.fisheye.reshape(tuple(self.fisheye.shape) + (1,) * ndim)

    def project(self, X_world):
        """Project world points into every camera through the full lens model.

        Args:
            X_world: (..., 3) world points, metres (numpy, or torch like the arrays).

        Returns:
            ``(xy_px, depth)``: (C, ..., 2) pixels, NaN where ``depth <= 0`` (behind the
            camera); (C, ...) depth ``z`` in each camera frame, metres. In torch the
            gradient is finite wherever the pixels are.
        """
        xp = _ns(self.K)
        nb = X_world.ndim - 1
        C = len(self)
        t = self.t_cam_from_world.reshape((C,) + (1,) * nb + (3,))
        X_cam = xp.einsum("cij,...j->c...i", self.R_cam_from_world, X_world) + t
        depth = X_cam[..., 2]
        in_front = depth > 0
        z = xp.where(in_front, depth, xp.ones_like(depth))
        xd, yd = distort(X_cam[..., 0] / z, X_cam[..., 1] / z, self.lens_coefficients(nb),
                         fisheye=self.fisheye_mask(nb), jacobian=False)
        K = self.K.reshape((C,) + (1,) * nb + (3, 3))
        u = K[..., 0, 0] * xd + K[..., 0, 1] * yd + K[..., 0, 2]
        v = K[..., 1, 1] * yd + K[..., 1, 2]
        xy = xp.stack([u, v], -1)
        return xp.where(in_front[..., None], xy, xp.full_like(xy, float("nan"))), depth
