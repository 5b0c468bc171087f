"""Hands: MediaPipe's hand landmark model on crops placed from the body's landmarks.

MediaPipe's own pipeline finds hands with a palm detector; that detector ships only inside
the JavaScript package's wasm assets, so, as MediaPipe Holistic does, each hand's region comes
from the body instead: BlazePose's wrist, index and pinky points of that side
(:func:`hand_roi_from_pose`, MediaPipe's ``HandDetectionsFromPoseToRectsCalculator`` followed
by its ``RectTransformationCalculator`` with scale 2.7 and shift -0.1). The landmark model then
runs on that crop, and twice more, each time on the region the previous answer gives
(:func:`hand_roi_from_landmarks`, MediaPipe's hand-tracking ``HandLandmarksToRectCalculator``
with scale 2 and shift -0.1): the pose-placed crop is about twice as wide as the hand needs.
The hand's points are the mean of the last two answers, and each point's confidence is the
hand's presence times how well those two answers agree on it (:func:`agreement`): a point the
model places differently from a slightly moved crop is one it does not see well (a finger
hidden behind the palm, a hand seen edge-on), and triangulation then leans on other views.
On the rendered studio this took the median 3D error of the 42 hand points from 11.8 to
10.9 mm (walk) and from 15.8 to 11.8 mm (bend and reach; ``benchmarks/hands.py``, 12
frames each), against presence alone as every point's confidence after two passes; the
price: about 8 % of the hand points are left missing by triangulation (too little agreeing
confidence in two views) where presence alone left under 0.5 %, most of them filled by the
filter's gap filling (1.8 % and 6.7 % left after it).

``hand_landmark_full.tflite`` (npm ``@mediapipe/hands@0.4.1675469240``, see
:mod:`mocap.models`): input (1, 224, 224, 3) RGB in [0, 1], the crop rotated so that the
fingers point up; outputs ``Identity`` (1, 63): 21 points x (x, y, z) in crop pixels (edge
units, as BlazePose's), ``Identity_1`` (1, 1) hand presence, ``Identity_2`` (1, 1) handedness,
``Identity_3`` (1, 63) world points. Presence and handedness come out of the model as
probabilities already. The handedness is the probability that the crop shows a *right* hand
as seen in an unmirrored image (MediaPipe's label map calls that "Left": its pipeline assumes
mirrored selfie images). One model reads both hands: no crop is mirrored.

The side of a hand comes from the body (the crop of the left wrist is the left hand), not from
the handedness, which is too often wrong: on the rendered studio it named the other side for
11-36 % of the hands (by take and side), among them hands whose points lay within 3 px of
the truth (up to 14 %; ``benchmarks/hands.py``). It only decides which side keeps a hand that both sides' crops
found (hands together). A hand the model's last answer gives less than ``min_presence``, or
whose wrist lies farther from the body's wrist than the body's wrist -> middle finger length
(another hand), is missing (NaN, confidence 0).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .litert import load_interpreter, model_io
from .geometry import (Roi, apply_affine, image_from_crop_affine, image_from_crop_edge,
                       invert_affine, normalize_angle, rotation_2d)

__all__ = ["HAND_INPUT_PX", "NUM_HAND", "HandResult", "HandLandmarker", "hand_roi_from_pose",
           "hand_crop",
           "hand_roi_from_landmarks", "body_hand_points", "BODY_HAND_INDEX", "point_heatmaps",
           "detect_hands", "hand_passes", "agreement", "AGREEMENT_SPREAD"]

HAND_INPUT_PX = 224
NUM_HAND = 21
#: BlazePose 33 indices of (wrist, index, pinky) per side.
BODY_HAND_INDEX = {"left": (15, 19, 17), "right": (16, 20, 18)}
#: Spread of :func:`agreement`, a share of the region's side (the region is about twice the
#: hand: 0.02 is about 4.5 of the model's 224 crop pixels).
AGREEMENT_SPREAD = 0.02
#: Hand points (MediaPipe order) whose bounding box gives the hand-tracking region: wrist,
#: the thumb's CMC, MCP and IP, and each finger's MCP and PIP (MediaPipe's partial list).
_ROI_POINTS = np.array([0, 1, 2, 3, 5, 6, 9, 10, 13, 14, 17, 18])


def _shifted(center_xy: np.ndarray, size_px: float, angle_rad: float, shift_y: float) -> Roi:
    """A region moved by ``shift_y`` of its side along its own "down" direction."""
    c = np.asarray(center_xy, float) + shift_y * size_px * rotation_2d(angle_rad)[:, 1]
    return Roi((float(c[0]), float(c[1])), float(size_px), float(angle_rad))


def hand_roi_from_pose(wrist_xy: np.ndarray, index_xy: np.ndarray, pinky_xy: np.ndarray,
                       scale: float = 2.7, shift_y: float = -0.1) -> "Roi | None":
    """The hand's region from the body's wrist, index and pinky points of one side.

    The middle finger is taken at ``(2 index + pinky) / 3``; the region is centred there,
    rotated so that wrist -> middle finger points up in the crop, of side
    ``2 |middle - wrist|`` times ``scale``, moved by ``shift_y`` of that side (negative:
    towards the fingers), as MediaPipe places hands from pose landmarks.

    Args:
        wrist_xy, index_xy, pinky_xy: (2,) image pixels.
    Returns:
        the region, or None when a point is not finite or the points coincide.
    """
    w, i, p = (np.asarray(v, float) for v in (wrist_xy, index_xy, pinky_xy))
    if not (np.isfinite(w).all() and np.isfinite(i).all() and np.isfinite(p).all()):
        return None
    middle = (2.0 * i + p) / 3.0
    d = middle - w
    box = 2.0 * float(np.hypot(*d))
    if box < 1e-6:
        return None
    angle = normalize_angle(np.pi / 2 - np.arctan2(-d[1], d[0]))
    return _shifted_box(middle, box, angle, scale, shift_y)


def _shifted_box(center_xy: np.ndarray, box_px: float, angle_rad: float, scale: float,
                 shift_y: float) -> Roi:
    """MediaPipe's ``RectTransformationCalculator`` on a square of side ``box_px``: the
    centre moves by ``shift_y * box_px`` along the square's down direction, then the side is
    scaled."""
    moved = _shifted(center_xy, box_px, angle_rad, shift_y)
    return Roi(moved.center_xy, box_px * scale, angle_rad)


def hand_roi_from_landmarks(xy: np.ndarray, scale: float = 2.0, shift_y: float = -0.1
                            ) -> "Roi | None":
    """The hand's region from its own 21 points (MediaPipe's hand tracking).

    Rotation: wrist -> the mean of the middle finger's MCP and of the midpoint of the index
    and ring MCPs points up. Size: the longer side of the box around the palm and lower finger
    points in that rotated frame, times ``scale``; centre: that box's, moved by ``shift_y``
    of the box's side towards the fingers.

    Args:
        xy: (21, 2) image pixels (MediaPipe order).
    """
    xy = np.asarray(xy, float)
    if not np.isfinite(xy).all():
        return None
    w = xy[0]
    tip = 0.5 * (0.5 * (xy[5] + xy[13]) + xy[9])
    d = tip - w
    angle = normalize_angle(np.pi / 2 - np.arctan2(-d[1], d[0]))
    R = rotation_2d(angle)
    local = (xy[_ROI_POINTS] - w) @ R                # crop-aligned coordinates (rows: R^T p)
    lo, hi = local.min(0), local.max(0)
    side = float(max(hi - lo))
    if side < 1e-6:
        return None
    centre = w + R @ (0.5 * (lo + hi))
    return _shifted_box(centre, side, angle, scale, shift_y)


@dataclass(frozen=True)
class HandResult:
    """The hand model's answer for one region.

    Attributes:
        xy: (21, 2) image pixels (MediaPipe order). presence: probability that a hand is in
        the region. right: probability that it is a right hand (unmirrored image). roi: the
        region that was cropped.
    """

    xy: np.ndarray
    presence: float
    right: float
    roi: Roi


class HandLandmarker:
    """MediaPipe's hand landmark model (holds a LiteRT interpreter)."""

    def __init__(self, model_path: "str | Path", num_threads: int = 1):
        self.interpreter = load_interpreter(model_path, num_threads)
        want = {"Identity": (1, 3 * NUM_HAND), "Identity_1": (1, 1), "Identity_2": (1, 1)}
        self._in, outs = model_io(self.interpreter, model_path,
                                  "the MediaPipe hand landmark model", HAND_INPUT_PX, want)
        self._lm, self._presence, self._side = (outs[k] for k in want)

    def on_crop(self, crop: np.ndarray) -> tuple[np.ndarray, float, float]:
        """The model on a (224, 224, 3) uint8 RGB crop: points (21, 2) in crop edge units
        (0 = the crop's left/top edge), presence and P(right hand)."""
        self.interpreter.set_tensor(self._in, crop.astype(np.float32)[None] / 255.0)
        self.interpreter.invoke()
        raw = self.interpreter.get_tensor(self._lm).reshape(NUM_HAND, 3)
        presence = float(self.interpreter.get_tensor(self._presence).reshape(()))
        right = float(self.interpreter.get_tensor(self._side).reshape(()))
        return raw[:, :2].astype(np.float64), presence, right

    def __call__(self, rgb: np.ndarray, roi: Roi) -> HandResult:
        """The hand in ``roi`` of an (H, W, 3) uint8 RGB frame."""
        xy_edge, presence, right = self.on_crop(hand_crop(rgb, roi))
        return HandResult(xy=image_from_crop_edge(roi, HAND_INPUT_PX, xy_edge),
                          presence=presence, right=right, roi=roi)


def hand_crop(rgb: np.ndarray, roi: Roi) -> np.ndarray:
    """The (224, 224, 3) crop of ``roi`` the hand model reads (outside the frame: black)."""
    n = HAND_INPUT_PX
    return cv2.warpAffine(rgb, invert_affine(image_from_crop_affine(roi, n)), (n, n),
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


def body_hand_points(body_xy: np.ndarray, side: str) -> tuple:
    """(wrist, index, pinky) image pixels of one side of BlazePose's 33 points (33, 2)."""
    return tuple(np.asarray(body_xy)[i] for i in BODY_HAND_INDEX[side])


def hand_passes(landmarker: HandLandmarker, rgb: np.ndarray, roi: "Roi | None",
                passes: int) -> list[HandResult]:
    """The model on ``roi``, then again on the region each answer gives (``passes`` answers
    at most; fewer when a region cannot be placed)."""
    out: list[HandResult] = []
    for _ in range(max(1, passes)):
        if roi is None:
            break
        out.append(landmarker(rgb, roi))
        roi = hand_roi_from_landmarks(out[-1].xy)
    return out


def agreement(a: HandResult, b: HandResult, spread: float = AGREEMENT_SPREAD) -> np.ndarray:
    """(21,) in (0, 1]: how well two answers for one hand agree, point by point:
    ``exp(-d^2 / (2 (spread * side)^2))`` with ``d`` the distance between the two answers'
    points and ``side`` the first answer's region side (both image pixels)."""
    d = np.linalg.norm(a.xy - b.xy, axis=-1)
    return np.exp(-0.5 * (d / (spread * a.roi.size_px)) ** 2)


@dataclass(frozen=True)
class _Hand:
    xy: np.ndarray          # (21, 2) image pixels
    conf: np.ndarray        # (21,)
    last: HandResult


def _side_hand(landmarker: HandLandmarker, rgb: np.ndarray, body_xy: np.ndarray, side: str,
               passes: int) -> "_Hand | None":
    """One hand (None: its body points are missing, the hand is not present, or the hand
    found lies off the body's wrist by more than the wrist -> middle finger length: another
    hand). With three passes or more, the last two answers are averaged and each point's
    confidence is the presence times their :func:`agreement`."""
    wrist, index, pinky = body_hand_points(body_xy, side)
    answers = hand_passes(landmarker, rgb, hand_roi_from_pose(wrist, index, pinky), passes)
    if not answers:
        return None
    last = answers[-1]
    reach = float(np.linalg.norm((2.0 * index + pinky) / 3.0 - wrist))
    if np.linalg.norm(last.xy[0] - wrist) > reach:
        return None
    if len(answers) < 3:
        return _Hand(last.xy, np.full(NUM_HAND, last.presence), last)
    prev = answers[-2]
    return _Hand(0.5 * (prev.xy + last.xy), last.presence * agreement(prev, last), last)


def _one_hand_twice(left: _Hand, right: _Hand, tolerance: float = 0.15) -> bool:
    """Whether both sides' answers are one hand (the crops overlap on the hand nearer the
    camera): median point distance below ``tolerance`` times the smaller region's side."""
    size = min(left.last.roi.size_px, right.last.roi.size_px)
    return bool(np.median(np.linalg.norm(left.xy - right.xy, axis=-1)) < tolerance * size)


def detect_hands(landmarker: HandLandmarker, rgb: np.ndarray, body_xy: np.ndarray,
                 passes: int = 3, min_presence: float = 0.5
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Both hands of one person.

    When both sides' answers are one hand, the side the model's handedness favours keeps it.

    Args:
        rgb: (H, W, 3) uint8 frame. body_xy: (33, 2) the person's BlazePose points, image
            pixels. passes: 1 (the pose-placed crop only) or more (again on the region the
            previous answer gives; from 3, per-point confidence from the last two, see
            :func:`_side_hand`). min_presence: a hand the model's last answer gives less
            presence is missing.
    Returns:
        xy (42, 2) image pixels (left hand's 21 points, then the right's; NaN = missing) and
        conf (42,) in [0, 1] (0 = missing).
    """
    found = [_side_hand(landmarker, rgb, body_xy, side, passes) for side in ("left", "right")]
    found = [h if h is not None and h.last.presence >= min_presence else None for h in found]
    if found[0] is not None and found[1] is not None and _one_hand_twice(*found):
        found[0 if found[0].last.right > 0.5 else 1] = None
    xy = np.full((2 * NUM_HAND, 2), np.nan)
    conf = np.zeros(2 * NUM_HAND, np.float32)
    for h, hand in enumerate(found):
        if hand is not None:
            xy[h * NUM_HAND:(h + 1) * NUM_HAND] = hand.xy
            conf[h * NUM_HAND:(h + 1) * NUM_HAND] = hand.conf
    return xy, conf


def point_heatmaps(xy: np.ndarray, conf: np.ndarray, image_from_heatmap: np.ndarray,
                   heatmap_hw: "tuple[int, int]", sigma_cells: float = 1.0) -> np.ndarray:
    """Heatmaps for points that a model gives without any (the hand points), on another
    model's heatmap grid: a Gaussian of ``sigma_cells`` around each point, its peak the
    point's confidence, zeros for a missing point; so that a take's heatmaps cover every
    keypoint of its format (the volumetric triangulation reads them).

    Args:
        xy: (K, 2) image pixels (NaN = missing). conf: (K,) in [0, 1].
        image_from_heatmap: (2, 3) affine from heatmap cell (u, v) to image pixels.
        heatmap_hw: (h, w) cells.
    Returns:
        (K, h, w) float32.
    """
    h, w = heatmap_hw
    uv = apply_affine(invert_affine(image_from_heatmap), np.asarray(xy, float))     # (K, 2)
    ok = np.isfinite(uv).all(-1) & (np.asarray(conf) > 0)
    uv = np.where(ok[:, None], uv, 0.0)
    du = np.arange(w)[None, None, :] - uv[:, 0, None, None]
    dv = np.arange(h)[None, :, None] - uv[:, 1, None, None]
    g = np.exp(-(du ** 2 + dv ** 2) / (2.0 * sigma_cells ** 2))
    return (g * np.where(ok, conf, 0.0)[:, None, None]).astype(np.float32)
