"""BlazePose through LiteRT: the person detector, the landmark model, and ROI tracking.

Two models from the ``mediapipe==0.10.21`` wheel (see :mod:`mocap.models`):

* ``pose_detection.tflite``: input (1, 224, 224, 3) RGB in [-1, 1], the whole frame scaled
  into the square (aspect kept, zero padding); outputs (1, 2254, 12) regressions relative to
  SSD anchors (box centre x, y, width, height, then 4 keypoints x, y, all in input pixels) and
  (1, 2254, 1) score logits. The anchors are not in the file: :func:`ssd_anchors` builds them
  as MediaPipe's ``SsdAnchorsCalculator`` does for this model. Keypoint 0 is the mid-hip
  centre, keypoint 1 a point whose distance from it is half the body's extent and whose
  direction gives the body's rotation.
* ``pose_landmark_full.tflite``: input (1, 256, 256, 3) RGB in [0, 1], a square crop around
  the person rotated upright; outputs 39 points (33 body + 6 auxiliary; x, y in crop pixels,
  z, visibility logit, presence logit), a presence logit, a segmentation, (1, 64, 64, 39)
  heatmap logits (4 crop pixels per cell) and world points.

Between frames the region of interest follows the previous landmarks (auxiliary points 33
and 34 play the detector's keypoints 0 and 1); the detector runs again when presence drops.
Heatmaps are kept as probabilities (sigmoid of the logits) with the affine from heatmap cells
to image pixels (see :mod:`.geometry`).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import MocapError
from .litert import load_interpreter, model_io
from .geometry import (Roi, apply_affine, body_mask, image_from_crop_affine,
                       image_from_crop_edge, image_from_heatmap_affine, invert_affine,
                       paint_out, roi_from_two_points, share_inside)

log = logging.getLogger(__name__)

__all__ = ["ssd_anchors", "decode_detections", "weighted_nms", "PersonDetection",
           "PoseDetector", "PoseLandmarker", "LandmarkResult", "BlazePoseTracker",
           "refine_from_heatmaps", "letterbox", "NUM_BODY", "DETECTOR_INPUT_PX",
           "LANDMARK_INPUT_PX", "HEATMAP_CELL_OFFSET", "FLIP_INDEX",
           "flip_agreement", "same_body"]

DETECTOR_INPUT_PX = 224
LANDMARK_INPUT_PX = 256
NUM_BODY = 33          # body landmarks; 6 auxiliary points follow
_NUM_ALL = 39
_SCORE_CLIP = 80.0     # logits beyond this saturate the sigmoid (and exp overflows float32)
#: Where in a heatmap cell the landmark model puts the point the cell stands for, in cells
#: (see :func:`.geometry.image_from_heatmap_affine`). Measured on the Pose2Sim demo videos
#: (1218 visible points): the heatmap-refined points sit 0.42 cells right of and below the
#: regressed ones when cell centres (0.5) are assumed, i.e. the model's cell u stands for crop
#: coordinate 4 u, its top-left corner, as MediaPipe's own refinement also assumes.
HEATMAP_CELL_OFFSET = 0.0


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -_SCORE_CLIP, _SCORE_CLIP).astype(np.float32)))


def ssd_anchors(input_px: int = DETECTOR_INPUT_PX, strides=(8, 16, 32, 32, 32),
                anchor_offset: float = 0.5) -> np.ndarray:
    """Centres of the SSD anchors of the BlazePose detector.

    Layers with the same stride share a feature map; each layer contributes two anchors per
    cell (aspect ratio 1 and the interpolated scale), all of fixed unit size, so only the
    centres matter. Order: feature maps by stride, then rows, columns, anchors per cell.

    Returns:
        (2254, 2) anchor centres (x, y) in units of the input's side, in (0, 1).
    """
    out = []
    i = 0
    while i < len(strides):
        j = i
        while j < len(strides) and strides[j] == strides[i]:
            j += 1
        per_cell = 2 * (j - i)
        n = int(np.ceil(input_px / strides[i]))
        ys, xs = np.meshgrid((np.arange(n) + anchor_offset) / n,
                             (np.arange(n) + anchor_offset) / n, indexing="ij")
        centres = np.stack([xs, ys], -1).reshape(-1, 1, 2)
        out.append(np.repeat(centres, per_cell, axis=1).reshape(-1, 2))
        i = j
    return np.concatenate(out)


def decode_detections(raw_boxes: np.ndarray, raw_scores: np.ndarray, anchors: np.ndarray,
                      input_px: int = DETECTOR_INPUT_PX, min_score: float = 0.5
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes, keypoints and scores of the anchors that fire.

    Args:
        raw_boxes: (N, 12) regressions in input pixels relative to the anchors.
        raw_scores: (N,) or (N, 1) logits.
        anchors: (N, 2) anchor centres in units of the input's side.
    Returns:
        boxes (K, 4) x0, y0, x1, y1; keypoints (K, 4, 2); scores (K,); coordinates in input
        pixels in edge units (0 = the input's left edge).
    """
    raw_scores = np.asarray(raw_scores).reshape(-1)
    if raw_boxes.shape != (len(anchors), 12) or raw_scores.shape != (len(anchors),):
        raise MocapError(f"detector outputs have shapes {raw_boxes.shape}, "
                         f"{raw_scores.shape}; expected ({len(anchors)}, 12), "
                         f"({len(anchors)},)")
    scores = _sigmoid(raw_scores)
    keep = scores >= min_score
    r, a = raw_boxes[keep].astype(np.float64), anchors[keep] * input_px
    centre = r[:, :2] + a
    half = 0.5 * r[:, 2:4]
    boxes = np.concatenate([centre - half, centre + half], 1)
    kps = r[:, 4:12].reshape(-1, 4, 2) + a[:, None]
    return boxes, kps, scores[keep]


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    lo = np.maximum(box[:2], boxes[:, :2])
    hi = np.minimum(box[2:], boxes[:, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
    area = lambda b: np.prod(np.clip(b[..., 2:] - b[..., :2], 0, None), axis=-1)  # noqa: E731
    union = area(box) + area(boxes) - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def weighted_nms(boxes: np.ndarray, kps: np.ndarray, scores: np.ndarray,
                 iou_threshold: float = 0.3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted non-maximum suppression (MediaPipe's ``WEIGHTED`` algorithm).

    Each kept detection is the score-weighted mean of the boxes and keypoints overlapping the
    best remaining one by more than ``iou_threshold``; its score is the best one's.

    Args:
        boxes: (K, 4); kps: (K, M, 2); scores: (K,).
    Returns:
        the same arrays for the kept detections, best first.
    """
    order = np.argsort(-scores, kind="stable")
    boxes, kps, scores = boxes[order], kps[order], scores[order]
    out_b, out_k, out_s = [], [], []
    remaining = np.arange(len(scores))
    while remaining.size:
        top = remaining[0]
        close = _iou(boxes[top], boxes[remaining]) > iou_threshold
        close[0] = True
        idx = remaining[close]
        w = scores[idx] / scores[idx].sum()
        out_b.append((boxes[idx] * w[:, None]).sum(0))
        out_k.append((kps[idx] * w[:, None, None]).sum(0))
        out_s.append(scores[top])
        remaining = remaining[~close]
    if not out_s:
        return np.zeros((0, 4)), np.zeros((0,) + kps.shape[1:]), np.zeros(0)
    return np.array(out_b), np.array(out_k), np.array(out_s)


def letterbox(rgb: np.ndarray, size_px: int) -> tuple[np.ndarray, np.ndarray]:
    """The whole frame scaled into a ``size_px`` square (aspect kept, centred, zero padding).

    Args:
        rgb: (H, W, 3) uint8.
    Returns:
        (size_px, size_px, 3) uint8, and the (2, 3) affine from image pixels to its pixels.
    """
    h, w = rgb.shape[:2]
    s = size_px / max(w, h)
    sw, sh = min(size_px, max(1, round(w * s))), min(size_px, max(1, round(h * s)))
    small = cv2.resize(rgb, (sw, sh), interpolation=cv2.INTER_AREA)
    px, py = (size_px - sw) // 2, (size_px - sh) // 2
    out = cv2.copyMakeBorder(small, py, size_px - sh - py, px, size_px - sw - px,
                             cv2.BORDER_CONSTANT, value=(0, 0, 0))
    sx, sy = sw / w, sh / h
    # pixel centres: small = s * (image + 0.5) - 0.5, then shifted by the padding
    affine = np.array([[sx, 0.0, 0.5 * sx - 0.5 + px], [0.0, sy, 0.5 * sy - 0.5 + py]])
    return out, affine


@dataclass(frozen=True)
class PersonDetection:
    """One person found by the detector.

    Attributes:
        score: in [0, 1]. box_xyxy: (4,) image pixels.
        keypoints_xy: (4, 2) image pixels: mid-hip centre, body scale/rotation point, and two
            upper-body points.
    """

    score: float
    box_xyxy: np.ndarray
    keypoints_xy: np.ndarray

    def roi(self) -> Roi:
        """The region the landmark model should see (side 2.5 x the centre->scale distance)."""
        return roi_from_two_points(self.keypoints_xy[0], self.keypoints_xy[1])


class PoseDetector:
    """The BlazePose person detector (holds a LiteRT interpreter)."""

    def __init__(self, model_path: "str | Path", num_threads: int = 1, min_score: float = 0.5,
                 nms_iou: float = 0.3):
        self.interpreter = load_interpreter(model_path, num_threads)
        self.anchors = ssd_anchors()
        n = len(self.anchors)
        want = {"Identity": (1, n, 12), "Identity_1": (1, n, 1)}
        self._in, outs = model_io(self.interpreter, model_path, "the BlazePose detector",
                                  DETECTOR_INPUT_PX, want)
        self._boxes, self._scores = outs["Identity"], outs["Identity_1"]
        self.min_score, self.nms_iou = min_score, nms_iou

    def __call__(self, rgb: np.ndarray) -> list[PersonDetection]:
        """People in a frame, best first.

        Args:
            rgb: (H, W, 3) uint8 RGB frame.
        """
        inp, tensor_from_image = letterbox(rgb, DETECTOR_INPUT_PX)
        x = inp.astype(np.float32)[None] / 127.5 - 1.0
        self.interpreter.set_tensor(self._in, x)
        self.interpreter.invoke()
        raw_boxes = self.interpreter.get_tensor(self._boxes)[0]
        raw_scores = self.interpreter.get_tensor(self._scores)[0]
        boxes, kps, scores = decode_detections(raw_boxes, raw_scores, self.anchors,
                                               min_score=self.min_score)
        boxes, kps, scores = weighted_nms(boxes, kps, scores, self.nms_iou)
        image_from_tensor = invert_affine(tensor_from_image)
        # edge units -> pixel centres of the tensor, then back to the image
        to_img = lambda p: apply_affine(image_from_tensor, p - 0.5)  # noqa: E731
        return [PersonDetection(float(sc), to_img(b.reshape(2, 2)).reshape(4), to_img(k))
                for b, k, sc in zip(boxes, kps, scores)]


@dataclass(frozen=True)
class LandmarkResult:
    """The landmark model's answer for one region.

    Attributes:
        xy: (39, 2) image pixels (33 body points, then 6 auxiliary ones).
        visibility: (39,) probability that each point is visible.
        presence: probability that a person is in the region (the model's output is one).
        heatmaps: (39, 64, 64) float32 probabilities, rows then columns.
        image_from_heatmap: (2, 3) affine from heatmap cell centres (u, v) to image pixels.
        roi: the region that was cropped.
    """

    xy: np.ndarray
    visibility: np.ndarray
    presence: float
    heatmaps: np.ndarray
    image_from_heatmap: np.ndarray
    roi: Roi

    def next_roi(self) -> Roi:
        """The region for the next frame, from the auxiliary alignment points 33 and 34."""
        return roi_from_two_points(self.xy[NUM_BODY], self.xy[NUM_BODY + 1])


def refine_from_heatmaps(xy_cells: np.ndarray, heatmaps: np.ndarray, kernel: int = 7,
                         min_peak: float = 0.5) -> np.ndarray:
    """Refine points by the probability-weighted mean of heatmap cells around them.

    As MediaPipe's ``RefineLandmarksFromHeatmapCalculator``, but with cell *centres*
    (see :mod:`.geometry`): a point whose window's peak is below ``min_peak`` is kept.

    Args:
        xy_cells: (J, 2) positions in heatmap cell units (column, row), cell centres at
            integers.
        heatmaps: (J, h, w) probabilities.
    Returns:
        (J, 2) refined positions in cell units.
    """
    J, h, w = heatmaps.shape
    out = np.array(xy_cells, dtype=np.float64)
    r = (kernel - 1) // 2
    finite = np.isfinite(out).all(-1)
    c = np.round(np.where(finite[:, None], out, -1.0)).astype(int)      # (J, 2) col, row
    inside = finite & (c[:, 0] >= 0) & (c[:, 0] < w) & (c[:, 1] >= 0) & (c[:, 1] < h)
    c = np.where(inside[:, None], c, 0)
    # zero padding plays the part of MediaPipe's clipping of the window at the borders
    pad = np.pad(heatmaps, ((0, 0), (r, r), (r, r)))
    offs = np.arange(-r, r + 1)
    cols, rows = c[:, :1] + offs, c[:, 1:] + offs                        # (J, k)
    win = pad[np.arange(J)[:, None, None], rows[:, :, None] + r, cols[:, None, :] + r]
    total = win.sum((1, 2))
    ok = inside & (win.max((1, 2)) >= min_peak) & (total > 0)
    safe = np.where(total > 0, total, 1.0)
    mean_col = (win * cols[:, None, :]).sum((1, 2)) / safe
    mean_row = (win * rows[:, :, None]).sum((1, 2)) / safe
    out[ok] = np.stack([mean_col, mean_row], 1)[ok]
    return out


#: BlazePose's 39 points mirrored: index of each point's left/right counterpart (the 6
#: auxiliary points lie on the body's midline and map to themselves).
FLIP_INDEX = np.array([0, 4, 5, 6, 1, 2, 3, 8, 7, 10, 9] +
                      [i + 1 if i % 2 else i - 1 for i in range(11, NUM_BODY)] +
                      list(range(NUM_BODY, _NUM_ALL)))


def flip_agreement(xy: np.ndarray, xy_mirrored: np.ndarray) -> np.ndarray:
    """(39,) bool: points where the mirrored pass (mapped back, left and right swapped) names
    sides as the plain pass does. For each left/right pair, the mirrored pass disagrees when
    its left point lies closer to the plain pass's right point and vice versa (a person seen
    side-on, whose sides the model guesses): averaging then would put both points between the
    legs, so such pairs keep the plain pass alone.

    Args:
        xy, xy_mirrored: (39, 2) crop pixels, the mirrored pass already mapped back.
    """
    i = np.arange(len(FLIP_INDEX))
    j = FLIP_INDEX
    same = np.linalg.norm(xy[i] - xy_mirrored[i], axis=-1) + \
        np.linalg.norm(xy[j] - xy_mirrored[j], axis=-1)
    crossed = np.linalg.norm(xy[i] - xy_mirrored[j], axis=-1) + \
        np.linalg.norm(xy[j] - xy_mirrored[i], axis=-1)
    return (i == j) | (same <= crossed)


class PoseLandmarker:
    """The BlazePose landmark model (holds a LiteRT interpreter).

    With ``flip``, each crop is also run mirrored and the two answers averaged (the mirrored
    one's points mirrored back and their left and right swapped): twice the model's time for
    2D points with less noise; the heatmaps kept are the unmirrored pass's.
    """

    def __init__(self, model_path: "str | Path", num_threads: int = 1, refine: bool = True,
                 flip: bool = False):
        self.interpreter = load_interpreter(model_path, num_threads)
        want = {"Identity": (1, 5 * _NUM_ALL), "Identity_1": (1, 1),
                "Identity_3": (1, 64, 64, _NUM_ALL)}
        self._in, outs = model_io(self.interpreter, model_path, "the BlazePose landmark model",
                                  LANDMARK_INPUT_PX, want)
        self._lm, self._presence, self._hm = (outs[k] for k in want)
        self.refine, self.flip = refine, flip

    def _run(self, crop: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
        """One pass on a (256, 256, 3) uint8 crop: points (39, 2) in crop edge units (refined
        from the heatmaps when asked), visibility logits (39,), presence logit, heatmaps
        (39, 64, 64) probabilities."""
        n = LANDMARK_INPUT_PX
        self.interpreter.set_tensor(self._in, crop.astype(np.float32)[None] / 255.0)
        self.interpreter.invoke()
        raw = self.interpreter.get_tensor(self._lm).reshape(_NUM_ALL, 5)
        presence = float(self.interpreter.get_tensor(self._presence).reshape(()))
        hm = _sigmoid(self.interpreter.get_tensor(self._hm)[0]).transpose(2, 0, 1)
        cells_per_px, off = hm.shape[2] / n, HEATMAP_CELL_OFFSET
        xy_crop_edge = raw[:, :2].astype(np.float64)
        if self.refine:
            cells = refine_from_heatmaps(xy_crop_edge * cells_per_px - off, hm)
            xy_crop_edge = (cells + off) / cells_per_px
        return xy_crop_edge, raw[:, 3].astype(np.float64), presence, hm

    def __call__(self, rgb: np.ndarray, roi: Roi) -> LandmarkResult:
        """Landmarks of the person in ``roi`` of an (H, W, 3) uint8 RGB frame."""
        n = LANDMARK_INPUT_PX
        image_from_crop = image_from_crop_affine(roi, n)
        crop = cv2.warpAffine(rgb, invert_affine(image_from_crop), (n, n),
                              flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        xy_crop_edge, vis, presence, hm = self._run(crop)
        if self.flip:
            xy_f, vis_f, presence_f, _ = self._run(np.ascontiguousarray(crop[:, ::-1]))
            xy_f = np.stack([n - xy_f[:, 0], xy_f[:, 1]], 1)[FLIP_INDEX]
            agree = flip_agreement(xy_crop_edge, xy_f)
            xy_crop_edge = np.where(agree[:, None], 0.5 * (xy_crop_edge + xy_f), xy_crop_edge)
            vis = np.where(agree, 0.5 * (vis + vis_f[FLIP_INDEX]), vis)
            presence = 0.5 * (presence + presence_f)
        xy = image_from_crop_edge(roi, n, xy_crop_edge)
        image_from_hm = image_from_heatmap_affine(image_from_crop, (n, n), hm.shape[1:],
                                                  HEATMAP_CELL_OFFSET)
        return LandmarkResult(xy=xy, visibility=_sigmoid(vis).astype(np.float32),
                              presence=presence, heatmaps=hm.astype(np.float32),
                              image_from_heatmap=image_from_hm, roi=roi)


@dataclass
class _Track:
    slot: int
    roi: Roi


def same_body(a: LandmarkResult, b: LandmarkResult, tolerance: float = 0.08) -> bool:
    """Whether two answers of the landmark model are one body: the median distance between
    their 33 body points is below ``tolerance`` times the region's side (about 1.25 x the
    body's extent: 0.08 is a tenth of the body); people side by side stay apart."""
    size = min(a.roi.size_px, b.roi.size_px)
    d = np.linalg.norm(a.xy[:NUM_BODY] - b.xy[:NUM_BODY], axis=-1)
    return bool(np.median(d) < tolerance * size)


def _drift(track: _Track, res: LandmarkResult) -> float:
    """How far a track's region moved this frame, in units of its size."""
    return float(np.linalg.norm(np.subtract(res.next_roi().center_xy, track.roi.center_xy))
                 / max(track.roi.size_px, 1e-6))


class BlazePoseTracker:
    """Per-frame BlazePose with region tracking (state: the regions of the people followed).

    Each frame, the landmark model runs on every tracked region, and each region for the next
    frame comes from that person's own landmarks. A region whose presence falls below
    ``min_presence`` is dropped (the person is lost). When two regions close onto one body
    (:func:`same_body`: one person's region slid onto the other while they crossed), the one
    that moved more drifted: it looks again with the others painted out (for the person
    behind), kept if that finds another body near it, so one person's detections never
    continue on another's body. The person detector runs every ``detect_interval`` frames,
    on every frame where somebody was lost or nobody is followed, and only while fewer than
    ``max_people`` are followed (then again with them painted out: :meth:`_find_new`); a
    region it proposes that overlaps a followed person's by more than ``duplicate_iou`` is
    that person (skipped), and a new region whose landmarks are a followed body is dropped.
    People keep their slot (index along P) while followed; a new one takes the lowest free.
    """

    def __init__(self, detector: PoseDetector, landmarker: PoseLandmarker, max_people: int = 1,
                 min_presence: float = 0.5, duplicate_iou: float = 0.8,
                 detect_interval: int = 10):
        self.detector, self.landmarker = detector, landmarker
        self.max_people, self.min_presence = max_people, min_presence
        self.duplicate_iou, self.detect_interval = duplicate_iou, max(1, int(detect_interval))
        self.tracks: list[_Track] = []
        self.detector_runs = 0
        self.frame = 0

    @staticmethod
    def _taken(res: LandmarkResult, results: list) -> bool:
        return any(same_body(res, r) for _, r in results)

    def _follow(self, rgb: np.ndarray) -> tuple[list, bool]:
        """The tracked people's landmarks this frame, and whether somebody was lost."""
        found = [(_drift(t, r), t, r) for t in self.tracks
                 for r in [self.landmarker(rgb, t.roi)] if r.presence >= self.min_presence]
        lost = len(found) < len(self.tracks)
        results: list[tuple[int, LandmarkResult]] = []
        for _, t, res in sorted(found, key=lambda x: x[0]):        # the steadiest first
            if self._taken(res, results):                          # drifted onto another:
                res = self.landmarker(paint_out(rgb, [r.xy[:NUM_BODY] for _, r in results]),
                                      t.roi)                       # look behind them
                if res.presence < self.min_presence or self._taken(res, results) or \
                        _drift(t, res) > 0.25:
                    lost = True
                    continue
            results.append((t.slot, res))
        return results, lost

    def _find_new(self, rgb: np.ndarray, results: list) -> None:
        """Follow the people the person detector finds that nobody follows. It scores the most
        prominent person and hardly the others (trained on one per image), so while anyone is
        followed it looks again with them painted black (hull, then box: ``body_mask``), and
        again while that finds someone (a crowd); a body found under the paint is a ghost."""
        used, passes = {s for s, _ in results}, [(None, 0.0), ("hull", 0.03), ("box", 0.1)]
        while passes:
            hide, margin = passes.pop(0)
            if len(results) >= self.max_people or (hide and not results):
                return
            self.detector_runs, before = self.detector_runs + 1, len(results)
            mask = hide and body_mask(rgb.shape[:2], [r.xy[:NUM_BODY] for _, r in results],
                                      hide, margin)
            for det in self.detector(np.where(mask[..., None], 0, rgb) if hide else rgb):
                if len(results) >= self.max_people:
                    break
                roi = det.roi()
                if any(roi.iou(r.next_roi()) > self.duplicate_iou for _, r in results):
                    continue                        # a followed person's region: not new
                res = self.landmarker(rgb, roi)
                if res.presence < self.min_presence or self._taken(res, results) or \
                        (hide and share_inside(res.xy[:NUM_BODY], mask) > 0.5):
                    continue
                slot = min(set(range(self.max_people)) - used)
                used.add(slot)
                results.append((slot, res))
            if hide and len(results) > before:
                passes.insert(0, (hide, margin))    # someone new: look past them too

    def state(self) -> dict:
        """What the next frame depends on, JSON-able (floats kept exactly): the frame count,
        the detector's runs and each followed person's slot and region."""
        return {"frame": self.frame, "detector_runs": self.detector_runs,
                "tracks": [[t.slot, float(t.roi.center_xy[0]), float(t.roi.center_xy[1]),
                            float(t.roi.size_px), float(t.roi.angle_rad)]
                           for t in self.tracks]}

    def restore(self, state: dict) -> None:
        """Continue from a :meth:`state` (as if the frames before had just been processed)."""
        self.frame, self.detector_runs = int(state["frame"]), int(state["detector_runs"])
        self.tracks = [_Track(int(s), Roi((float(x), float(y)), float(size), float(angle)))
                       for s, x, y, size, angle in state["tracks"]]

    def process(self, rgb: np.ndarray) -> list[tuple[int, LandmarkResult]]:
        """(slot, result) of every person followed in this frame (an RGB uint8 frame)."""
        results, lost = self._follow(rgb)
        due = lost or not results or self.frame % self.detect_interval == 0
        if due and len(results) < self.max_people:
            self._find_new(rgb, results)
        self.tracks = [_Track(s, r.next_roi()) for s, r in results]
        self.frame += 1
        return sorted(results, key=lambda sr: sr[0])
