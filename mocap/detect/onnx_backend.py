"""Top-down ONNX pose models (RTMPose, ViTPose, HRNet exported to ONNX) through onnxruntime.

The user gives the model file and its keypoint format. The model takes one crop,
``(1, 3, H, W)`` float32 RGB normalised as ``(pixel - mean) / std``, and gives either

* heatmaps ``(1, J, h, w)``: cell ``(u, v)`` stands for crop pixel ``(u * W / w, v * H / h)``
  (pixel centres, MMPose's convention); the peak gives the point (refined to sub-cell by a
  parabola through its neighbours) and its value the confidence; or
* SimCC ``(1, J, W * k)`` and ``(1, J, H * k)`` (RTMPose): bin ``i`` stands for crop pixel
  ``i / k``; the confidence is the smaller of the two peaks, clipped to [0, 1]. A separable
  heatmap (outer product of the two distributions, peak = confidence) on a (H/4, W/4) grid
  is kept.

Crops are upright boxes around the person, scaled to fit the model's input with the aspect
kept: from the BlazePose person detector (first frame, or when a person is lost), then from
the previous frame's keypoints, or the whole frame (``person_boxes = "full"``).
"""
from __future__ import annotations

import logging

import cv2
import numpy as np

from ..errors import DetectorError
from ..keypoints import get_format
from ..models import model_path
from .blazepose import PoseDetector
from .geometry import apply_affine, box_from_points, compose_affines, invert_affine
from .types import BackendSpec, PersonResult, resolve_model

log = logging.getLogger(__name__)

__all__ = ["OnnxTopDownBackend", "decode_heatmaps", "decode_simcc", "crop_affine_for_box",
           "box_iou"]

_KEYPOINT_BOX_SCALE = 1.4     # a box around the keypoints, enlarged to hold head and feet
_TRACK_MIN_CONF = 0.3


def crop_affine_for_box(box_xyxy: np.ndarray, input_wh: "tuple[int, int]") -> np.ndarray:
    """(2, 3) affine from crop pixels to image pixels for a crop that holds the whole box,
    centred, aspect kept (the box is enlarged along one side to the input's aspect).

    Args:
        box_xyxy: (4,) image pixels. input_wh: (W, H) of the model input.
    """
    x0, y0, x1, y1 = (float(v) for v in box_xyxy)
    W, H = input_wh
    s = max((x1 - x0) / W, (y1 - y0) / H, 1e-6)            # image pixels per crop pixel
    c = np.array([0.5 * (x0 + x1), 0.5 * (y0 + y1)])
    offset = c - s * 0.5 * (np.array([W, H]) - 1.0)
    return np.array([[s, 0.0, offset[0]], [0.0, s, offset[1]]])


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boxes (x0, y0, x1, y1)."""
    lo, hi = np.maximum(a[:2], b[:2]), np.minimum(a[2:], b[2:])
    inter = float(np.prod(np.clip(hi - lo, 0, None)))
    union = float(np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2])) - inter
    return inter / union if union > 0 else 0.0


def decode_heatmaps(heatmaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Peak of each heatmap, refined to sub-cell precision.

    Args:
        heatmaps: (J, h, w).
    Returns:
        cells (J, 2) (column, row) at the peak, refined by a parabola through the logs of
        the peak and its two neighbours along each axis (exact for a Gaussian peak; the values
        themselves where one is not positive), by at most half a cell; conf (J,) peak values
        clipped to [0, 1].
    """
    J, h, w = heatmaps.shape
    flat = heatmaps.reshape(J, -1)
    idx = flat.argmax(1)
    v, u = np.divmod(idx, w)
    cells = np.stack([u, v], 1).astype(np.float64)
    for j in range(J):
        hm = heatmaps[j]
        for axis, (i, lim) in enumerate(((u[j], w), (v[j], h))):
            if 0 < i < lim - 1:
                a = hm[v[j], i - 1] if axis == 0 else hm[i - 1, u[j]]
                b = hm[v[j], i + 1] if axis == 0 else hm[i + 1, u[j]]
                c = hm[v[j], u[j]]
                if min(a, b, c) > 0:                   # a Gaussian's log is a parabola
                    a, b, c = np.log(a), np.log(b), np.log(c)
                denom = a - 2 * c + b
                if denom < 0:
                    cells[j, axis] += float(np.clip(0.5 * (a - b) / denom, -0.5, 0.5))
    conf = np.clip(flat[np.arange(J), idx], 0.0, 1.0).astype(np.float32)
    return cells, conf


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def decode_simcc(simcc_x: np.ndarray, simcc_y: np.ndarray, bins_per_px: float
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Points and confidences from SimCC outputs.

    Args:
        simcc_x: (J, W * k); simcc_y: (J, H * k); bins_per_px: k.
    Returns:
        xy (J, 2) crop pixels; conf (J,) the smaller peak of the two, clipped to [0, 1].
    """
    ix, iy = simcc_x.argmax(1), simcc_y.argmax(1)
    J = len(ix)
    xy = np.stack([ix, iy], 1) / float(bins_per_px)
    conf = np.minimum(simcc_x[np.arange(J), ix], simcc_y[np.arange(J), iy])
    return xy, np.clip(conf, 0.0, 1.0).astype(np.float32)


def _simcc_heatmaps(simcc_x, simcc_y, conf, bins_per_px, grid_hw, cell_px):
    """(J, h, w) separable heatmaps on a grid of ``cell_px`` crop pixels per cell."""
    h, w = grid_hw
    px, py = _softmax(simcc_x.astype(np.float64)), _softmax(simcc_y.astype(np.float64))
    bx = np.arange(w) * cell_px * bins_per_px
    by = np.arange(h) * cell_px * bins_per_px
    gx = np.stack([np.interp(bx, np.arange(px.shape[1]), p) for p in px])
    gy = np.stack([np.interp(by, np.arange(py.shape[1]), p) for p in py])
    gx /= np.maximum(gx.max(1, keepdims=True), 1e-12)
    gy /= np.maximum(gy.max(1, keepdims=True), 1e-12)
    return (gy[:, :, None] * gx[:, None, :] * conf[:, None, None]).astype(np.float32)


class OnnxTopDownBackend:
    """A top-down heatmap or SimCC model through onnxruntime, with person tracking."""

    def __init__(self, spec: BackendSpec, root=None):
        import onnxruntime as ort
        self.spec = spec
        self.format = get_format(spec.model_format).name
        J = get_format(spec.model_format).num_joints
        path = resolve_model(spec.model, root)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, spec.num_threads)
        opts.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(path), sess_options=opts,
                                                providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise DetectorError(f"{path}: not a loadable ONNX model ({exc})") from None
        inputs = self.session.get_inputs()
        shape = tuple(inputs[0].shape) if len(inputs) == 1 else ()
        if len(shape) != 4 or shape[1] != 3 or not all(isinstance(d, int) for d in shape[2:]):
            raise DetectorError(f"{path}: expected one input of shape (1, 3, H, W) with fixed "
                                f"H and W, found {[tuple(i.shape) for i in inputs]}")
        self.input_name = inputs[0].name
        self.input_wh = (int(shape[3]), int(shape[2]))
        outs = [tuple(o.shape) for o in self.session.get_outputs()]
        self.kind = self._output_kind(path, outs, J)
        W, H = self.input_wh
        if self.kind == "heatmap":
            self.heatmap_hw = (int(outs[0][2]), int(outs[0][3]))
            self.bins_per_px = None
        else:
            self.bins_per_px = outs[0][2] / W
            if abs(outs[1][2] / H - self.bins_per_px) > 1e-6:
                raise DetectorError(f"{path}: SimCC outputs {outs} do not share one split "
                                    f"ratio over the input {W}x{H}")
            self.heatmap_hw = (max(1, H // 4), max(1, W // 4))
        if not spec.heatmaps:
            self.heatmap_hw = None
        self.mean = np.asarray(spec.mean_rgb, np.float32)
        self.std = np.asarray(spec.std_rgb, np.float32)
        self.detector = None
        if spec.person_boxes == "detector":
            self.detector = PoseDetector(model_path("pose_detection"), spec.num_threads)
        self.tracks: list[tuple[int, np.ndarray]] = []      # (slot, box)
        self.frame = 0
        log.info("ONNX %s model %s: input %dx%d, %d joints (%s)", self.kind, path.name, W, H,
                 J, self.format)

    @staticmethod
    def _output_kind(path, outs, J) -> str:
        if len(outs) >= 1 and len(outs[0]) == 4 and outs[0][1] == J and \
                all(isinstance(d, int) for d in outs[0][2:]):
            return "heatmap"
        if len(outs) >= 2 and len(outs[0]) == 3 and len(outs[1]) == 3 and \
                outs[0][1] == J and outs[1][1] == J and \
                all(isinstance(o[2], int) for o in outs[:2]):
            return "simcc"
        raise DetectorError(f"{path}: expected heatmaps (1, {J}, h, w) or SimCC outputs "
                            f"(1, {J}, W*k), (1, {J}, H*k) for its {J}-joint format, found "
                            f"{outs}")

    def _run(self, rgb: np.ndarray, box: np.ndarray) -> PersonResult:
        W, H = self.input_wh
        image_from_crop = crop_affine_for_box(box, (W, H))
        crop = cv2.warpAffine(rgb, invert_affine(image_from_crop), (W, H),
                              flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        x = ((crop.astype(np.float32) - self.mean) / self.std).transpose(2, 0, 1)[None]
        outs = self.session.run(None, {self.input_name: np.ascontiguousarray(x)})
        if self.kind == "heatmap":
            hm = outs[0][0].astype(np.float32)
            h, w = hm.shape[1:]
            cells, conf = decode_heatmaps(hm)
            crop_from_hm = np.array([[W / w, 0.0, 0.0], [0.0, H / h, 0.0]])
            image_from_hm = compose_affines(image_from_crop, crop_from_hm)
            xy = apply_affine(image_from_hm, cells)
            heat = np.clip(hm, 0.0, 1.0) if self.heatmap_hw else None
        else:
            sx, sy = outs[0][0], outs[1][0]
            xy_crop, conf = decode_simcc(sx, sy, self.bins_per_px)
            xy = apply_affine(image_from_crop, xy_crop)
            heat = image_from_hm = None
            if self.heatmap_hw:
                cell = W / self.heatmap_hw[1]
                heat = _simcc_heatmaps(sx, sy, conf, self.bins_per_px, self.heatmap_hw, cell)
                image_from_hm = compose_affines(image_from_crop,
                                                np.array([[cell, 0, 0], [0, cell, 0.0]]))
        return PersonResult(xy, conf, heat, image_from_hm if heat is not None else None)

    def _candidate_boxes(self, rgb: np.ndarray) -> list[np.ndarray]:
        h, w = rgb.shape[:2]
        if self.detector is None:
            return [np.array([0.0, 0.0, w - 1.0, h - 1.0])]
        boxes = []
        for det in self.detector(rgb):
            roi = det.roi()
            c, half = np.asarray(roi.center_xy), 0.5 * roi.size_px
            boxes.append(np.concatenate([c - half, c + half]))
        return boxes

    def _accept(self, results, slot, res: PersonResult) -> bool:
        if float(np.mean(res.conf)) < self.spec.min_presence:
            return False
        box = box_from_points(res.xy, res.conf, _TRACK_MIN_CONF)
        if box is None:
            return False
        if any(box_iou(box, b) > 0.5 for _, _, b in results):
            return False
        results.append((slot, res, box))
        return True

    def state(self) -> dict:
        """What the next frame depends on, JSON-able: the frame count and each followed
        person's slot and box (x0, y0, x1, y1 image pixels)."""
        return {"frame": self.frame,
                "tracks": [[int(s)] + [float(v) for v in box] for s, box in self.tracks]}

    def restore(self, state: dict) -> None:
        """Continue from a :meth:`state`."""
        self.frame = int(state["frame"])
        self.tracks = [(int(t[0]), np.array(t[1:], np.float64)) for t in state["tracks"]]

    def process(self, rgb: np.ndarray) -> list[tuple[int, PersonResult]]:
        """(slot, person) for the people followed in an RGB uint8 frame (H, W, 3)."""
        results: list = []
        if self.detector is None:
            self.tracks = []        # the whole frame, every frame
        for slot, box in self.tracks:
            self._accept(results, slot, self._run(rgb, box))
        # the person detector on a schedule, and whenever somebody was lost (as BlazePose's)
        due = self.detector is None or len(results) < len(self.tracks) or not results or \
            self.frame % self.spec.detect_interval == 0
        self.frame += 1
        if due and len(results) < self.spec.max_people:
            used = {s for s, _, _ in results}
            for box in self._candidate_boxes(rgb):
                if len(results) >= self.spec.max_people:
                    break
                if any(box_iou(box, b) > 0.5 for _, _, b in results):
                    continue                                # somebody followed already
                slot = min(set(range(self.spec.max_people)) - used)
                res = self._run(rgb, box)
                if self.detector is None:
                    results.append((slot, res, box))
                    used.add(slot)
                elif self._accept(results, slot, res):
                    used.add(slot)
        self.tracks = []
        for slot, res, _ in results:
            tight = box_from_points(res.xy, res.conf, _TRACK_MIN_CONF)
            if tight is not None:
                c, half = 0.5 * (tight[:2] + tight[2:]), 0.5 * _KEYPOINT_BOX_SCALE * (
                    tight[2:] - tight[:2])
                self.tracks.append((slot, np.concatenate([c - half, c + half])))
        return [(s, r) for s, r, _ in sorted(results, key=lambda t: t[0])]
