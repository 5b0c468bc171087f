"""Detector backends: one interface over BlazePose (LiteRT) and top-down ONNX models.

A backend holds its models and tracking state and turns one RGB frame into the people it
follows, each a :class:`PersonResult` in the backend's keypoint format. :func:`make_backend`
builds one from a :class:`BackendSpec` (a small, picklable description that worker processes
receive).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import MocapError
from ..keypoints import get_format

log = logging.getLogger(__name__)

__all__ = ["BackendSpec", "PersonResult", "BlazePoseBackend", "make_backend", "BACKENDS",
           "DetectorError"]

BACKENDS = ("blazepose", "onnx")


class DetectorError(MocapError):
    """A detector that cannot be built: unknown backend, missing or unsuitable model."""


@dataclass(frozen=True)
class BackendSpec:
    """Which detector to build, and how.

    Attributes:
        kind: ``blazepose`` or ``onnx``.
        model: ONNX model file (kind ``onnx``).
        model_format: keypoint format of the ONNX model's joints.
        max_people: people followed per camera (P).
        min_presence: below this (BlazePose presence; ONNX: mean keypoint confidence) a
            person is dropped and the detector looks again.
        person_boxes: ONNX crops from the BlazePose ``detector`` or the ``full`` frame.
        mean_rgb, std_rgb: ONNX input normalisation, ``(pixel - mean) / std`` on RGB 0..255.
        heatmaps: keep heatmaps.
        num_threads: CPU threads of the model runtime.
    """

    kind: str = "blazepose"
    model: str = ""
    model_format: str = "coco17"
    max_people: int = 1
    min_presence: float = 0.5
    person_boxes: str = "detector"
    mean_rgb: tuple[float, float, float] = (123.675, 116.28, 103.53)
    std_rgb: tuple[float, float, float] = (58.395, 57.12, 57.375)
    heatmaps: bool = True
    num_threads: int = 1

    def __post_init__(self) -> None:
        if self.kind not in BACKENDS:
            raise DetectorError(f"unknown detector backend {self.kind!r}; expected one of "
                                f"{', '.join(BACKENDS)}")
        if self.max_people < 1:
            raise DetectorError(f"max_people must be >= 1, found {self.max_people}")
        if self.person_boxes not in ("detector", "full"):
            raise DetectorError(f"person_boxes must be 'detector' or 'full', found "
                                f"{self.person_boxes!r}")
        if self.kind == "onnx":
            get_format(self.model_format)
            if not self.model:
                raise DetectorError("backend 'onnx' needs a model file ([detect] model)")

    @property
    def format(self) -> str:
        """Keypoint format of the backend's output."""
        return "blazepose33" if self.kind == "blazepose" else get_format(self.model_format).name


@dataclass(frozen=True)
class PersonResult:
    """One person in one frame.

    Attributes:
        xy: (J, 2) image pixels. conf: (J,) in [0, 1].
        heatmaps: (J, h, w) float32 probabilities, or None.
        image_from_heatmap: (2, 3) affine from heatmap cell (u, v) to image pixels, or None.
    """

    xy: np.ndarray
    conf: np.ndarray
    heatmaps: "np.ndarray | None" = None
    image_from_heatmap: "np.ndarray | None" = None


class BlazePoseBackend:
    """BlazePose 33 landmarks with ROI tracking (see :mod:`.blazepose`)."""

    format = "blazepose33"

    def __init__(self, spec: BackendSpec):
        from ..models import model_path
        from .blazepose import BlazePoseTracker, PoseDetector, PoseLandmarker
        self.spec = spec
        self.tracker = BlazePoseTracker(
            PoseDetector(model_path("pose_detection"), spec.num_threads),
            PoseLandmarker(model_path("pose_landmark_full"), spec.num_threads),
            max_people=spec.max_people, min_presence=spec.min_presence)
        self.heatmap_hw = (64, 64) if spec.heatmaps else None

    def process(self, rgb: np.ndarray) -> list[tuple[int, PersonResult]]:
        """(slot, person) for the people followed in an RGB uint8 frame (H, W, 3)."""
        from .blazepose import NUM_BODY
        out = []
        for slot, r in self.tracker.process(rgb):
            hm = r.heatmaps[:NUM_BODY] if self.spec.heatmaps else None
            aff = r.image_from_heatmap if self.spec.heatmaps else None
            out.append((slot, PersonResult(r.xy[:NUM_BODY], r.visibility[:NUM_BODY], hm, aff)))
        return out


def make_backend(spec: BackendSpec):
    """Build the backend a spec describes (loads its models)."""
    if spec.kind == "blazepose":
        return BlazePoseBackend(spec)
    from .onnx_backend import OnnxTopDownBackend
    return OnnxTopDownBackend(spec)


def resolve_model(path: str, root: "Path | None") -> Path:
    """An ONNX model path, relative paths taken from ``root`` (the session folder)."""
    p = Path(path).expanduser()
    if not p.is_absolute() and root is not None:
        p = Path(root) / p
    if not p.is_file():
        raise DetectorError(f"ONNX model {p} not found ([detect] model)")
    return p
