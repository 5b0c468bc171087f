"""What the detector backends share: the spec a backend is built from, the interface every
backend offers, and one person's result in one frame.

Both backends (:mod:`.backends` for BlazePose, :mod:`.onnx_backend`) and the stage that runs
them (:mod:`.run`) import these; nothing here imports a backend.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from ..errors import DetectorError
from ..keypoints import get_format
from ..settings import DetectBackend, PersonBoxes, choices
from ..settings_rules import BLAZEPOSE_MODELS

__all__ = ["BACKENDS", "PERSON_BOXES", "BackendSpec", "PersonResult", "DetectorBackend",
           "resolve_model", "DEFAULT_LANDMARK_MODEL"]

#: The BlazePose landmark model used when ``[detect] model`` is empty (README: why).
DEFAULT_LANDMARK_MODEL = "heavy"

BACKENDS: tuple[str, ...] = choices(DetectBackend)
"""Detector backends (``[detect] backend``)."""
PERSON_BOXES: tuple[str, ...] = choices(PersonBoxes)
"""Where the ONNX backend's crops come from (``[detect] person_boxes``)."""


@dataclass(frozen=True)
class BackendSpec:
    """Which detector to build, and how (small and picklable: worker processes receive it).

    Attributes:
        kind: ``blazepose`` or ``onnx``.
        model: ONNX model file (kind ``onnx``).
        landmark_model: the BlazePose landmark model, ``heavy``, ``full`` or ``lite``.
        model_format: keypoint format of the ONNX model's joints.
        max_people: most people followed per camera (the cap on P).
        detect_interval: BlazePose: frames between runs of the person detector while fewer
            than ``max_people`` are followed (it also runs whenever somebody is lost).
        min_presence: below this (BlazePose presence; ONNX: mean keypoint confidence) a
            person is dropped and the detector looks again.
        person_boxes: ONNX crops from the BlazePose ``detector`` or the ``full`` frame.
        mean_rgb, std_rgb: ONNX input normalisation, ``(pixel - mean) / std`` on RGB 0..255.
        heatmaps: keep heatmaps.
        flip: BlazePose: also run each crop mirrored and average (twice the landmark time).
        num_threads: CPU threads of the model runtime.
        hands: BlazePose: also run MediaPipe's hand landmark model on each hand (crops from
            the body's wrist, index and pinky points); the output format is then
            ``blazepose75`` (the 33 body points, then 21 per hand).

    A spec built in code is checked here (a spec from ``session.toml`` was checked when the
    file was read).
    """

    kind: str = "blazepose"
    model: str = ""
    landmark_model: str = DEFAULT_LANDMARK_MODEL
    model_format: str = "coco17"
    max_people: int = 1
    detect_interval: int = 10
    min_presence: float = 0.5
    person_boxes: str = "detector"
    mean_rgb: tuple[float, float, float] = (123.675, 116.28, 103.53)
    std_rgb: tuple[float, float, float] = (58.395, 57.12, 57.375)
    heatmaps: bool = True
    flip: bool = True
    num_threads: int = 1
    hands: bool = False

    def __post_init__(self) -> None:
        if self.kind not in BACKENDS:
            raise DetectorError(f"unknown detector backend {self.kind!r}; expected one of "
                                f"{', '.join(BACKENDS)}")
        if self.landmark_model not in BLAZEPOSE_MODELS:
            raise DetectorError(f"unknown BlazePose model {self.landmark_model!r}; expected one "
                                f"of {', '.join(BLAZEPOSE_MODELS)}")
        if self.detect_interval < 1:
            raise DetectorError(f"detect_interval must be >= 1, found {self.detect_interval}")
        if self.max_people < 1:
            raise DetectorError(f"max_people must be >= 1, found {self.max_people}")
        if self.person_boxes not in PERSON_BOXES:
            raise DetectorError(f"person_boxes must be 'detector' or 'full', found "
                                f"{self.person_boxes!r}")
        if self.hands and self.kind != "blazepose":
            raise DetectorError(f"[detect] hands = true needs backend 'blazepose' (the hand "
                                f"crops come from its wrist, index and pinky points), found "
                                f"backend {self.kind!r}")
        if self.kind == "onnx":
            get_format(self.model_format)
            if not self.model:
                raise DetectorError("backend 'onnx' needs a model file ([detect] model)")

    @property
    def format(self) -> str:
        """Keypoint format of the backend's output."""
        if self.kind == "blazepose":
            return "blazepose75" if self.hands else "blazepose33"
        return get_format(self.model_format).name


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


class DetectorBackend(Protocol):
    """A detector holding its models and tracking state (what :func:`.backends.make_backend`
    returns)."""

    format: str
    """Keypoint format of its output (J joints)."""
    heatmap_hw: "tuple[int, int] | None"
    """(h, w) of the heatmaps it gives, None when it keeps none."""

    def process(self, rgb: np.ndarray) -> list[tuple[int, PersonResult]]:
        """(slot, person) for the people followed in an RGB uint8 frame (H, W, 3); a slot is
        the person's index along P for as long as they are followed."""
        ...

    def state(self) -> dict:
        """The tracking state the next frame depends on, JSON-able with floats kept exactly
        (saved with each checkpoint of a camera, :mod:`.chunks`). A backend without
        ``state`` and ``restore`` is taken to keep none."""
        ...

    def restore(self, state: dict) -> None:
        """Continue from a :meth:`state`: the next frames give what they would have given
        after the frames that produced it."""
        ...


def resolve_model(path: str, root: "Path | None") -> Path:
    """An ONNX model path, relative paths taken from ``root`` (the session folder).

    Raises:
        DetectorError: no such file.
    """
    p = Path(path).expanduser()
    if not p.is_absolute() and root is not None:
        p = Path(root) / p
    if not p.is_file():
        raise DetectorError(f"ONNX model {p} not found ([detect] model)")
    return p
