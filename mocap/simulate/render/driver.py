"""Blender driven as a subprocess: its own Python (``.venv-blender``, made by
``make setup-blender``) runs :mod:`mocap.simulate.render.blender_scene` on a job file and the
arrays it names; progress comes back on its standard output.

Renders are cached: the folder Blender writes is kept under ``<mocap cache>/renders/<digest>``
where the digest covers every input (the arrays' bytes, the job, the script's source), so the
same scene is rendered once per machine.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import tempfile
from collections import deque
from pathlib import Path

import numpy as np

from ...datasets import cache_dir
from ...errors import BlenderMissingError, RenderError

log = logging.getLogger(__name__)

__all__ = ["blender_python", "render_fingerprint", "run_blender", "SCRIPT"]

#: The script Blender's Python runs.
SCRIPT = Path(__file__).with_name("blender_scene.py")
_PREFIX = "@@mocap "


def blender_python() -> Path:
    """Blender's Python: ``$MOCAP_BLENDER_PYTHON``, else ``.venv-blender/bin/python`` in the
    current folder or in the repository this package lives in.

    Raises:
        BlenderMissingError: none found (one line saying how to set it up).
    """
    env = os.environ.get("MOCAP_BLENDER_PYTHON", "").strip()
    candidates = [Path(env)] if env else [
        Path.cwd() / ".venv-blender" / "bin" / "python",
        Path(__file__).resolve().parents[3] / ".venv-blender" / "bin" / "python"]
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return c
    where = " or ".join(str(c) for c in candidates)
    raise BlenderMissingError(f"rendering needs Blender's Python environment, expected at "
                              f"{where}, found none; set it up with `make setup-blender` "
                              f"(or point MOCAP_BLENDER_PYTHON at a Python with bpy 5.0)")


def render_fingerprint(arrays: dict, job: dict) -> str:
    """Hex digest of a render's inputs: arrays (name, dtype, shape, bytes), the job (without
    its paths) and the Blender script's source."""
    h = hashlib.sha256(SCRIPT.read_bytes())
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    h.update(json.dumps({k: v for k, v in job.items() if k not in ("arrays", "out")},
                        sort_keys=True).encode())
    return h.hexdigest()


def _run(python: Path, job_file: Path, frames: int) -> None:
    """Run the script; log its progress lines; raise :class:`RenderError` on failure."""
    tail: deque = deque(maxlen=25)
    cmd = [str(python), str(SCRIPT)]
    env = dict(os.environ, MOCAP_RENDER_JOB=str(job_file))
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          errors="replace", env=env) as proc:
        step = max(1, frames // 10)
        for line in proc.stdout:
            line = line.rstrip()
            if not line.startswith(_PREFIX):
                tail.append(line)
                continue
            msg = line[len(_PREFIX):]
            if msg.startswith("frame "):
                done = int(msg.split()[1].split("/")[0])
                if done % step == 0 or done == frames:
                    log.info("rendered %s", msg)
        rc = proc.wait()
    if rc != 0:
        raise RenderError(f"Blender ({python}) failed with status {rc}: "
                          + " | ".join(t for t in tail if t.strip())[-1500:])


def run_blender(arrays: dict, job: dict, use_cache: bool = True) -> Path:
    """Render a scene (see :mod:`mocap.simulate.render.blender_scene` for ``arrays`` and
    ``job``; ``arrays``/``out`` are filled in here) and return the folder of the images.

    Raises:
        BlenderMissingError: no Blender environment. RenderError: Blender failed.
    """
    digest = render_fingerprint(arrays, job)
    root = cache_dir() / "renders"
    final = root / digest[:24]
    if use_cache and (final / "complete").is_file():
        log.info("render cached: %s", final)
        return final
    python = blender_python()
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="render-", dir=root))
    try:
        np.savez(tmp / "arrays.npz", **arrays)
        job = dict(job, arrays=str(tmp / "arrays.npz"), out=str(tmp / "images"))
        (tmp / "job.json").write_text(json.dumps(job))
        log.info("rendering %d frames x %d cameras with Blender (%s)", len(job["frames"]),
                 len(job["cameras"]), job["engine"])
        _run(python, tmp / "job.json", len(job["frames"]))
        (tmp / "arrays.npz").unlink()
        (tmp / "images" / "complete").write_text(digest)
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp / "images", final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final
