"""Many takes at once: find the session folders under a root and run the pipeline on each,
in a local process pool or on a Ray cluster (the optional extra ``ray``).

A session folder is one with a calibration file (``calibration.toml`` or Pose2Sim's
``calibration/Calib*.toml``) and its inputs (``pose/`` or ``videos/``); the search does not
descend into a session it found. Each session runs in its own worker process with
:func:`mocap.app.pipeline.run`; an error in one is recorded with its session and the others go
on. Results come back in the sessions' order whatever the order they finished in.

On Ray every node must have this package installed and see the session folders at the same
paths (a shared file system); each session is a task that asks for one CPU, and a session
that detects keypoints in its videos first gets one task per camera (one CPU each): the
session's task waits for them and then finds every camera's detections up to date.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, replace
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from exporters.atomic import atomic_write

from ..detect.run import detect_camera, job_done
from ..errors import MocapError
from .detections import camera_jobs
from .pipeline import run as run_pipeline
from .session import Session

log = logging.getLogger(__name__)

__all__ = ["SessionResult", "is_session", "find_sessions", "run_one", "run_batch",
           "summary_table", "write_summary"]


@dataclass(frozen=True)
class SessionResult:
    """The outcome of one session.

    Attributes:
        session: its folder. ok: finished without error. seconds: wall time of its run.
        error: ``"<ErrorType>: message"`` when it failed, else "".
        people: people written. outputs: files listed in its manifest (relative to ``out/``).
        worker: where it ran (``host:pid``).
    """

    session: str
    ok: bool
    seconds: float
    error: str = ""
    people: int = 0
    outputs: tuple[str, ...] = field(default_factory=tuple)
    worker: str = ""


def is_session(folder: Path) -> bool:
    """True when ``folder`` has a calibration file and ``pose/`` or ``videos/``."""
    has_calibration = ((folder / "calibration.toml").is_file()
                       or any((folder / "calibration").glob("Calib*.toml")))
    return has_calibration and ((folder / "pose").is_dir() or (folder / "videos").is_dir())


def find_sessions(root: "str | Path") -> list[Path]:
    """Session folders at or under ``root``, in sorted path order.

    Raises:
        MocapError: if ``root`` is not a folder.
    """
    root = Path(root)
    if not root.is_dir():
        raise MocapError(f"{root}: batch root folder not found")
    found = []
    for folder, subdirs, _ in os.walk(root):
        path = Path(folder)
        if is_session(path):
            found.append(path)
            subdirs[:] = []                      # a session's own folders are not sessions
        else:
            subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
    return sorted(found)


def run_one(session: "str | Path") -> SessionResult:
    """Run the pipeline on one session; never raises, the error goes into the result."""
    worker = f"{socket.gethostname()}:{os.getpid()}"
    t0 = time.perf_counter()
    try:
        with np.errstate(all="ignore"):          # as `mocap run` does (NaN = missing data)
            manifest = run_pipeline(Path(session))
    except Exception as exc:  # noqa: BLE001 - one session's failure must not stop the batch
        if not isinstance(exc, MocapError):
            log.debug("session %s failed:\n%s", session, traceback.format_exc())
        return SessionResult(str(session), False, time.perf_counter() - t0,
                             f"{type(exc).__name__}: {exc}", worker=worker)
    outputs = tuple(str(v) for v in manifest.get("artifacts", {}).values())
    outputs += tuple(f for p in manifest.get("people", []) for f in p.get("files", []))
    return SessionResult(str(session), True, time.perf_counter() - t0,
                         people=len(manifest.get("people", [])), outputs=outputs, worker=worker)


def camera_detection_jobs(session: "str | Path") -> list:
    """The per-camera detection jobs a session still needs (none when it has 2D detections
    in ``pose/``, no ``videos/``, or every camera is up to date). A session whose jobs cannot
    be made (a missing video, bad settings) gets none here: its own run reports the error.
    """
    folder = Path(session)
    if (folder / "pose").is_dir() or not (folder / "videos").is_dir():
        return []
    try:
        s = Session(folder)
        jobs = camera_jobs(folder, s.rig().names, s.settings())
    except (MocapError, ValueError) as exc:
        log.info("%s: detection left to the session's run (%s)", folder, exc)
        return []
    return [j for j in jobs if not job_done(j)]


def _detect_camera(job) -> str:
    """A Ray task: one camera's detection (one thread: the task holds one CPU)."""
    return str(detect_camera(replace(job, spec=replace(job.spec, num_threads=1))))


def _run_after(session: str, *_detections: str) -> SessionResult:
    """A Ray task: the session's pipeline, once its cameras' detection tasks are done (Ray
    passes their results as arguments, so it starts only after them)."""
    return run_one(session)


def _run_local(sessions: list[Path], workers: int, on_result) -> dict:
    if workers <= 1:
        return {s: on_result(run_one(s)) for s in sessions}
    # spawn: workers start clean (no inherited threads or locks from the parent)
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        futures = {pool.submit(run_one, str(s)): s for s in sessions}
        return {futures[f]: on_result(f.result()) for f in as_completed(futures)}


def _run_ray(sessions: list[Path], address: str, on_result) -> dict:
    try:
        import ray
    except ImportError:
        raise MocapError("--ray needs Ray, an optional dependency: "
                         "pip install 'mocap-studio[ray]'") from None
    started = not ray.is_initialized()
    if started:
        try:
            ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise MocapError(f"--ray {address}: cannot reach a Ray cluster there "
                             f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
                             ) from None
    try:
        detect = ray.remote(num_cpus=1, max_retries=0)(_detect_camera)
        task = ray.remote(num_cpus=1, max_retries=0)(_run_after)
        pending = {}
        for s in sessions:
            jobs = camera_detection_jobs(s)
            if jobs:
                log.info("%s: %d cameras to detect, one Ray task each", s, len(jobs))
            pending[task.remote(str(s), *[detect.remote(j) for j in jobs])] = s
        results = {}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                session = pending.pop(ref)
                try:
                    res = ray.get(ref)
                except Exception as exc:  # noqa: BLE001 - a worker that died, not the pipeline
                    res = SessionResult(str(session), False, 0.0,
                                        f"{type(exc).__name__}: {exc}".splitlines()[0])
                results[session] = on_result(res)
        return results
    finally:
        if started:
            ray.shutdown()


def run_batch(sessions: "list[str | Path]", workers: int = 1, ray_address: "str | None" = None,
              on_result=None) -> list[SessionResult]:
    """Run the pipeline on every session.

    Args:
        sessions: session folders. workers: local worker processes (1 = in this process).
        ray_address: run on the Ray cluster at this address (``"auto"`` finds a running one;
            a Ray already initialised in this process is used as it is) instead of locally.
        on_result: called with each :class:`SessionResult` as it finishes (progress).
    Returns:
        one result per session, in the order of ``sessions``.
    """
    sessions = [Path(s) for s in sessions]
    if workers < 1:
        raise MocapError(f"batch: workers must be at least 1, found {workers}")

    def note(res: SessionResult) -> SessionResult:
        log.info("%s %s (%.1f s)%s", "done" if res.ok else "FAILED", res.session, res.seconds,
                 "" if res.ok else f": {res.error}")
        if on_result is not None:
            on_result(res)
        return res

    if ray_address is not None:
        by_session = _run_ray(sessions, ray_address, note)
    else:
        by_session = _run_local(sessions, min(workers, max(len(sessions), 1)), note)
    return [by_session[s] for s in sessions]


def summary_table(results: list[SessionResult], root: "str | Path | None" = None) -> str:
    """A plain-text table: one line per session, then the totals."""
    def name(s: str) -> str:
        if root is not None:
            try:
                return str(Path(s).relative_to(root)) or "."
            except ValueError:
                pass
        return s
    rows = [(name(r.session), "ok" if r.ok else "FAILED", f"{r.seconds:.1f}",
             str(r.people) if r.ok else "-", r.error) for r in results]
    head = ("session", "status", "seconds", "people", "error")
    widths = [max(len(x) for x in col) for col in zip(head, *rows)] if rows else map(len, head)
    widths = list(widths)
    fmt = "  ".join(f"{{:<{w}}}" for w in widths[:-1]) + "  {}"
    lines = [fmt.format(*head), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*r) for r in rows]
    failed = sum(not r.ok for r in results)
    lines.append(f"{len(results)} sessions: {len(results) - failed} ok, {failed} failed, "
                 f"{sum(r.seconds for r in results):.1f} s of work")
    return "\n".join(line.rstrip() for line in lines)


def write_summary(results: list[SessionResult], path: "str | Path") -> Path:
    """The results as a JSON list (one object per session), written atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "w") as fh:
        json.dump([asdict(r) for r in results], fh, indent=2)
    return path
