"""The detection stage: every camera's video -> :class:`~mocap.types.Detections2D`.

Cameras run in parallel worker processes (one camera each, the CPU cores shared among them),
each decoding ahead in a thread (:class:`.video.FrameReader`) and writing its result to the
job's file (``<folder>/<cam>.npz``, the folder chosen by the caller) atomically, stamped
with a fingerprint of its inputs and settings: a camera whose file is up to date is skipped,
so a crashed run resumes without redoing finished cameras. Heatmaps go to memory-mapped scratch
files (one per person slot used) while a camera runs, so a worker's memory does not grow with
the take's length. One progress bar counts the take's
frames over all cameras.
"""
from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing as mp
import os
import queue as queue_mod
from concurrent.futures import ProcessPoolExecutor, wait, FIRST_EXCEPTION
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from ..errors import DetectorError, MocapError
from ..keypoints import get_format
from ..models import MODELS, landmark_model_name
from ..types import Detections2D, load_npz, save_npz
from .backends import make_backend
from .types import DEFAULT_LANDMARK_MODEL, BackendSpec, resolve_model
from .video import VideoInfo, FrameReader, check_sources, probe_source

log = logging.getLogger(__name__)

__all__ = ["CameraJob", "detect_camera", "detect_sources", "spec_from_settings",
           "assemble_detections", "make_jobs", "job_done", "detect_jobs", "detection_summary",
           "pad_people"]

#: Bumped when the detection code changes what it writes (invalidates cached cameras).
CODE_VERSION = 2
_PROGRESS_EVERY = 5
#: Heatmap probabilities below this are stored as 0: the maps are mostly empty, and exact
#: zeros make them compress 6 times smaller and 5 times faster (float16 keeps 3 digits anyway).
HEATMAP_FLOOR = 2e-3
#: Affine of a heatmap slot with no person (all-zero heatmap): finite, one pixel per cell.
_EMPTY_AFFINE = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


@dataclass(frozen=True)
class CameraJob:
    """One camera's detection work.

    Attributes:
        info: the camera's source. num_frames: frames to process (from 0).
        spec: the detector. out_path: the camera's result file. fingerprint: of the inputs.
    """

    info: VideoInfo
    num_frames: int
    spec: BackendSpec
    out_path: Path
    fingerprint: str


def spec_from_settings(detect, root: "Path | None" = None, num_threads: int = 1
                       ) -> BackendSpec:
    """A :class:`BackendSpec` from ``[detect]`` settings (model paths resolved from ``root``)."""
    model, landmark = "", detect.model or DEFAULT_LANDMARK_MODEL
    if detect.backend == "onnx":
        landmark = DEFAULT_LANDMARK_MODEL
        if not detect.model:
            raise DetectorError("[detect] backend = 'onnx' needs [detect] model = "
                                "'path/to/model.onnx'")
        model = str(resolve_model(detect.model, root))
    return BackendSpec(kind=detect.backend, model=model, landmark_model=landmark,
                       model_format=detect.model_format,
                       max_people=detect.max_people, min_presence=detect.min_presence,
                       detect_interval=detect.detect_interval_frames,
                       person_boxes=detect.person_boxes, mean_rgb=tuple(detect.model_mean_rgb),
                       std_rgb=tuple(detect.model_std_rgb), heatmaps=detect.heatmaps,
                       flip=detect.flip, hands=detect.hands,
                       num_threads=num_threads)


def _file_stamp(path: Path) -> dict:
    st = path.stat()
    return {"path": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _fingerprint(info: VideoInfo, num_frames: int, spec: BackendSpec) -> str:
    doc = {"code": CODE_VERSION, "frames": num_frames,
           "spec": {k: v for k, v in asdict(spec).items() if k != "num_threads"},
           "source": _file_stamp(info.path) if not info.is_images else
           [_file_stamp(p) for p in info.images[:num_frames]]}
    used = (["pose_detection"] if spec.kind == "blazepose" or spec.person_boxes == "detector"
            else []) + ([landmark_model_name(spec.landmark_model)] if spec.kind == "blazepose"
                        else [])
    if spec.hands:
        used.append("hand_landmark_full")
    if used:
        doc["models"] = {n: MODELS[n].sha256 for n in used}
    if spec.kind == "onnx":
        doc["onnx"] = _file_stamp(Path(spec.model))
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def _is_done(job: CameraJob) -> bool:
    if not job.out_path.is_file():
        return False
    try:
        with np.load(job.out_path, allow_pickle=False) as d:
            return "fingerprint" in d.files and str(d["fingerprint"]) == job.fingerprint
    except (OSError, ValueError):
        return False


class _HeatmapSlots:
    """Heatmaps of one camera, a memory-mapped scratch file per person slot, made when the
    slot is first used (so a cap of many people costs nothing for the slots never used)."""

    def __init__(self, out_path: Path, shape: tuple):
        self.out_path, self.shape, self.maps = out_path, shape, {}

    def put(self, f: int, slot: int, heatmaps: np.ndarray) -> None:
        if slot not in self.maps:
            path = self.out_path.with_name(f".{self.out_path.stem}.heatmaps{slot}.npy")
            self.maps[slot] = (path, np.lib.format.open_memmap(path, "w+", np.float16,
                                                               self.shape))
        self.maps[slot][1][f] = np.where(heatmaps < HEATMAP_FLOOR, 0.0, heatmaps)

    def stacked(self, P: int) -> np.ndarray:
        """(F, P, J, h, w) float16: the slots below P, zeros where unused."""
        out = np.zeros((self.shape[0], P) + self.shape[1:], np.float16)
        for slot, (_, m) in self.maps.items():
            if slot < P:
                out[:, slot] = m
        return out

    def remove(self) -> None:
        paths = [path for path, _ in self.maps.values()]
        self.maps = {}                                  # drops the maps (closes the files)
        for path in paths:
            path.unlink(missing_ok=True)


def _run_frames(job: CameraJob, backend, arrays: dict, hm: "_HeatmapSlots | None",
                progress) -> None:
    """The backend over the job's frames, filling xy, conf, aff (and the heatmaps)."""
    xy, conf, aff = arrays["xy"], arrays["conf"], arrays["aff"]
    done = 0
    with FrameReader(job.info, job.num_frames) as frames:
        for f, rgb in frames:
            for slot, r in backend.process(rgb):
                xy[f, slot], conf[f, slot] = r.xy, r.conf
                if hm is not None and r.heatmaps is not None:
                    hm.put(f, slot, r.heatmaps)
                    aff[f, slot] = r.image_from_heatmap
            done += 1
            if progress is not None and done % _PROGRESS_EVERY == 0:
                progress(_PROGRESS_EVERY)
    if progress is not None and done % _PROGRESS_EVERY:
        progress(done % _PROGRESS_EVERY)


def detect_camera(job: CameraJob, progress=None) -> Path:
    """Run the detector over one camera's frames and write ``job.out_path``.

    The file holds xy (F, P, J, 2) pixels (NaN = nobody), conf (F, P, J), format, camera,
    fps, fingerprint and, when kept, heatmaps (F, P, J, h, w) float16 (values below
    :data:`HEATMAP_FLOOR` stored as 0) with heatmap_affine (F, P, 2, 3) (slots without a
    person: zero heatmaps and a one-pixel-per-cell affine). P is the number of person slots
    used (at least 1, at most ``max_people``).

    Args:
        progress: optional callable taking a number of frames done since the last call.
    """
    backend = make_backend(job.spec)
    F, P = job.num_frames, job.spec.max_people
    J = get_format(backend.format).num_joints
    arrays = {"xy": np.full((F, P, J, 2), np.nan), "conf": np.zeros((F, P, J), np.float32),
              "aff": np.broadcast_to(_EMPTY_AFFINE, (F, P, 2, 3)).copy()}
    job.out_path.parent.mkdir(parents=True, exist_ok=True)
    hw = backend.heatmap_hw
    hm = _HeatmapSlots(job.out_path, (F, J) + hw) if hw else None
    try:
        _run_frames(job, backend, arrays, hm, progress)
        used = np.isfinite(arrays["xy"][..., 0]).any((0, 2))
        P = int(np.flatnonzero(used).max()) + 1 if used.any() else 1
        xy = arrays["xy"][:, :P]
        out = dict(xy=xy, conf=arrays["conf"][:, :P], format=np.array(backend.format),
                   camera=np.array(job.info.camera), fps=np.array(job.info.fps),
                   fingerprint=np.array(job.fingerprint))
        if hm is not None:
            out.update(heatmaps=hm.stacked(P), heatmap_affine=arrays["aff"][:, :P])
        save_npz(job.out_path, **out)
    finally:
        if hm is not None:
            hm.remove()
    log.info("camera %s: %d frames, up to %d people, somebody found in %.0f %% of them",
             job.info.camera, F, P, 100.0 * np.isfinite(xy[..., 0]).any((1, 2)).mean())
    return job.out_path


# --- worker processes -----------------------------------------------------------------------

_QUEUE = None


def _init_worker(q) -> None:
    global _QUEUE
    _QUEUE = q


def _worker(job: CameraJob) -> str:
    return str(detect_camera(job, progress=lambda n: _QUEUE.put(n)))


def _progress_bar(total: int, desc: str):
    try:
        from tqdm import tqdm
    except ImportError:                              # pragma: no cover - tqdm is in [detect]
        return None
    return tqdm(total=total, desc=desc, unit="frame", disable=None, leave=False,
                dynamic_ncols=True)


def detect_sources(jobs: "list[CameraJob]", workers: int = 0, desc: str = "detect"
                   ) -> list[Path]:
    """Run the jobs (cameras) in parallel worker processes, skipping finished ones.

    Args:
        workers: processes (0: one per camera, at most the CPU count); 1 runs in this
            process.
    Returns:
        the result file of every job, in the jobs' order.
    """
    todo = [j for j in jobs if not _is_done(j)]
    for j in jobs:
        if j not in todo:
            log.info("camera %s: up to date (%s)", j.info.camera, j.out_path)
    if not todo:
        return [j.out_path for j in jobs]
    cpus = os.cpu_count() or 1
    n = min(len(todo), workers or cpus)
    threads = max(1, cpus // max(n, 1))
    todo = [replace(j, spec=replace(j.spec, num_threads=threads)) for j in todo]
    bar = _progress_bar(sum(j.num_frames for j in todo), desc)
    tick = (lambda k: bar.update(k)) if bar is not None else None
    try:
        if n <= 1:
            for j in todo:
                detect_camera(j, progress=tick)
        else:
            _run_pool(todo, n, tick)
    finally:
        if bar is not None:
            bar.close()
    return [j.out_path for j in jobs]


def _run_pool(jobs: "list[CameraJob]", n: int, tick) -> None:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    with ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=_init_worker,
                             initargs=(q,)) as pool:
        futures = [pool.submit(_worker, j) for j in jobs]
        pending = set(futures)
        while pending:
            _done, pending = wait(pending, timeout=0.2, return_when=FIRST_EXCEPTION)
            _drain(q, tick)
            failed = [f for f in _done if f.exception() is not None]
            if failed:
                for f in pending:
                    f.cancel()
                raise failed[0].exception()
        _drain(q, tick)


def _drain(q, tick) -> None:
    while True:
        try:
            k = q.get_nowait()
        except (queue_mod.Empty, OSError, EOFError):
            return
        if tick is not None:
            tick(k)


# --- assembling a take ----------------------------------------------------------------------

def pad_people(a: np.ndarray, P: int, fill) -> np.ndarray:
    """An (F, P', ...) array padded along its people axis to P with ``fill`` (broadcast)."""
    if a.shape[1] >= P:
        return a
    pad = np.empty((a.shape[0], P - a.shape[1]) + a.shape[2:], a.dtype)
    pad[...] = fill
    return np.concatenate([a, pad], 1)


def assemble_detections(paths: "list[Path]", camera_names: "tuple[str, ...]", fps: float,
                        max_heatmap_gb: float = 2.0) -> Detections2D:
    """Stack per-camera result files into one :class:`Detections2D` (rig order).

    Heatmaps are kept when every camera has them and they fit in ``max_heatmap_gb`` (a
    warning names the setting otherwise).
    """
    per = [load_npz(p, ("xy", "conf", "format"), "camera detections") for p in paths]
    fmts = {str(d["format"]) for d in per}
    if len(fmts) != 1:
        raise MocapError(f"camera detection files disagree on the keypoint format: {fmts}")
    P = max(d["xy"].shape[1] for d in per)
    xy = np.stack([pad_people(d["xy"], P, np.nan) for d in per])
    conf = np.stack([pad_people(d["conf"], P, 0.0) for d in per])
    hm = aff = None
    if all("heatmaps" in d for d in per):
        size_gb = sum(d["heatmaps"].nbytes / d["heatmaps"].shape[1] for d in per) * P / 1e9
        if size_gb <= max_heatmap_gb:
            hm = np.stack([pad_people(d["heatmaps"], P, 0.0) for d in per])
            aff = np.stack([pad_people(d["heatmap_affine"], P, _EMPTY_AFFINE)
                            for d in per])
        else:
            log.warning("heatmaps of this take take %.1f GB, more than [detect] "
                        "max_heatmap_gb = %g; keeping keypoints only", size_gb, max_heatmap_gb)
    return Detections2D(xy=xy, conf=conf, format=fmts.pop(), camera_names=camera_names,
                        fps=fps, heatmaps=hm, heatmap_affine=aff)


def make_jobs(sources: "list[Path]", camera_names: "tuple[str, ...]", settings,
              folder: "str | Path", model_root: "Path | None" = None) -> list[CameraJob]:
    """One detection job per camera, in the given (rig) order.

    Args:
        sources: each camera's video file or image folder. camera_names: the cameras.
        settings: the :class:`~mocap.settings.Settings` (``[take] fps``, ``[detect]``).
        folder: where each job writes ``<cam>.npz``. model_root: the folder a relative
            ``[detect] model`` path is taken from.
    Returns:
        the jobs; a job whose file already holds the same fingerprint (source, frames,
        detector) is done (see :func:`job_done`).
    Raises:
        DetectorError / VideoError: inconsistent sources, bad [detect] settings.
    """
    infos = [probe_source(p, c, settings.take.fps) for p, c in zip(sources, camera_names)]
    F = check_sources(infos)
    spec = spec_from_settings(settings.detect, model_root)
    return [CameraJob(i, F, spec, Path(folder) / f"{i.camera}.npz", _fingerprint(i, F, spec))
            for i in infos]


def job_done(job: CameraJob) -> bool:
    """Whether the job's result file exists with the job's fingerprint."""
    return _is_done(job)


def detection_summary(jobs: "list[CameraJob]", det: Detections2D) -> dict:
    """What ``detections.json`` records: the detector, format, fps, frames and per camera its
    source, frames, fps, size and how many frames show a person."""
    infos = [j.info for j in jobs]
    return {"backend": asdict(jobs[0].spec), "format": det.format, "fps": infos[0].fps,
            "frames": jobs[0].num_frames,
            "cameras": [{"name": i.camera, "source": str(i.path), "frames": i.num_frames,
                         "fps": i.fps, "size_wh": list(i.size_wh),
                         "frames_with_person": int(np.isfinite(det.xy[c, :, :, :, 0])
                                                   .any(-1).any(-1).sum())}
                        for c, i in enumerate(infos)]}


def detect_jobs(jobs: "list[CameraJob]", camera_names: "tuple[str, ...]", settings,
                workers: "int | None" = None, desc: str = "detect") -> Detections2D:
    """Run the jobs (:func:`detect_sources`) and stack their results (rig order).

    Args:
        jobs: from :func:`make_jobs`. camera_names: the rig's cameras, in its order.
        settings: the :class:`~mocap.settings.Settings`. workers: parallel processes (None:
            ``[detect] workers``). desc: the progress bar's label.
    Returns:
        the detections (nothing written but the jobs' own files).
    """
    F, fps, spec = jobs[0].num_frames, jobs[0].info.fps, jobs[0].spec
    log.info("detecting %s keypoints in %d cameras x %d frames at %g fps (%s)", spec.format,
             len(jobs), F, fps, spec.kind)
    paths = detect_sources(jobs, settings.detect.workers if workers is None else workers,
                           desc=desc)
    return assemble_detections(paths, tuple(camera_names), fps, settings.detect.max_heatmap_gb)
