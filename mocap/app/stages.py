"""Resumable stages: skip a stage whose inputs and settings have not changed.

Each stage writes its artifacts atomically (temporary file, then rename) and *afterwards* a
record ``out/.stages/<stage>.json`` naming the digests of its input files, its settings and
the digests of the artifacts it wrote. A stage is up to date when its record exists, the
inputs and settings are the same, and every artifact is still there with the recorded digest.
A run killed at any point therefore either has a complete record for a stage (its artifacts
are complete) or none (the stage reruns); no partial file is ever left under its final name.
A record that cannot be read (not JSON, not an object, wrong fields) is stale: logged, and
the stage reruns.

One run of a session at a time: :func:`session_lock` holds ``out/.session.lock`` (an
exclusive ``flock``) for the whole run; a second run of the same session is refused with a
one-line :class:`~mocap.errors.SessionError` instead of waiting. Only the holder of the lock
deletes temporary files, so a starting run never removes a live run's files in progress.
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any, Callable, Iterable

from exporters.atomic import atomic_write

from ..errors import SessionError

try:
    import fcntl
except ImportError:         # not POSIX: no session lock
    fcntl = None

log = logging.getLogger(__name__)

__all__ = ["file_digest", "inputs_digest", "session_lock", "StageRunner", "LOCK_NAME"]

#: Files larger than this are identified by size and modification time, not content.
LARGE_FILE_BYTES = 64 * 1024 * 1024
#: Bump when a stage's code changes what it writes, so old records no longer match.
STAGE_VERSION = 1
#: The session lock's file in ``out/``.
LOCK_NAME = ".session.lock"


def file_digest(path: Path) -> str:
    """sha256 of a file's content (size + mtime for very large files such as videos)."""
    st = path.stat()
    if st.st_size > LARGE_FILE_BYTES:
        return f"size:{st.st_size}:mtime:{st.st_mtime_ns}"
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _files(paths: Iterable[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            out += sorted(q for q in p.rglob("*") if q.is_file() and not q.name.startswith("."))
        elif p.is_file():
            out.append(p)
    return out


def inputs_digest(paths: Iterable[Path], root: Path,
                  known: "dict | None" = None) -> dict[str, str]:
    """{path relative to root: digest} of every file in ``paths`` (folders are walked).

    ``known``: digests already computed, {(path, size, mtime ns): digest}, used for a file
    whose size and modification time are unchanged and filled with the new ones: one run's
    stages read the session's sources (108,000 pose files for a ten-minute take) once, not
    once per stage."""
    if known is None:
        return {os.path.relpath(p, root): file_digest(p) for p in _files(paths)}
    out = {}
    for p in _files(paths):
        st = p.stat()
        key = (str(p), st.st_size, st.st_mtime_ns)
        if key not in known:
            known[key] = file_digest(p)
        out[os.path.relpath(p, root)] = known[key]
    return out


@contextlib.contextmanager
def session_lock(root: Path, out: Path):
    """Hold the session's lock (``out/.session.lock``, created with ``out/``) while the block
    runs.

    Raises:
        SessionError: another run (this process or another) holds it.
        OSError: ``out`` cannot be made or written (a file, a read-only or full disk).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / LOCK_NAME
    with open(path, "a") as fh:
        if fcntl is not None:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise SessionError(f"{root}: another run of this session holds {path}; wait "
                                   f"for it to end and try again") from None
        try:
            yield path
        finally:
            if fcntl is not None:
                fcntl.flock(fh, fcntl.LOCK_UN)


def _read_record(path: Path, stage: str) -> "dict | None":
    """The record of ``stage`` at ``path``, or None (logged) when it cannot be used."""
    try:
        old = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        log.info("stage %s: record %s unreadable (%s), treated as stale", stage, path, exc)
        return None
    if not isinstance(old, dict) or not isinstance(old.get("outputs", {}), dict):
        log.info("stage %s: record %s is not a stage record, treated as stale", stage, path)
        return None
    return old


def _jsonable(settings: Any) -> Any:
    if dataclasses.is_dataclass(settings):
        return json.loads(json.dumps(dataclasses.asdict(settings), default=str))
    return json.loads(json.dumps(settings, default=str))


@dataclasses.dataclass
class StageRunner:
    """Runs stages of one session, skipping those that are up to date.

    Attributes:
        root: the session folder (input paths are recorded relative to it).
        out: the output folder (artifacts are named relative to it).
        force: rerun every stage.
        locked: whether this runner holds the session lock now (:meth:`session_lock`).
    """

    root: Path
    out: Path
    force: bool = False
    locked: bool = False
    known: dict = dataclasses.field(default_factory=dict, repr=False, compare=False)
    """Digests of the input files outside ``out`` this runner has read, by (path, size, mtime
    ns) (see :func:`inputs_digest`)."""

    @contextlib.contextmanager
    def session_lock(self):
        """:func:`session_lock` on this runner's session, for the block."""
        with session_lock(self.root, self.out):
            self.locked = True
            try:
                yield self
            finally:
                self.locked = False

    def remove_stale_temporaries(self) -> int:
        """Delete temporary files a killed run left in ``out`` (``.<name>.<hex>.tmp``, see
        :func:`exporters.atomic.atomic_write`); they never carry a final name. Only while
        nobody else holds the session lock (else another run's files in progress could go):
        when another run holds it, nothing is deleted."""
        if not self.locked:
            try:
                with self.session_lock():
                    return self.remove_stale_temporaries()
            except SessionError as exc:
                log.warning("temporary files kept: %s", exc)
                return 0
        stale = [p for p in self.out.rglob(".*.tmp") if p.is_file()]
        for p in stale:
            p.unlink(missing_ok=True)
        if stale:
            log.info("removed %d temporary files left by an interrupted run", len(stale))
        return len(stale)

    def record_path(self, stage: str) -> Path:
        return self.out / ".stages" / f"{stage}.json"

    def _record(self, stage: str, inputs: Iterable[Path], settings: Any) -> dict:
        inputs = list(inputs)
        outside = [p for p in inputs if not Path(p).resolve().is_relative_to(self.out.resolve())]
        inside = [p for p in inputs if p not in outside]
        digests = {**inputs_digest(outside, self.root, self.known),
                   **inputs_digest(inside, self.root)}
        return {"stage": stage, "version": STAGE_VERSION,
                "inputs": dict(sorted(digests.items())), "settings": _jsonable(settings)}

    def up_to_date(self, stage: str, inputs: Iterable[Path], settings: Any) -> bool:
        """Whether ``stage`` can be skipped."""
        path = self.record_path(stage)
        if self.force or not path.is_file():
            return False
        old = _read_record(path, stage)
        if old is None:
            return False
        now = self._record(stage, inputs, settings)
        if any(old.get(k) != now[k] for k in ("version", "inputs", "settings")):
            return False
        for name, digest in old.get("outputs", {}).items():
            p = self.out / name
            if not p.is_file() or file_digest(p) != digest:
                return False
        return True

    def run(self, stage: str, inputs: Iterable[Path], settings: Any,
            fn: Callable[[], Iterable[str]]) -> bool:
        """Run ``fn`` unless the stage is up to date.

        Args:
            stage: a name unique within the pipeline.
            inputs: files or folders the stage reads (artifacts of earlier stages included).
            settings: the stage's settings (a dataclass or JSON-able value).
            fn: does the work, writing its artifacts atomically under ``out``; returns their
                names relative to ``out``.
        Returns:
            True when the stage ran, False when it was skipped.
        """
        inputs = list(inputs)
        if self.up_to_date(stage, inputs, settings):
            log.info("stage %s: up to date, skipped", stage)
            return False
        self.record_path(stage).unlink(missing_ok=True)
        record = self._record(stage, inputs, settings)
        outputs = list(fn())
        record["outputs"] = {name: file_digest(self.out / name) for name in outputs}
        path = self.record_path(stage)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path, "w") as fh:
            json.dump(record, fh, indent=1, sort_keys=True)
        return True
