"""The detection stage: every camera's video -> :class:`~mocap.types.Detections2D`.

Cameras run in parallel worker processes (one camera each, the CPU cores shared among them),
each decoding ahead in a thread (:class:`.video.FrameReader`) and writing its result to the
job's file (``<folder>/<cam>.npz``, the folder chosen by the caller) atomically, stamped
with a fingerprint of its inputs and settings: a camera whose file is up to date is skipped,
so a crashed run resumes without redoing finished cameras. Inside a camera, every
``chunk_frames`` frames are checkpointed (:mod:`.chunks`: keypoints, compressed heatmaps and
the tracker's state), so a rerun redoes at most one chunk per camera, and a worker holds one
chunk's heatmaps at a time: its memory does not grow with the take's length. One progress
bar counts the frames left over all cameras; without a terminal, the progress is logged with
frames/s and the time left (:class:`mocap.progress.RateLog`).
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
from ..progress import RateLog
from ..types import Detections2D
from .assemble import assemble_detections
from .backends import make_backend
from .chunks import (EMPTY_AFFINE, Chunk, finished_chunks, load_chunk, remove_chunks,
                     save_chunk, write_camera_file)
from .types import DEFAULT_LANDMARK_MODEL, BackendSpec, resolve_model
from .video import VideoInfo, FrameReader, check_sources, probe_source

log = logging.getLogger(__name__)

__all__ = ["CameraJob", "detect_camera", "detect_sources", "spec_from_settings",
           "make_jobs", "job_done", "detect_jobs", "detection_summary",
           "frames_left", "CHUNK_FRAMES"]

#: Bumped when the detection code changes what it writes (invalidates cached cameras).
CODE_VERSION = 2
_PROGRESS_EVERY = 5
#: Heatmap probabilities below this are stored as 0: the maps are mostly empty, and exact
#: zeros make them compress 6 times smaller and 5 times faster (float16 keeps 3 digits anyway).
HEATMAP_FLOOR = 2e-3
#: Frames per checkpoint of a camera: a run killed mid-camera redoes at most this many frames
#: per camera, and a worker holds this many frames of heatmaps (about 0.27 MB per frame and
#: person followed: 240 MB for one person). The detections do not depend on it.
CHUNK_FRAMES = 900


@dataclass(frozen=True)
class CameraJob:
    """One camera's detection work.

    Attributes:
        info: the camera's source. num_frames: frames to process (from 0).
        spec: the detector. out_path: the camera's result file. fingerprint: of the inputs.
        chunk_frames: frames per checkpoint (:mod:`.chunks`); the result does not depend
            on it.
    """

    info: VideoInfo
    num_frames: int
    spec: BackendSpec
    out_path: Path
    fingerprint: str
    chunk_frames: int = CHUNK_FRAMES


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


def _new_arrays(n: int, P: int, J: int) -> dict:
    """Empty keypoint arrays of n frames: xy NaN, conf 0, affines of empty slots."""
    return {"xy": np.full((n, P, J, 2), np.nan), "conf": np.zeros((n, P, J), np.float32),
            "aff": np.broadcast_to(EMPTY_AFFINE, (n, P, 2, 3)).copy()}


def _put_heatmaps(maps: dict, f: int, slot: int, heatmaps: np.ndarray, n: int) -> None:
    """Frame f's heatmaps (J, h, w) of a slot into the chunk's (n, J, h, w) float16 map of
    that slot (made when the slot is first used), values below the floor set to 0."""
    if slot not in maps:
        maps[slot] = np.zeros((n,) + heatmaps.shape, np.float16)
    maps[slot][f] = np.where(heatmaps < HEATMAP_FLOOR, 0.0, heatmaps)


def _detect_chunk(backend, frames, first: int, n: int, shape: "tuple[int, int]",
                  progress) -> tuple[dict, dict]:
    """The backend over frames ``first`` to ``first + n - 1`` of an open reader: the keypoint
    arrays (xy, conf, aff) and the heatmaps of the slots used (slot -> (n, J, h, w)).

    Args:
        shape: (P, J): the person slots (``max_people``) and joints of the arrays.
    """
    arrays, maps = _new_arrays(n, *shape), {}
    keep_heatmaps = backend.heatmap_hw is not None
    xy, conf, aff = arrays["xy"], arrays["conf"], arrays["aff"]
    for i in range(n):
        f, rgb = next(frames)
        if f != first + i:
            raise DetectorError(f"frame {f} read where frame {first + i} was expected")
        for slot, r in backend.process(rgb):
            xy[i, slot], conf[i, slot] = r.xy, r.conf
            if keep_heatmaps and r.heatmaps is not None:
                _put_heatmaps(maps, i, slot, r.heatmaps, n)
                aff[i, slot] = r.image_from_heatmap
        if progress is not None and (i + 1) % _PROGRESS_EVERY == 0:
            progress(_PROGRESS_EVERY)
    if progress is not None and n % _PROGRESS_EVERY:
        progress(n % _PROGRESS_EVERY)
    return arrays, maps


def _backend_state(backend) -> "dict | None":
    state = getattr(backend, "state", None)
    return state() if callable(state) else None


def _run_chunks(job: CameraJob, backend, done: "list[Chunk]", progress) -> list[Chunk]:
    """Detect the frames after the finished chunks ``done``, one chunk file per
    ``job.chunk_frames`` frames; returns every chunk of the camera in frame order."""
    F, J = job.num_frames, get_format(backend.format).num_joints
    start = done[-1].stop if done else 0
    if done and callable(getattr(backend, "restore", None)):
        backend.restore(load_chunk(done[-1])["state"])
    chunks = list(done)
    if start >= F:                  # killed while assembling: nothing left to detect
        return chunks
    with FrameReader(job.info, F, start=start) as reader:
        frames = iter(reader)
        for first in range(start, F, job.chunk_frames):
            n = min(job.chunk_frames, F - first)
            arrays, maps = _detect_chunk(backend, frames, first, n,
                                         (job.spec.max_people, J), progress)
            chunks.append(save_chunk(job.out_path, first, arrays, maps, job.fingerprint,
                                     _backend_state(backend)))
            log.debug("camera %s: frames %d-%d checkpointed", job.info.camera, first,
                      first + n - 1)
    return chunks


def frames_left(job: CameraJob) -> int:
    """Frames of a job still to detect: 0 when its file is done, else those after its
    finished chunks."""
    if _is_done(job):
        return 0
    done = finished_chunks(job.out_path, job.fingerprint, job.num_frames)
    return job.num_frames - (done[-1].stop if done else 0)


def detect_camera(job: CameraJob, progress=None) -> Path:
    """Run the detector over one camera's frames and write ``job.out_path``.

    Frames are detected in chunks of ``job.chunk_frames``, each checkpointed with the
    backend's tracking state (:mod:`.chunks`); finished chunks of the same job are loaded,
    not detected again, and detection continues from the first missing one exactly as an
    uninterrupted run would. The file is assembled from the chunks (which are then removed).

    The file holds xy (F, P, J, 2) pixels (NaN = nobody), conf (F, P, J), format, camera,
    fps, fingerprint and, when kept, heatmaps (F, P, J, h, w) float16 (values below
    :data:`HEATMAP_FLOOR` stored as 0) with heatmap_affine (F, P, 2, 3) (slots without a
    person: zero heatmaps and a one-pixel-per-cell affine). P is the number of person slots
    used (at least 1, at most ``max_people``).

    Args:
        progress: optional callable taking a number of frames done since the last call.
    """
    backend = make_backend(job.spec)
    done = finished_chunks(job.out_path, job.fingerprint, job.num_frames)
    if done:
        log.info("camera %s: resuming at frame %d of %d (finished chunks kept)",
                 job.info.camera, done[-1].stop, job.num_frames)
    chunks = _run_chunks(job, backend, done, progress)
    meta = dict(format=np.array(backend.format), camera=np.array(job.info.camera),
                fps=np.array(job.info.fps), fingerprint=np.array(job.fingerprint))
    kp = write_camera_file(job.out_path, chunks, meta, backend.heatmap_hw)
    remove_chunks(job.out_path)
    xy = kp["xy"]
    log.info("camera %s: %d frames, up to %d people, somebody found in %.0f %% of them",
             job.info.camera, job.num_frames, xy.shape[1],
             100.0 * np.isfinite(xy[..., 0]).any((1, 2)).mean())
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


def _progress(total: int, desc: str):
    """A callable counting frames done: a progress bar on a terminal (its rate and time
    left), else a :class:`~mocap.progress.RateLog` (log lines with frames/s and time left);
    and the callable that closes it."""
    bar = _progress_bar(total, desc)
    if bar is not None and not bar.disable:
        return bar.update, bar.close
    if bar is not None:
        bar.close()
    meter = RateLog(total, desc, "frames", logger=log)
    return meter.update, meter.close


def detect_sources(jobs: "list[CameraJob]", workers: int = 0, desc: str = "detect"
                   ) -> list[Path]:
    """Run the jobs (cameras) in parallel worker processes, skipping finished ones (and,
    inside a camera, its finished chunks).

    Args:
        workers: processes (0: one per camera, at most the CPU count); 1 runs in this
            process.
    Returns:
        the result file of every job, in the jobs' order.
    """
    todo = [j for j in jobs if not _is_done(j)]         # (all chunks done: assembled only)
    left = {j.out_path: frames_left(j) for j in todo}
    for j in jobs:
        if j not in todo:
            log.info("camera %s: up to date (%s)", j.info.camera, j.out_path)
    if not todo:
        return [j.out_path for j in jobs]
    cpus = os.cpu_count() or 1
    n = min(len(todo), workers or cpus)
    threads = max(1, cpus // max(n, 1))
    todo = [replace(j, spec=replace(j.spec, num_threads=threads)) for j in todo]
    tick, close = _progress(sum(left[j.out_path] for j in todo), desc)
    try:
        if n <= 1:
            for j in todo:
                detect_camera(j, progress=tick)
        else:
            _run_pool(todo, n, tick)
    finally:
        close()
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


def make_jobs(sources: "list[Path]", camera_names: "tuple[str, ...]", settings,
              folder: "str | Path", model_root: "Path | None" = None,
              chunk_frames: int = CHUNK_FRAMES) -> list[CameraJob]:
    """One detection job per camera, in the given (rig) order.

    Args:
        sources: each camera's video file or image folder. camera_names: the cameras.
        settings: the :class:`~mocap.settings.Settings` (``[take] fps``, ``[detect]``).
        folder: where each job writes ``<cam>.npz``. model_root: the folder a relative
            ``[detect] model`` path is taken from. chunk_frames: frames per checkpoint.
    Returns:
        the jobs; a job whose file already holds the same fingerprint (source, frames,
        detector) is done (see :func:`job_done`).
    Raises:
        DetectorError / VideoError: inconsistent sources, bad [detect] settings.
    """
    infos = [probe_source(p, c, settings.take.fps) for p, c in zip(sources, camera_names)]
    F = check_sources(infos)
    spec = spec_from_settings(settings.detect, model_root)
    if chunk_frames < 1:
        raise DetectorError(f"chunk_frames: expected at least 1 frame, found {chunk_frames}")
    return [CameraJob(i, F, spec, Path(folder) / f"{i.camera}.npz", _fingerprint(i, F, spec),
                      chunk_frames) for i in infos]


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
