"""The detection stage: videos -> per-camera 2D keypoints and heatmaps.

* :mod:`.video`: camera sources (video files or image folders), checked and decoded ahead.
* :mod:`.geometry`: person crops and the affines between crop, heatmap and image pixels.
* :mod:`.blazepose`: BlazePose through LiteRT (detector with SSD anchors, landmark model with
  its 64 x 64 heatmaps, ROI tracking).
* :mod:`.onnx_backend`: top-down heatmap / SimCC ONNX models through onnxruntime.
* :mod:`.types`: what the backends share (:class:`~.types.BackendSpec`, the
  :class:`~.types.DetectorBackend` interface, :class:`~.types.PersonResult`);
  :mod:`.backends`: :func:`~.backends.make_backend`; :mod:`.run`: parallel workers per camera.

:func:`session_detections` is what ``mocap run`` calls: a session's ``pose/`` files when it
has them, otherwise detection on its ``videos/``.
"""
from __future__ import annotations

import logging
from pathlib import Path

from ..errors import SessionError
from ..io.importers import POSE_FILE_EXTENSIONS, import_cameras
from ..types import Detections2D
from .run import detect_session

log = logging.getLogger(__name__)

__all__ = ["session_detections", "pose_files", "detect_session"]


def pose_files(root: Path, camera_names: "tuple[str, ...]") -> "list[Path] | None":
    """``pose/<cam>.json|.csv|.h5`` of every camera (COCO results, DeepLabCut, SLEAP), or None
    when the session has none (an OpenPose folder per camera is read by the session)."""
    folder = Path(root) / "pose"
    found = []
    for cam in camera_names:
        hits = [folder / f"{cam}{ext}" for ext in POSE_FILE_EXTENSIONS
                if (folder / f"{cam}{ext}").is_file()]
        found.append(hits[0] if hits else None)
    if all(f is None for f in found):
        return None
    missing = [c for c, f in zip(camera_names, found) if f is None]
    if missing:
        raise SessionError(f"{folder}: no detections file for camera(s) {', '.join(missing)} "
                           f"(expected pose/<camera>.json, .csv or .h5 like the others)")
    return found  # type: ignore[return-value]


def session_detections(session, rig, settings):
    """The 2D detections of a session, in the rig's camera order.

    In order: ``pose/<cam>/`` OpenPose folders (or ``pose/<cam>.json|.csv|.h5`` files), else
    detection on ``videos/<cam>.<ext>`` (written to ``out/detections.npz``; cameras already
    done with the same inputs and settings are not redone), else a previous
    ``out/detections.npz``.

    Raises:
        SessionError: none of these, naming what was expected.
    """
    root = session.root
    if (root / "pose").is_dir():
        files = pose_files(root, rig.names)
        if files is not None:
            return import_cameras(files, rig.names, settings.detect.format, settings.take.fps)
        return session.detections(rig, settings)
    if (root / "videos").is_dir():
        return detect_session(root, rig.names, settings)
    saved = root / "out" / "detections.npz"
    if saved.is_file():
        det = Detections2D.load(saved)
        if tuple(det.camera_names) != tuple(rig.names):
            raise SessionError(f"{saved}: cameras {list(det.camera_names)} differ from the "
                               f"calibration's {list(rig.names)}")
        return det
    raise SessionError(f"{root}: no 2D detections: expected pose/<camera>/ (OpenPose JSON), "
                       f"pose/<camera>.json|.csv|.h5 (COCO results, DeepLabCut, SLEAP) or "
                       f"videos/<camera>.<ext> to detect people in")
