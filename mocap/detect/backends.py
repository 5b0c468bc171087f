"""Detector backends: one interface over BlazePose (LiteRT) and top-down ONNX models.

A backend holds its models and tracking state and turns one RGB frame into the people it
follows, each a :class:`~.types.PersonResult` in the backend's keypoint format (the interface
is :class:`~.types.DetectorBackend`). :func:`make_backend` builds one from a
:class:`~.types.BackendSpec` (a small, picklable description that worker processes receive).
"""
from __future__ import annotations

import logging

import numpy as np

from ..models import landmark_model_name, model_path
from .blazepose import NUM_BODY, PoseDetector, PoseLandmarker
from .hands import HandLandmarker, detect_hands, point_heatmaps
from .onnx_backend import OnnxTopDownBackend
from .tracking import BlazePoseTracker
from .types import BackendSpec, DetectorBackend, PersonResult

log = logging.getLogger(__name__)

__all__ = ["BlazePoseBackend", "make_backend"]


class BlazePoseBackend:
    """BlazePose 33 landmarks (the heavy, full or lite landmark model) with ROI tracking (see
    :mod:`.blazepose`); with ``spec.hands``, each person's two hands too (:mod:`.hands`:
    format ``blazepose75``; their heatmaps are Gaussians on the body's heatmap grid)."""

    def __init__(self, spec: BackendSpec):
        self.spec = spec
        self.format = spec.format
        self.hands = HandLandmarker(model_path("hand_landmark_full"), spec.num_threads) \
            if spec.hands else None
        self.tracker = BlazePoseTracker(
            PoseDetector(model_path("pose_detection"), spec.num_threads),
            PoseLandmarker(model_path(landmark_model_name(spec.landmark_model)),
                           spec.num_threads, flip=spec.flip),
            max_people=spec.max_people, min_presence=spec.min_presence,
            detect_interval=spec.detect_interval)
        self.heatmap_hw = (64, 64) if spec.heatmaps else None

    def state(self) -> dict:
        """The tracking state (the hands keep none): see :meth:`BlazePoseTracker.state`."""
        return self.tracker.state()

    def restore(self, state: dict) -> None:
        """Continue from a :meth:`state`."""
        self.tracker.restore(state)

    def process(self, rgb: np.ndarray) -> list[tuple[int, PersonResult]]:
        """(slot, person) for the people followed in an RGB uint8 frame (H, W, 3)."""
        out = []
        for slot, r in self.tracker.process(rgb):
            xy, conf = r.xy[:NUM_BODY], r.visibility[:NUM_BODY]
            hm = r.heatmaps[:NUM_BODY] if self.spec.heatmaps else None
            aff = r.image_from_heatmap if self.spec.heatmaps else None
            if self.hands is not None:
                hand_xy, hand_conf = detect_hands(self.hands, rgb, xy)
                xy, conf = np.concatenate([xy, hand_xy]), np.concatenate([conf, hand_conf])
                if hm is not None:
                    hm = np.concatenate([hm, point_heatmaps(hand_xy, hand_conf, aff,
                                                            hm.shape[1:])])
            out.append((slot, PersonResult(xy, conf, hm, aff)))
        return out


def make_backend(spec: BackendSpec) -> DetectorBackend:
    """Build the backend a spec describes (loads its models)."""
    if spec.kind == "blazepose":
        return BlazePoseBackend(spec)
    return OnnxTopDownBackend(spec)
