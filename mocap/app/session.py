"""A session folder: where a take's inputs are and where its outputs go.

Layout (the session contract)::

    SESSION/
      calibration.toml          anipose-style rig (or calibration/Calib*.toml from Pose2Sim)
      session.toml              optional settings, one table per stage
      pose/<cam>/*.json         OpenPose JSON per frame (or pose/<cam>_json/, Pose2Sim naming),
                                each at the frame its file name numbers (gaps: missing frames)
      pose/<cam>.json|.csv|.h5  or one file per camera: COCO results, DeepLabCut, SLEAP
                                (read by mocap.io.importers through mocap.app.detections)
      heatmaps/<cam>.npz        optional heatmaps (F, P, J, h, w) + affine (F, P, 2, 3)
      videos/<cam>.<ext>        videos, or videos/<cam>/ numbered images: without pose/, `mocap run`
                                detects on them first (mocap.detect -> out/detections.npz)
      out/                      everything the pipeline writes, listed in out/manifest.json
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from calibration import CalibrationError, Rig

from ..errors import DetectionsError, SessionError
from ..keypoints import get_format
from ..io.openpose import numbered_names
from ..settings import Settings, load_settings
from ..types import Detections2D, Manifest, load_npz
from .pose_cache import read_cameras_cached

log = logging.getLogger(__name__)

__all__ = ["Session"]


@dataclass(frozen=True)
class Session:
    """Paths and loaders of one session folder."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))
        if not self.root.is_dir():
            raise SessionError(f"{self.root}: session folder not found")

    @property
    def out(self) -> Path:
        return self.root / "out"

    @property
    def settings_path(self) -> Path:
        return self.root / "session.toml"

    def settings(self) -> Settings:
        return load_settings(self.settings_path)

    def calibration_path(self) -> Path:
        """The calibration file: ``calibration.toml``, else Pose2Sim's ``calibration/Calib*.toml``."""
        main = self.root / "calibration.toml"
        if main.is_file():
            return main
        found = sorted((self.root / "calibration").glob("Calib*.toml"))
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise SessionError(f"{self.root / 'calibration'}: several Calib*.toml files "
                               f"{[p.name for p in found]}; expected one")
        raise SessionError(f"{self.root}: no calibration.toml (nor calibration/Calib*.toml)")

    def rig(self) -> Rig:
        path = self.calibration_path()
        try:
            return Rig.load(path)
        except CalibrationError as exc:
            msg = str(exc)
            raise SessionError(msg if str(path) in msg else f"{path}: {msg}") from None

    def pose_folder(self, camera: str) -> Path:
        """The OpenPose JSON folder of a camera: ``pose/<cam>`` or ``pose/<cam>_json``."""
        for cand in (self.root / "pose" / camera, self.root / "pose" / f"{camera}_json"):
            if cand.is_dir():
                return cand
        have = sorted(p.name for p in (self.root / "pose").glob("*") if p.is_dir()) \
            if (self.root / "pose").is_dir() else []
        raise SessionError(f"{self.root / 'pose'}: no folder for camera {camera!r} (expected "
                           f"pose/{camera}/ or pose/{camera}_json/); found {have}")

    def detections(self, rig: Rig, settings: Settings) -> Detections2D:
        """2D detections of every camera of the rig, in the rig's order, from its OpenPose
        folders.

        Each file sits at the frame its name numbers: the take runs from the first frame
        number over all cameras to the last, and a frame a camera has no file for is missing
        there (NaN, confidence 0); each camera's range is logged.
        """
        fmt = get_format(settings.detect.format)
        folders = [self.pose_folder(cam.name) for cam in rig]
        numbers = [[n for n, _ in numbered_names(f)] for f in folders]
        empty = [str(f) for f, n in zip(folders, numbers) if not n]
        if empty:
            raise DetectionsError(f"{empty[0]}: no *.json files")
        first = min(n[0] for n in numbers)
        F = max(n[-1] for n in numbers) - first + 1
        per_cam = read_cameras_cached(self.out, folders, fmt.name, F, first, rig)
        P = max(xy.shape[1] for xy, _ in per_cam)
        C, J = len(rig), fmt.num_joints
        if all(x.shape == (F, P, J, 2) for x, _ in per_cam):     # one write, no padding
            xy = np.stack([x for x, _ in per_cam]).astype(np.float64, copy=False)
            conf = np.stack([cf for _, cf in per_cam]).astype(np.float32, copy=False)
        else:
            xy = np.full((C, F, P, J, 2), np.nan)
            conf = np.zeros((C, F, P, J), np.float32)
            for c, (x, cf) in enumerate(per_cam):
                xy[c, :, :x.shape[1]] = x
                conf[c, :, :x.shape[1]] = cf
        hm, aff = self._heatmaps(rig, (C, F, P, J))
        return Detections2D(xy=xy, conf=conf, format=fmt.name, camera_names=rig.names,
                            fps=settings.take.fps, heatmaps=hm, heatmap_affine=aff)

    def _heatmaps(self, rig: Rig, shape) -> tuple:
        files = [self.root / "heatmaps" / f"{cam.name}.npz" for cam in rig]
        if not all(f.is_file() for f in files):
            return None, None
        C, F, P, J = shape
        hms, affs = [], []
        for f in files:
            d = load_npz(f, ("heatmaps", "affine"), "heatmaps")
            h, a = d["heatmaps"][:F], d["affine"][:F]
            if h.shape[:3] != (F, P, J) and h.shape[2] == J and h.shape[0] >= F:
                pad = np.zeros((F, P) + h.shape[2:], h.dtype)
                pad[:, :h.shape[1]] = h[:, :P]
                apad = np.zeros((F, P, 2, 3))
                apad[:, :a.shape[1]] = a[:, :P]
                h, a = pad, apad
            if h.shape[:3] != (F, P, J):
                raise DetectionsError(f"{f}: heatmaps have shape {h.shape}, expected "
                                      f"({F}, {P}, {J}, h, w) to match the JSON detections")
            hms.append(h)
            affs.append(a)
        return np.stack(hms), np.stack(affs)

    @property
    def manifest_path(self) -> Path:
        return self.out / "manifest.json"

    def manifest(self) -> Manifest:
        """``out/manifest.json`` (empty when there is none)."""
        return Manifest.load(self.manifest_path)

    def save_manifest(self, manifest: Manifest) -> Path:
        """Write ``out/manifest.json`` (paths relative to ``out/``), naming this session."""
        return replace(manifest, session=str(self.root.resolve())).save(self.manifest_path)
