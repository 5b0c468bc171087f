"""Resumable stages: skip a stage whose inputs and settings have not changed.

Each stage writes its artifacts atomically (temporary file, then rename) and *afterwards* a
record ``out/.stages/<stage>.json`` naming the digests of its input files, its settings and
the digests of the artifacts it wrote. A stage is up to date when its record exists, the
inputs and settings are the same, and every artifact is still there with the recorded digest.
A run killed at any point therefore either has a complete record for a stage (its artifacts
are complete) or none (the stage reruns); no partial file is ever left under its final name.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any, Callable, Iterable

from exporters.atomic import atomic_write

log = logging.getLogger(__name__)

__all__ = ["file_digest", "inputs_digest", "StageRunner"]

#: Files larger than this are identified by size and modification time, not content.
LARGE_FILE_BYTES = 64 * 1024 * 1024
#: Bump when a stage's code changes what it writes, so old records no longer match.
STAGE_VERSION = 1


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


def inputs_digest(paths: Iterable[Path], root: Path) -> dict[str, str]:
    """{path relative to root: digest} of every file in ``paths`` (folders are walked)."""
    return {os.path.relpath(p, root): file_digest(p) for p in _files(paths)}


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
    """

    root: Path
    out: Path
    force: bool = False

    def remove_stale_temporaries(self) -> int:
        """Delete temporary files a killed run left in ``out`` (``.<name>.<hex>.tmp``, see
        :func:`exporters.atomic.atomic_write`); they never carry a final name."""
        stale = [p for p in self.out.rglob(".*.tmp") if p.is_file()]
        for p in stale:
            p.unlink(missing_ok=True)
        if stale:
            log.info("removed %d temporary files left by an interrupted run", len(stale))
        return len(stale)

    def record_path(self, stage: str) -> Path:
        return self.out / ".stages" / f"{stage}.json"

    def _record(self, stage: str, inputs: Iterable[Path], settings: Any) -> dict:
        return {"stage": stage, "version": STAGE_VERSION,
                "inputs": inputs_digest(inputs, self.root), "settings": _jsonable(settings)}

    def up_to_date(self, stage: str, inputs: Iterable[Path], settings: Any) -> bool:
        """Whether ``stage`` can be skipped."""
        path = self.record_path(stage)
        if self.force or not path.is_file():
            return False
        try:
            old = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
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
