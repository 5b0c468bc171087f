"""The session report: one self-contained HTML page (``mocap report``).

* :mod:`.inputs`: what the report draws from (:class:`ReportInputs`, loaded by the app layer,
  :func:`mocap.app.report.gather_inputs`, which also reads the overlay's video frames and
  writes the page).
* :mod:`.data`: what it computes (reprojection errors, angle ranges, per-camera numbers; the
  bone-length statistics come from :mod:`mocap.geometry.bones`).
* :mod:`.figures`: the matplotlib plots. :mod:`.overlays`: the result drawn back on every
  camera. :mod:`.html`: the page. All pure (arrays and images in, figures and HTML out).
"""
from __future__ import annotations

from .data import MAX_TIME_COLUMNS, contact_sheet_frames, reprojection_errors_px
from .figures import PERSON_COLORS_RGB
from .html import SECTIONS, render_page
from .inputs import ReportInputs
from .overlays import crop_box

__all__ = ["ReportInputs", "reprojection_errors_px", "contact_sheet_frames", "crop_box",
           "PERSON_COLORS_RGB", "render_page", "SECTIONS", "MAX_TIME_COLUMNS"]
