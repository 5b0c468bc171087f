"""AMASS-style ``.npz`` files of body parameters (and of any ``Skeleton`` + ``Motion``).

AMASS (the archive of SMPL-family fits) stores one take per ``.npz``; its layout is what
tools that load SMPL motions expect. What ``write_amass`` writes (all arrays float64 unless
said otherwise; world frame Z up, metres, as AMASS and our world are):

- ``poses`` (F, 3 J): axis-angle (radians) of every joint's LOCAL rotation, joint by joint in
  the model's order; the first three are the root's rotation relative to the world
  (``global_orient``), the rest the body joints (SMPL: 23 more; SMPL-H: 51 more).
- ``trans`` (F, 3): the body's translation: the root joint is at ``rest root + trans``.
- ``root_orient`` (F, 3) and ``pose_body`` (F, 3 (J - 1)): the same numbers split as
  newer AMASS files do.
- ``betas`` (B,) shape coefficients, ``num_betas``, ``gender`` ("neutral", "male", "female"),
  ``surface_model_type`` ("smpl", "smplh", "smplx", "anny", or "skeleton" for a plain
  skeleton), ``mocap_framerate`` and ``mocap_frame_rate`` (frames per second; AMASS used both
  names over time), ``mocap_time_length`` (seconds).
- For a plain skeleton (no body model: ``surface_model_type = "skeleton"``), also the skeleton
  itself: ``joint_names`` (J,), ``parents`` (J,) int64, ``offsets`` (J, 3) metres, so that the
  file reads back into the exact ``Skeleton`` + ``Motion``.

Strings are stored as NumPy unicode arrays, so files load with ``allow_pickle=False``.
"""

from __future__ import annotations

import logging
import os
import zipfile
import zlib
from dataclasses import dataclass, field

import numpy as np

from exporters.atomic import atomic_write
from exporters.errors import ExportError, FormatError, MotionError, SkeletonError
from exporters.npz import write_npz
from exporters.skeleton import Motion, Skeleton

__all__ = ["AmassMotion", "write_amass", "read_amass", "motion_to_amass", "amass_to_motion", "GENDERS"]

logger = logging.getLogger(__name__)

GENDERS = ("neutral", "male", "female")
"""Values of the ``gender`` field."""


@dataclass(frozen=True, eq=False)
class AmassMotion:
    """Body parameters of one take (AMASS layout).

    Attributes:
        poses: (F, 3 J) axis-angle, radians: local rotation of each joint (root first).
        trans: (F, 3) metres, world frame (Z up): translation of the body.
        fps: frames per second.
        betas: (B,) shape coefficients (empty for a plain skeleton).
        gender: one of ``GENDERS``.
        model_type: "smpl", "smplh", "smplx", "anny" or "skeleton".
        skeleton: the plain skeleton the poses belong to (``model_type == "skeleton"``), else None.
    """

    poses: np.ndarray
    trans: np.ndarray
    fps: float
    betas: np.ndarray = field(default_factory=lambda: np.zeros(0))
    gender: str = "neutral"
    model_type: str = "smpl"
    skeleton: Skeleton | None = None

    def __post_init__(self) -> None:
        poses = np.asarray(self.poses, dtype=np.float64)
        trans = np.asarray(self.trans, dtype=np.float64)
        if poses.ndim != 2 or poses.shape[1] % 3 or poses.shape[1] == 0:
            raise MotionError(f"AMASS poses: expected shape (F, 3 J), found {poses.shape}")
        if trans.shape != (poses.shape[0], 3):
            raise MotionError(f"AMASS trans: expected shape ({poses.shape[0]}, 3), found {trans.shape}")
        for name, values in (("poses", poses), ("trans", trans)):
            if not np.all(np.isfinite(values)):
                f = int(np.argwhere(~np.isfinite(values))[0, 0])
                raise MotionError(f"AMASS {name}[frame {f}]: expected finite values, found {values[f].tolist()}")
        if not np.isfinite(self.fps) or self.fps <= 0:
            raise MotionError(f"AMASS fps: expected a finite number > 0, found {self.fps!r}")
        betas = np.array(self.betas, dtype=np.float64).reshape(-1)
        if self.gender not in GENDERS:
            raise ExportError(f"AMASS gender: expected one of {list(GENDERS)}, found {self.gender!r}")
        if self.skeleton is not None and self.skeleton.num_joints * 3 != poses.shape[1]:
            raise SkeletonError(f"AMASS skeleton: expected {poses.shape[1] // 3} joints (the poses'), "
                                f"found {self.skeleton.num_joints}")
        object.__setattr__(self, "poses", poses)
        object.__setattr__(self, "trans", trans)
        object.__setattr__(self, "betas", betas)
        object.__setattr__(self, "fps", float(self.fps))

    @property
    def num_frames(self) -> int:
        return int(self.poses.shape[0])

    @property
    def num_joints(self) -> int:
        return int(self.poses.shape[1] // 3)


def motion_to_amass(skeleton: Skeleton, motion: Motion) -> AmassMotion:
    """A plain skeleton's motion in the AMASS layout (``model_type = "skeleton"``).

    ``poses`` are the axis-angle of ``motion.rotations`` (local, rest = identity) and
    ``trans = root_translation - rest root position`` (AMASS's meaning of ``trans``).
    """
    motion.check_matches(skeleton)
    from scipy.spatial.transform import Rotation  # lazy: scipy.spatial costs ~0.25 s to import
    rotvecs = Rotation.from_matrix(motion.rotations.reshape(-1, 3, 3)).as_rotvec()
    poses = rotvecs.reshape(motion.num_frames, 3 * skeleton.num_joints)
    return AmassMotion(poses, motion.root_translation - skeleton.offsets[0], motion.fps, model_type="skeleton",
                       skeleton=skeleton)


def amass_to_motion(amass: AmassMotion, skeleton: Skeleton | None = None) -> tuple[Skeleton, Motion]:
    """The ``Skeleton`` + ``Motion`` of an AMASS take.

    Args:
        amass: the take.
        skeleton: the skeleton the poses drive (a body model's, for its betas); defaults to
            ``amass.skeleton`` (files of plain skeletons carry it).

    Raises:
        SkeletonError: no skeleton given or stored, or a joint count that differs.
    """
    skeleton = skeleton or amass.skeleton
    if skeleton is None:
        raise SkeletonError(f"AMASS {amass.model_type} take: expected a skeleton (the body model's), found none")
    if skeleton.num_joints != amass.num_joints:
        raise SkeletonError(
            f"AMASS poses: expected {skeleton.num_joints} joints (the skeleton's), found {amass.num_joints}"
        )
    from scipy.spatial.transform import Rotation  # lazy: scipy.spatial costs ~0.25 s to import
    rotations = Rotation.from_rotvec(amass.poses.reshape(-1, 3)).as_matrix()
    rotations = rotations.reshape(amass.num_frames, amass.num_joints, 3, 3)
    return skeleton, Motion(rotations, amass.trans + skeleton.offsets[0], amass.fps)


def _arrays(amass: AmassMotion) -> dict[str, np.ndarray]:
    arrays = {
        "poses": amass.poses,
        "trans": amass.trans,
        "root_orient": amass.poses[:, :3],
        "pose_body": amass.poses[:, 3:],
        "betas": amass.betas,
        "num_betas": np.array(amass.betas.size),
        "gender": np.array(amass.gender),
        "surface_model_type": np.array(amass.model_type),
        "mocap_framerate": np.array(amass.fps),
        "mocap_frame_rate": np.array(amass.fps),
        "mocap_time_length": np.array(amass.num_frames / amass.fps),
    }
    if amass.skeleton is not None:
        arrays.update(joint_names=np.array(amass.skeleton.joint_names), parents=amass.skeleton.parents,
                      offsets=amass.skeleton.offsets)
    return arrays


def write_amass(path: str | os.PathLike[str], amass: AmassMotion) -> None:
    """Write an AMASS-style ``.npz`` atomically (layout: module docstring; members deflated
    at level 1, or stored where float motion would hardly shrink: :func:`write_npz`)."""
    with atomic_write(path, "wb") as handle:
        write_npz(handle, _arrays(amass))
    logger.info("wrote %s: %s, %d joints, %d frames at %g fps", path, amass.model_type, amass.num_joints,
                amass.num_frames, amass.fps)


def _text(data: dict, key: str, default: str, source: str) -> str:
    if key not in data:
        return default
    value = data[key]
    if value.size != 1:
        raise FormatError(source, f"key {key!r}", "one text value", f"shape {value.shape}")
    return value.item().decode() if isinstance(value.item(), bytes) else str(value.item())


def _scalar(data: dict, key: str, source: str) -> float:
    """The number stored under ``key`` (a one-element array)."""
    value = data[key]
    if value.size != 1 or value.dtype.kind not in "biuf":
        raise FormatError(source, f"key {key!r}", "one number", f"shape {value.shape}, dtype {value.dtype}")
    return float(value.item())


def read_amass(path: str | os.PathLike[str]) -> AmassMotion:
    """Read an AMASS-style ``.npz`` (ours or AMASS's own: ``poses``, ``trans``, a frame rate).

    Raises:
        FormatError: not an .npz, a missing key, or values of the wrong shape (naming them).
        FileNotFoundError: no such file.
    """
    source = str(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            data = {key: npz[key] for key in npz.files}
    except FileNotFoundError:
        raise
    except (OSError, ValueError, EOFError, zlib.error, zipfile.BadZipFile) as exc:  # corrupt members
        raise FormatError(source, "file", "an .npz without pickled objects", str(exc)) from None
    for key in ("poses", "trans"):
        if key not in data:
            raise FormatError(source, f"key {key!r}", "present", f"keys {sorted(data)}")
    rate_key = next((k for k in ("mocap_framerate", "mocap_frame_rate") if k in data), None)
    if rate_key is None:
        raise FormatError(source, "key 'mocap_framerate'", "present (or 'mocap_frame_rate')", f"keys {sorted(data)}")
    for key in ("poses", "trans", "betas", "parents", "offsets"):
        if key in data and data[key].dtype.kind not in "biuf":
            raise FormatError(source, f"key {key!r}", "numbers", f"dtype {data[key].dtype}")
    skeleton = None
    try:
        if "joint_names" in data:
            skeleton = Skeleton(tuple(str(n) for n in np.atleast_1d(data["joint_names"])), data["parents"],
                                data["offsets"])
        return AmassMotion(data["poses"], data["trans"], _scalar(data, rate_key, source), data.get("betas", np.zeros(0)),
                           _text(data, "gender", "neutral", source), _text(data, "surface_model_type", "smpl", source), skeleton)
    except (KeyError, UnicodeDecodeError, ExportError) as exc:
        raise FormatError(source, "content", "a valid AMASS take", str(exc)) from None

