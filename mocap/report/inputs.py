"""What the report draws from: :class:`ReportInputs`, everything loaded once, in memory.

The report reads no file itself: the app layer (:func:`mocap.app.report.gather_inputs`)
fills a :class:`ReportInputs` from a session folder, noting what is absent, and reads the
overlay contact sheet's video frames; :func:`mocap.report.render_page` draws the page from
them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from calibration import Rig

from ..settings import Settings
from ..types import Detections2D, Manifest, Points3D

__all__ = ["ReportInputs"]


@dataclass
class ReportInputs:
    """Everything the report draws from, loaded once; ``None`` where absent.

    Attributes:
        settings: the take's settings. name: the take's name (the page title).
        location: where the take is (the summary's ``session`` row). files_dir: the folder
            the manifest's files are relative to (named in the notes of missing files).
        rig: the cameras, or None. manifest: the pipeline's :class:`~mocap.types.Manifest`,
            or None.
        points: the result (filtered) or None. raw: before filtering, or None.
        detections: the 2D detections, or None, on the take's frames (re-timed by the camera
            offsets when the sync stage found some). detections_source: where they came from.
            detections_retimed: they came on the take's frames (the manifest's ``detections``,
            which the triangulation read) and are not shifted again.
        sync: the sync stage's record (``sync.json``) or None. offsets: (C,) int frames
            by which each camera runs late (its frame f shows take frame f + offset), or None.
        notes: one line per artifact that is absent or unreadable, shown in the page.
        calibration_file: the file the rig was read from, or None.
        files_present: for every file the manifest lists (artifacts and people's files, as
            written there, relative to ``files_dir``), whether it is on disk.
        biomech: {person: {source: curves}} of the biomechanics section ("body fit": the
            fitted body's ``angles.csv``; "IK" or "IK (body markers)": OpenSim's ``ik.mot``;
            curves as :mod:`mocap.report.biomech`).
        contacts: {person id: {column: (F,) bool}}: each person's foot contacts
            (``person<p>/contacts.csv``: heel, toe and foot of each side), where written.
    """

    settings: Settings
    name: str = ""
    location: str = ""
    files_dir: str = ""
    rig: "Rig | None" = None
    manifest: "Manifest | None" = None
    points: "Points3D | None" = None
    raw: "Points3D | None" = None
    detections: "Detections2D | None" = None
    detections_source: str = ""
    detections_retimed: bool = False
    sync: "dict | None" = None
    offsets: "np.ndarray | None" = None
    notes: list = field(default_factory=list)
    calibration_file: "Path | None" = None
    files_present: dict = field(default_factory=dict)
    biomech: dict = field(default_factory=dict)
    contacts: dict = field(default_factory=dict)
