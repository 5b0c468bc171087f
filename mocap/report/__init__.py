"""The session report: one self-contained HTML page, ``SESSION/out/report.html``.

* :mod:`.inputs`: what the report reads from the session folder (:func:`gather_inputs`, the
  one place that reads its artifacts; the overlay's video frames).
* :mod:`.data`: what it computes (reprojection errors, angle ranges, per-camera numbers; the
  bone-length statistics come from :mod:`mocap.geometry.bones`).
* :mod:`.figures`: the matplotlib plots. :mod:`.overlays`: the result drawn back on every
  camera. :mod:`.html`: the page. All three are pure (arrays in, HTML out).
* :mod:`.build`: :func:`render_report` and :func:`write_report` (read, draw, write).
"""
from __future__ import annotations

from .build import render_report, write_report
from .data import MAX_TIME_COLUMNS, contact_sheet_frames, reprojection_errors_px
from .figures import PERSON_COLORS_RGB
from .html import SECTIONS, render_page
from .inputs import (VIDEO_EXTENSIONS, ReportInputs, find_video, gather_inputs,
                     read_overlay_videos, read_video_frames)
from .overlays import crop_box

__all__ = ["ReportInputs", "gather_inputs", "reprojection_errors_px", "contact_sheet_frames",
           "render_report", "write_report", "find_video", "crop_box", "read_video_frames",
           "PERSON_COLORS_RGB", "render_page", "read_overlay_videos", "SECTIONS",
           "VIDEO_EXTENSIONS", "MAX_TIME_COLUMNS"]
