"""Core containers passed between stages, with their ``.npz`` files.

Shapes use C = cameras (the rig's order), F = frames, P = people, J = joints. Pixel coordinates
follow OpenCV (pixel (0, 0) is the centre of the top-left pixel); 3D points are in the world
frame (right-handed, Z up, metres). Missing data is NaN in coordinates *and* 0 in the separate
confidence array, never 0 in coordinates.
"""
from __future__ import annotations

import json
import logging
import os
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from exporters.atomic import atomic_write
from exporters.npz import write_npz

from .errors import DetectionsError, MocapError, SessionError, expect_shape
from .keypoints import KeypointFormat, get_format

log = logging.getLogger(__name__)

__all__ = ["Detections2D", "Points3D", "Manifest", "save_npz", "load_npz"]


def save_npz(path: "str | os.PathLike", **arrays) -> Path:
    """Write arrays to a compressed ``.npz`` atomically (temp file, then rename): each array
    one ``<name>.npy`` member, deflated at level 1 or stored when it is float noise that
    would hardly shrink (:func:`exporters.npz.write_npz`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "wb") as fh:
        write_npz(fh, arrays)
    return path


def load_npz(path: "str | os.PathLike", required: tuple[str, ...], kind: str) -> dict:
    """Read an ``.npz`` file and check that ``required`` keys are present.

    Raises:
        MocapError: naming the file and the missing key, or the file that cannot be read.
    """
    path = Path(path)
    if not path.is_file():
        raise MocapError(f"{path}: {kind} file not found")
    try:
        with np.load(path, allow_pickle=False) as data:
            out = {k: data[k] for k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise MocapError(f"{path}: cannot read {kind} .npz ({exc})") from None
    for key in required:
        if key not in out:
            raise MocapError(f"{path}: {kind} file lacks key {key!r}; found {sorted(out)}")
    return out


@dataclass(frozen=True)
class Detections2D:
    """Per-camera 2D keypoints (and optionally heatmaps) of a take.

    Attributes:
        xy: (C, F, P, J, 2) float64 image pixels; NaN where missing.
        conf: (C, F, P, J) float32 in [0, 1]; 0 where missing.
        format: keypoint format name (see :mod:`mocap.keypoints`).
        camera_names: (C,) names in the rig's order.
        fps: frames per second of the take.
        heatmaps: optional (C, F, P, J, h, w) float16/float32 likelihood maps.
        heatmap_affine: optional (C, F, P, 2, 3) float64; maps a heatmap cell centre
            ``(u, v, 1)`` (column, row) to image pixels ``(x, y)``.
    """

    xy: np.ndarray
    conf: np.ndarray
    format: str
    camera_names: tuple[str, ...]
    fps: float
    heatmaps: "np.ndarray | None" = None
    heatmap_affine: "np.ndarray | None" = None

    def __post_init__(self) -> None:
        fmt = get_format(self.format)
        object.__setattr__(self, "format", fmt.name)
        object.__setattr__(self, "camera_names", tuple(str(c) for c in self.camera_names))
        C = len(self.camera_names)
        expect_shape("xy", self.xy, (C, None, None, fmt.num_joints, 2), "Detections2D")
        expect_shape("conf", self.conf, self.xy.shape[:4], "Detections2D")
        if not np.isfinite(self.fps) or self.fps <= 0:
            raise DetectionsError(f"Detections2D: fps must be positive, found {self.fps}")
        if (self.heatmaps is None) != (self.heatmap_affine is None):
            raise DetectionsError("Detections2D: heatmaps and heatmap_affine come together")
        if self.heatmaps is not None:
            expect_shape("heatmaps", self.heatmaps, self.xy.shape[:4] + (None, None),
                         "Detections2D")
            expect_shape("heatmap_affine", self.heatmap_affine, self.xy.shape[:3] + (2, 3),
                         "Detections2D")

    @property
    def keypoint_format(self) -> KeypointFormat:
        return get_format(self.format)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """(C, F, P, J)."""
        return tuple(self.conf.shape)  # type: ignore[return-value]

    @property
    def num_frames(self) -> int:
        return self.xy.shape[1]

    def replace(self, **changes) -> "Detections2D":
        return replace(self, **changes)

    def save(self, path: "str | os.PathLike") -> Path:
        arrays = dict(xy=self.xy, conf=self.conf, format=np.array(self.format),
                      camera_names=np.array(self.camera_names), fps=np.array(self.fps))
        if self.heatmaps is not None:
            arrays.update(heatmaps=self.heatmaps, heatmap_affine=self.heatmap_affine)
        return save_npz(path, **arrays)

    @classmethod
    def load(cls, path: "str | os.PathLike") -> "Detections2D":
        d = load_npz(path, ("xy", "conf", "format", "camera_names", "fps"), "detections")
        try:
            return cls(xy=d["xy"].astype(np.float64), conf=d["conf"].astype(np.float32),
                       format=str(d["format"]), camera_names=tuple(d["camera_names"].tolist()),
                       fps=float(d["fps"]), heatmaps=d.get("heatmaps"),
                       heatmap_affine=d.get("heatmap_affine"))
        except MocapError as exc:
            raise type(exc)(f"{path}: {exc}") from None


@dataclass(frozen=True)
class Points3D:
    """Triangulated 3D keypoints of a take.

    Attributes:
        xyz: (F, P, J, 3) float64 metres, world frame (Z up); NaN where missing.
        conf: (F, P, J) float32 in [0, 1]; 0 where missing.
        joint_names: (J,) canonical names of the keypoint format's joints.
        fps: frames per second.
        format: keypoint format name.
        views_used: optional (F, P, J, C) bool: which cameras contributed.
        reproj_err_px: optional (F, P, J) float32 mean reprojection error over the views used.
        camera_names: (C,) names, needed with ``views_used``.
    """

    xyz: np.ndarray
    conf: np.ndarray
    joint_names: tuple[str, ...]
    fps: float
    format: str = ""
    views_used: "np.ndarray | None" = None
    reproj_err_px: "np.ndarray | None" = None
    camera_names: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        object.__setattr__(self, "joint_names", tuple(str(n) for n in self.joint_names))
        object.__setattr__(self, "camera_names", tuple(str(n) for n in self.camera_names))
        J = len(self.joint_names)
        expect_shape("xyz", self.xyz, (None, None, J, 3), "Points3D")
        expect_shape("conf", self.conf, self.xyz.shape[:3], "Points3D")
        if self.views_used is not None:
            expect_shape("views_used", self.views_used,
                         self.xyz.shape[:3] + (len(self.camera_names),), "Points3D")
        if self.reproj_err_px is not None:
            expect_shape("reproj_err_px", self.reproj_err_px, self.xyz.shape[:3], "Points3D")
        if not np.isfinite(self.fps) or self.fps <= 0:
            raise MocapError(f"Points3D: fps must be positive, found {self.fps}")

    @property
    def num_frames(self) -> int:
        return self.xyz.shape[0]

    @property
    def num_views(self) -> "np.ndarray | None":
        """(F, P, J) int: number of cameras used per joint, or None."""
        return None if self.views_used is None else self.views_used.sum(-1)

    def replace(self, **changes) -> "Points3D":
        return replace(self, **changes)

    def save(self, path: "str | os.PathLike") -> Path:
        arrays = dict(xyz=self.xyz, conf=self.conf, joint_names=np.array(self.joint_names),
                      fps=np.array(self.fps), format=np.array(self.format),
                      camera_names=np.array(self.camera_names, dtype=str))
        if self.views_used is not None:
            arrays.update(views_used=self.views_used, num_views=self.num_views)
        if self.reproj_err_px is not None:
            arrays["reproj_err_px"] = self.reproj_err_px
        return save_npz(path, **arrays)

    @classmethod
    def load(cls, path: "str | os.PathLike") -> "Points3D":
        d = load_npz(path, ("xyz", "conf", "joint_names", "fps"), "points3d")
        try:
            return cls(xyz=d["xyz"].astype(np.float64), conf=d["conf"].astype(np.float32),
                       joint_names=tuple(d["joint_names"].tolist()), fps=float(d["fps"]),
                       format=str(d.get("format", "")), views_used=d.get("views_used"),
                       reproj_err_px=d.get("reproj_err_px"),
                       camera_names=tuple(d.get("camera_names", np.array([])).tolist()))
        except MocapError as exc:
            raise type(exc)(f"{path}: {exc}") from None


@dataclass(frozen=True)
class Manifest:
    """``out/manifest.json``: every file a session's pipeline wrote, paths relative to ``out/``.

    Attributes:
        session: the session folder (absolute path, as text).
        artifacts: ``{name: file}`` of the take's artifacts (``points3d``, ``points3d_raw``,
            ``identities``, ``sync``, ``detections``).
        people: one dict per person seen, sorted by ``id``: ``id``, ``frames_seen``, one key per
            export format written (its file), ``files`` (every file of the person) and, when a
            body was fitted, ``body``, ``height_m``, ``meshes`` and ``stages``.
    """

    session: str = ""
    artifacts: dict = field(default_factory=dict)
    people: tuple = ()

    @classmethod
    def load(cls, path: "str | os.PathLike") -> "Manifest":
        """Read a manifest; an absent file gives an empty one.

        Raises:
            SessionError: a file that is not a JSON object with an ``artifacts`` object and a
                ``people`` list.
        """
        path = Path(path)
        if not path.is_file():
            return cls()
        try:
            doc = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SessionError(f"{path}: not valid JSON ({exc})") from None
        if (not isinstance(doc, dict) or not isinstance(doc.get("artifacts", {}), dict)
                or not isinstance(doc.get("people", []), list)):
            raise SessionError(f"{path}: expected an object with an 'artifacts' table and a "
                               f"'people' list")
        if not all(isinstance(p, dict) for p in doc.get("people", [])):
            raise SessionError(f"{path}: expected each of 'people' to be an object")
        return cls(str(doc.get("session", "")), dict(doc.get("artifacts", {})),
                   tuple(dict(p) for p in doc.get("people", [])))

    @classmethod
    def load_or_empty(cls, path: "str | os.PathLike") -> "Manifest":
        """:meth:`load`, except that a file that cannot be read (truncated by a killed run,
        corrupt) is stale: logged as a warning and an empty manifest returned, to be rebuilt
        by the caller's save."""
        try:
            return cls.load(path)
        except SessionError as exc:
            log.warning("%s: unreadable manifest, rebuilt (%s)", path, exc)
            return cls()

    def merge_people(self, entries) -> "Manifest":
        """This manifest with ``entries`` merged into its people, matched by ``id``.

        An entry's keys replace the person's; its ``files`` are added to the person's (a file
        already listed keeps its place, new ones come last). People stay sorted by ``id``.
        """
        by_id = {person.get("id"): dict(person) for person in self.people}
        for entry in entries:
            old = by_id.get(entry["id"], {})
            known = list(old.get("files", []))
            files = known + [f for f in entry.get("files", []) if f not in known]
            by_id[entry["id"]] = {**old, **entry, "files": files}
        people = tuple(by_id[k] for k in sorted(by_id, key=lambda k: (k is None, k)))
        return replace(self, people=people)

    def to_dict(self) -> dict:
        """The JSON document: ``session``, ``artifacts``, ``people``."""
        return {"session": self.session, "artifacts": dict(self.artifacts),
                "people": [dict(p) for p in self.people]}

    def save(self, path: "str | os.PathLike") -> Path:
        """Write the manifest atomically (temporary file, then rename)."""
        path = Path(path)
        with atomic_write(path, "w") as fh:
            json.dump(self.to_dict(), fh, indent=2)
        return path
