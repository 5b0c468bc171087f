"""The ONNX top-down backend, on tiny models exported here with ``torch.onnx.export``.

The models "detect" coloured blobs: joint j's heatmap is the image's channel j % 3 blurred by
a Gaussian and sampled every 4 pixels (cell u stands for crop pixel 4 u, MMPose's convention);
the SimCC model takes the blurred channel's maximum along rows / columns, two bins per pixel.
So the true keypoints are the blob centres, known exactly.
"""
from __future__ import annotations

import warnings

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from mocap.detect.types import BackendSpec  # noqa: E402
from mocap.errors import DetectorError  # noqa: E402
from mocap.detect.geometry import apply_affine  # noqa: E402
from mocap.detect.onnx_backend import OnnxTopDownBackend, decode_heatmaps  # noqa: E402
from mocap.app.detections import detect_session  # noqa: E402
from mocap.settings import settings_from_dict  # noqa: E402

W_IN, H_IN, J = 48, 64, 17


def _gauss_kernel(sigma=2.0, size=9):
    r = torch.arange(size, dtype=torch.float32) - size // 2
    g = torch.exp(-r ** 2 / (2 * sigma ** 2))
    k = g[:, None] * g[None, :]
    return k / k.max()


class _Blur(torch.nn.Module):
    def __init__(self, stride):
        super().__init__()
        w = torch.zeros(J, 3, 9, 9)
        for j in range(J):
            w[j, j % 3] = _gauss_kernel() / _gauss_kernel().sum() * 4.0
        self.conv = torch.nn.Conv2d(3, J, 9, stride=stride, padding=4, bias=False)
        self.conv.weight.data.copy_(w)


class HeatmapNet(_Blur):
    def __init__(self):
        super().__init__(stride=4)

    def forward(self, x):
        return self.conv(x)


class SimccNet(_Blur):
    def __init__(self):
        super().__init__(stride=1)

    def forward(self, x):
        b = self.conv(x)
        sx = b.amax(dim=2).repeat_interleave(2, dim=-1)
        sy = b.amax(dim=3).repeat_interleave(2, dim=-1)
        return sx, sy


class WrongJoints(torch.nn.Module):
    def forward(self, x):
        return torch.nn.functional.avg_pool2d(x, 4)          # 3 "joints", not 17


def _export(model, path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.zeros(1, 3, H_IN, W_IN),), str(path), dynamo=False,
                          input_names=["input"])
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("onnx")
    return {"heatmap": _export(HeatmapNet().eval(), d / "hm.onnx"),
            "simcc": _export(SimccNet().eval(), d / "simcc.onnx"),
            "wrong": _export(WrongJoints().eval(), d / "wrong.onnx")}


def blob_frame(centres, w=160, h=120, sigma=5.0):
    """RGB uint8 frame with a Gaussian blob of channel k at centres[k] (pixel centres)."""
    yy, xx = np.mgrid[:h, :w]
    img = np.zeros((h, w, 3))
    for k, (cx, cy) in enumerate(centres):
        img[..., k] = 255 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sigma ** 2))
    return img.round().astype(np.uint8)


def _spec(path, **kw):
    return BackendSpec(kind="onnx", model=str(path), model_format="coco17",
                       person_boxes="full", mean_rgb=(0, 0, 0), std_rgb=(255, 255, 255), **kw)


CENTRES = np.array([[40.3, 30.8], [101.6, 77.2], [130.0, 52.5]])


@pytest.mark.parametrize("kind", ["heatmap", "simcc"])
def test_keypoints_land_on_the_blobs(models, kind):
    backend = OnnxTopDownBackend(_spec(models[kind]))
    assert backend.kind == kind and backend.format == "coco17"
    [(slot, person)] = backend.process(blob_frame(CENTRES))
    assert slot == 0 and person.xy.shape == (J, 2)
    truth = CENTRES[np.arange(J) % 3]
    err = np.linalg.norm(person.xy - truth, axis=-1)
    # image pixels per crop pixel: 160 / 48 = 3.3 (heatmap cells are 13 px, SimCC bins 1.7 px)
    assert err.max() < 2.0, err
    assert (person.conf > 0.3).all()
    hm = person.heatmaps
    assert hm.shape == ((H_IN // 4, W_IN // 4) if kind == "simcc" else (16, 12)) or \
        hm.shape[1:] == backend.heatmap_hw
    peak = np.array([np.unravel_index(h.argmax(), h.shape)[::-1] for h in hm], float)
    via_affine = apply_affine(person.image_from_heatmap, peak)
    cell = np.hypot(*person.image_from_heatmap[:, 0])
    assert (np.linalg.norm(via_affine - truth, axis=-1) <= 0.75 * cell).all()


def test_decode_heatmaps_subcell():
    vv, uu = np.mgrid[:16, :12]
    hm = np.exp(-((uu - 5.3) ** 2 + (vv - 9.6) ** 2) / 3.0)[None] * 0.8
    cells, conf = decode_heatmaps(hm)
    assert np.allclose(cells[0], [5.3, 9.6], atol=1e-6)           # exact for a Gaussian
    assert conf[0] == pytest.approx(hm.max())


def test_wrong_model_outputs_are_refused(models):
    with pytest.raises(DetectorError, match=r"wrong.onnx: expected heatmaps \(1, 17, h, w\) or "
                                            r"SimCC .* found \[\(1, 3, 16, 12\)\]"):
        OnnxTopDownBackend(_spec(models["wrong"]))
    with pytest.raises(DetectorError, match="ONNX model .*missing.onnx not found"):
        OnnxTopDownBackend(_spec(models["wrong"].with_name("missing.onnx")))


def test_session_detection_with_image_folders(models, tmp_path, studio4):
    """Two cameras as PNG folders -> out/detections.npz with keypoints and heatmaps; a second
    run finds every camera up to date."""
    names = studio4.names[:2]
    rng = np.random.default_rng(1)
    truth = {}
    for c, name in enumerate(names):
        d = tmp_path / "videos" / name
        d.mkdir(parents=True)
        truth[name] = CENTRES + rng.uniform(-15, 15, (4, 3, 2))
        for f in range(4):
            rgb = blob_frame(truth[name][f])
            cv2.imwrite(str(d / f"frame_{f:03d}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    settings = settings_from_dict({
        "take": {"fps": 25.0},
        "detect": {"backend": "onnx", "model": str(models["heatmap"]), "person_boxes": "full",
                   "model_format": "coco17", "model_mean_rgb": [0, 0, 0],
                   "model_std_rgb": [255, 255, 255], "workers": 1}})
    det = detect_session(tmp_path, names, settings)
    assert det.shape == (2, 4, 1, J) and det.fps == 25.0 and det.format == "coco17"
    assert det.heatmaps.shape == (2, 4, 1, J, 16, 12) and det.heatmaps.dtype == np.float16
    for c, name in enumerate(names):
        err = np.linalg.norm(det.xy[c, :, 0] - truth[name][:, np.arange(J) % 3], axis=-1)
        assert err.max() < 2.0
    assert (tmp_path / "out" / "detections.npz").is_file()
    stamps = [p.stat().st_mtime_ns for p in sorted((tmp_path / "out" / "detect").glob("*.npz"))]
    again = detect_session(tmp_path, names, settings)
    assert np.array_equal(again.xy, det.xy, equal_nan=True)
    assert stamps == [p.stat().st_mtime_ns
                      for p in sorted((tmp_path / "out" / "detect").glob("*.npz"))]
