"""The report from a session folder to ``SESSION/out/report.html``: read the session
(:mod:`mocap.report.inputs`), draw the page (:mod:`mocap.report.html`, in memory), write it.
"""
from __future__ import annotations

import logging
from pathlib import Path

from exporters.atomic import atomic_write

from .data import sheet_frames
from .html import render_page
from .inputs import ReportInputs, gather_inputs, read_overlay_videos

log = logging.getLogger("mocap.report")         # the stage's logger, as before the split

__all__ = ["render_report", "write_report"]


def render_report(inp: ReportInputs, overlay_frames: int = 4,
                  overlay_width_px: int = 320) -> str:
    """The report page as one HTML string (no script, no external address).

    Reads the overlay contact sheet's video frames (``SESSION/videos/``) and adds the notes
    found while drawing to ``inp.notes``.

    Args:
        inp: from :func:`gather_inputs`. overlay_frames: frames in the contact sheet.
        overlay_width_px: width of each overlay thumbnail.
    """
    frames = videos = None
    if inp.rig is not None and inp.points is not None:
        frames = sheet_frames(inp.points, overlay_frames)
        videos = read_overlay_videos(inp, frames)
    page, notes = render_page(inp, videos, frames, overlay_width_px)
    inp.notes.extend(notes)
    return page


def write_report(session_dir: "str | Path", path: "str | Path | None" = None,
                 overlay_frames: int = 4, overlay_width_px: int = 320) -> Path:
    """Write the report of a session, atomically.

    Args:
        session_dir: the session folder. path: where to write (default ``out/report.html``).
    Returns:
        the path written.
    """
    inp = gather_inputs(session_dir)
    page = render_report(inp, overlay_frames, overlay_width_px)
    path = Path(path) if path is not None else inp.session.out / "report.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "w", encoding="utf-8") as fh:
        fh.write(page)
    for note in inp.notes:
        log.info("report: %s", note)
    log.info("wrote %s (%.1f MB)", path, path.stat().st_size / 1e6)
    return path
