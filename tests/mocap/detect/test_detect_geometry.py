"""Crop/heatmap/image affines and the BlazePose decoding steps that need no model file."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from mocap.detect.blazepose import (decode_detections, letterbox, refine_from_heatmaps,
                                    ssd_anchors, weighted_nms)
from mocap.detect.geometry import (Roi, apply_affine, crop_from_image_affine,
                                   image_from_crop_affine, image_from_crop_edge,
                                   image_from_heatmap_affine, invert_affine,
                                   roi_from_two_points)


def _dot_image(w, h, xy):
    img = np.zeros((h, w, 3), np.uint8)
    cv2.circle(img, (int(xy[0]), int(xy[1])), 0, (255, 255, 255), -1)
    return cv2.GaussianBlur(img, (0, 0), 3.0)


def _peak(img):
    """Sub-pixel centroid of the bright blob, pixel-centre convention."""
    g = img[..., 0].astype(float)
    g = np.where(g > 0.3 * g.max(), g, 0)
    ys, xs = np.mgrid[:g.shape[0], :g.shape[1]]
    return np.array([(xs * g).sum() / g.sum(), (ys * g).sum() / g.sum()])


def test_anchors_count_and_layout():
    a = ssd_anchors()
    assert a.shape == (2254, 2)
    # stride 8: 28 x 28 cells x 2 anchors; the first two share the first cell's centre
    assert np.allclose(a[0], [0.5 / 28, 0.5 / 28]) and np.allclose(a[1], a[0])
    assert np.allclose(a[2], [1.5 / 28, 0.5 / 28])
    # stride 32 layers share a 7 x 7 map with 6 anchors per cell
    assert np.allclose(a[1568 + 392], [0.5 / 7, 0.5 / 7])
    assert np.allclose(a[-1], [6.5 / 7, 6.5 / 7])
    assert ((a > 0) & (a < 1)).all()


def test_decode_places_boxes_and_keypoints_on_anchors():
    anchors = ssd_anchors()
    raw = np.zeros((len(anchors), 12))
    scores = np.full(len(anchors), -10.0)
    k = 1000
    scores[k] = 5.0
    raw[k, :4] = [3.0, -2.0, 40.0, 20.0]
    raw[k, 4:6] = [1.0, 1.0]
    boxes, kps, sc = decode_detections(raw, scores, anchors)
    assert len(sc) == 1 and sc[0] == pytest.approx(1 / (1 + np.exp(-5.0)))
    centre = anchors[k] * 224 + [3.0, -2.0]
    assert np.allclose(boxes[0], [centre[0] - 20, centre[1] - 10, centre[0] + 20, centre[1] + 10])
    assert np.allclose(kps[0, 0], anchors[k] * 224 + 1.0)
    assert np.allclose(kps[0, 1], anchors[k] * 224)


def test_decode_rejects_wrong_shapes():
    with pytest.raises(ValueError, match="expected \\(2254, 12\\)"):
        decode_detections(np.zeros((10, 12)), np.zeros(10), ssd_anchors())


def test_weighted_nms_merges_overlaps_and_keeps_separate_people():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60.0]])
    kps = np.stack([b.reshape(2, 2) for b in boxes])
    scores = np.array([0.9, 0.6, 0.8])
    b, k, s = weighted_nms(boxes, kps, scores)
    assert len(s) == 2 and s[0] == 0.9 and s[1] == 0.8
    assert np.allclose(b[0], (0.9 * boxes[0] + 0.6 * boxes[1]) / 1.5)
    assert np.allclose(b[1], boxes[2])


def test_roi_from_two_points_upright_and_rotated():
    up = roi_from_two_points(np.array([100.0, 200.0]), np.array([100.0, 100.0]))
    assert up.angle_rad == pytest.approx(0.0) and up.size_px == pytest.approx(250.0)
    right = roi_from_two_points(np.array([100.0, 200.0]), np.array([200.0, 200.0]))
    assert right.angle_rad == pytest.approx(np.pi / 2)
    # the crop's "up" (towards its top edge) points to the scale point in the image
    a = image_from_crop_affine(right, 256)
    top_mid = apply_affine(a, [127.5, 0.0])
    assert top_mid[0] > right.center_xy[0] + 100 and abs(top_mid[1] - 200.0) < 1.0


@pytest.mark.parametrize("angle", [0.0, 0.4, -1.2])
def test_crop_affine_matches_warp_affine(angle):
    """A dot at a known image pixel lands in the crop where the affine says, and back."""
    dot = np.array([137.0, 91.0])
    img = _dot_image(320, 240, dot)
    roi = Roi((150.0, 100.0), 120.0, angle)
    crop = cv2.warpAffine(img, crop_from_image_affine(roi, 256), (256, 256),
                          flags=cv2.INTER_LINEAR)
    seen = _peak(crop)
    assert np.allclose(apply_affine(crop_from_image_affine(roi, 256), dot), seen, atol=0.3)
    assert np.allclose(apply_affine(image_from_crop_affine(roi, 256), seen), dot, atol=0.2)
    a = image_from_crop_affine(roi, 256)
    assert np.allclose(apply_affine(invert_affine(a), apply_affine(a, [[3.0, 4.0]])), [[3, 4]])
    # edge units: the crop's centre in edge units is (128, 128) = the ROI's centre
    assert np.allclose(image_from_crop_edge(roi, 256, np.array([128.0, 128.0])), roi.center_xy)


def test_heatmap_affine_cell_centres_and_corners():
    roi = Roi((300.0, 200.0), 128.0, 0.0)                    # 0.5 image px per crop px
    img_from_crop = image_from_crop_affine(roi, 256)
    centre = image_from_heatmap_affine(img_from_crop, (256, 256), (64, 64), 0.5)
    corner = image_from_heatmap_affine(img_from_crop, (256, 256), (64, 64), 0.0)
    # cell (0, 0) covers crop pixels 0..3: centre at crop 1.5, corner at crop edge 0 (= -0.5)
    assert np.allclose(apply_affine(centre, [0, 0]), apply_affine(img_from_crop, [1.5, 1.5]))
    assert np.allclose(apply_affine(corner, [0, 0]), apply_affine(img_from_crop, [-0.5, -0.5]))
    # one cell = 4 crop px = 2 image px
    assert np.allclose(centre[:, :2], 2.0 * np.eye(2))


def test_refine_from_heatmaps_finds_subcell_peak():
    vv, uu = np.mgrid[:64, :64]
    truth = np.array([[20.3, 40.6], [5.0, 5.0]])
    hm = np.stack([np.exp(-((uu - x) ** 2 + (vv - y) ** 2) / 2.0) for x, y in truth])
    hm[1] *= 0.3                                               # below the refinement peak
    out = refine_from_heatmaps(np.array([[20.0, 41.0], [6.0, 4.0]]), hm)
    assert np.allclose(out[0], truth[0], atol=0.05)
    assert np.allclose(out[1], [6.0, 4.0])                     # kept: peak too low
    nan = refine_from_heatmaps(np.array([[np.nan, 1.0], [100.0, 5.0]]), hm)
    assert np.isnan(nan[0, 0]) and nan[1, 0] == 100.0


def test_letterbox_affine_matches_pixels():
    dot = np.array([611.0, 155.0])
    img = _dot_image(800, 450, dot)
    out, affine = letterbox(img, 224)
    assert out.shape == (224, 224, 3)
    assert np.allclose(apply_affine(affine, dot), _peak(out), atol=0.35)
    assert out[:30].max() == 0 and out[-30:].max() == 0        # padding above and below
