"""Detection throughput: frames per second per backend, on real video, one table.

Runs on the first frames of camera 1 of the Pose2Sim SinglePerson demo (1080 x 1920, 60 fps;
fetched pinned from PyPI into the cache) and prints, for each backend, frames/s of the whole
per-frame work (decoding in the background thread, crops, model, decoding of outputs) and the
ratio against the peer measured in the same run: BlazePose Full in "static image" mode (the
person detector on every frame, as detectors without tracking run). The BlazePose rows give each
landmark model (heavy, full, lite; ``[detect] model``) with and without the mirrored pass
(``[detect] flip``), and two of them with hands (``[detect] hands``: two passes of MediaPipe's
hand landmark model per hand). The ONNX rows use models of a
realistic size for a top-down pose network at 256 x 192 (random weights: speed does not
depend on them), exported here with ``torch.onnx.export``; crops come from BlazePose's detector
and then the previous frame's keypoints. The last rows time the whole detection stage of four
cameras with one worker process and with one per CPU core.

    .venv/bin/python benchmarks/detection.py [--frames 60] [--threads 1]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from dataclasses import replace
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mocap.datasets import pose2sim_demo  # noqa: E402
from mocap.detect.backends import make_backend  # noqa: E402
from mocap.detect.run import CameraJob, detect_sources  # noqa: E402
from mocap.detect.types import DEFAULT_LANDMARK_MODEL, BackendSpec  # noqa: E402
from mocap.detect.video import FrameReader, probe_source  # noqa: E402
from mocap.models import fetch_models  # noqa: E402


class _StaticBlazePose:
    """The peer: BlazePose without tracking (detector + landmarks on every frame)."""

    def __init__(self, spec):
        self.inner = make_backend(spec)

    def process(self, rgb):
        self.inner.tracker.tracks = []
        return self.inner.process(rgb)


def _export_onnx(kind: str, path: Path) -> Path:
    import torch
    from torch import nn

    def block(i, o, s):
        return nn.Sequential(nn.Conv2d(i, o, 3, s, 1, bias=False), nn.BatchNorm2d(o), nn.ReLU())

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = nn.Sequential(block(3, 32, 2), block(32, 64, 2), block(64, 64, 1),
                                          block(64, 128, 2), block(128, 128, 1),
                                          block(128, 256, 2), block(256, 256, 1))
            self.up = nn.Sequential(nn.ConvTranspose2d(256, 128, 4, 2, 1), nn.ReLU(),
                                    nn.ConvTranspose2d(128, 128, 4, 2, 1), nn.ReLU())
            self.head = nn.Conv2d(128, 17, 1)
            self.sx, self.sy = nn.Linear(48 * 64, 384), nn.Linear(48 * 64, 512)

        def forward(self, x):
            h = self.head(self.up(self.backbone(x)))               # (1, 17, 64, 48)
            if kind == "heatmap":
                return h
            flat = h.flatten(2)
            return self.sx(flat), self.sy(flat)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Net().eval(), (torch.zeros(1, 3, 256, 192),), str(path), dynamo=False)
    return path


def _time_backend(make, info, frames: int) -> float:
    backend = make()
    with FrameReader(info, 3) as warm:                             # warm-up, not timed
        for _, rgb in warm:
            backend.process(rgb)
    backend = make()
    t0 = time.perf_counter()
    with FrameReader(info, frames) as reader:
        for _, rgb in reader:
            backend.process(rgb)
    return time.perf_counter() - t0


def _time_decode(info, frames: int) -> float:
    t0 = time.perf_counter()
    with FrameReader(info, frames) as reader:
        for _ in reader:
            pass
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=60, help="frames per measurement")
    ap.add_argument("--threads", type=int, default=1, help="model runtime threads")
    args = ap.parse_args()
    fetch_models()
    videos = pose2sim_demo("0.10.49") / "Demo_SinglePerson" / "videos"
    info = probe_source(videos / "cam01.mp4", "cam01")
    n = min(args.frames, info.num_frames)
    tmp = Path(tempfile.mkdtemp(prefix="bench_detect_"))
    base = BackendSpec(num_threads=args.threads, landmark_model="full", flip=False)
    onnx = {k: _export_onnx(k, tmp / f"{k}.onnx") for k in ("heatmap", "simcc")}
    rows = []
    rows.append(("decode only (background thread)", _time_decode(info, n)))
    peer = _time_backend(lambda: _StaticBlazePose(base), info, n)
    rows.append(("BlazePose, detector every frame (peer)", peer))
    for model in ("heavy", "full", "lite"):
        for flip in (True, False):
            spec = replace(base, landmark_model=model, flip=flip)
            label = f"BlazePose {model}, tracking{', flip' if flip else ''}" + \
                (" (default)" if (model, flip) == (DEFAULT_LANDMARK_MODEL, True) else "")
            rows.append((label, _time_backend(lambda s=spec: make_backend(s), info, n)))
    for model, flip in (("heavy", True), ("full", False)):       # [detect] hands = true
        spec = replace(base, landmark_model=model, flip=flip, hands=True)
        rows.append((f"BlazePose {model}, tracking{', flip' if flip else ''}, hands",
                     _time_backend(lambda s=spec: make_backend(s), info, n)))
    rows.append(("BlazePose full, tracking, no heatmaps",
                 _time_backend(lambda: make_backend(replace(base, heatmaps=False)), info, n)))
    for kind, label in (("heatmap", "ONNX top-down heatmaps 256x192"),
                        ("simcc", "ONNX top-down SimCC 256x192")):
        spec = replace(base, kind="onnx", model=str(onnx[kind]), model_format="coco17")
        rows.append((label, _time_backend(lambda s=spec: make_backend(s), info, n)))
    cams = [probe_source(videos / f"cam0{i}.mp4", f"cam0{i}") for i in range(1, 5)]
    stage = {}
    for workers in (1, os.cpu_count() or 1):
        jobs = [CameraJob(i, n, base, tmp / f"w{workers}" / f"{i.camera}.npz", f"x{workers}")
                for i in cams]
        t0 = time.perf_counter()
        detect_sources(jobs, workers=workers)
        stage[workers] = time.perf_counter() - t0
    print(f"\nDetection throughput, {n} frames of 1080x1920 video per measurement, "
          f"{args.threads} runtime thread(s), {os.cpu_count()} CPU cores")
    print(f"{'backend':<44}{'seconds':>9}{'frames/s':>10}{'vs peer':>9}")
    for label, sec in rows:
        print(f"{label:<44}{sec:>9.2f}{n / sec:>10.1f}{peer / sec:>8.2f}x")
    for workers, sec in stage.items():
        label = f"stage, 4 cameras, {workers} worker process(es)"
        print(f"{label:<44}{sec:>9.2f}{4 * n / sec:>10.1f}{'':>9}")


if __name__ == "__main__":
    main()
