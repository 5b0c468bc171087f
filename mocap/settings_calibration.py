"""The calibration tables of ``session.toml`` (``[calibration]`` and ``[calibration.board]``),
apart from :mod:`mocap.settings` (which re-exports them) to keep each module small."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, ClassVar

from .schema import NON_NEGATIVE, POSITIVE, CheckedTable, at_least
from .settings_rules import fisheye_among_cameras

__all__ = ["BoardSettings", "CalibrationSettings"]


@dataclass(frozen=True)
class BoardSettings(CheckedTable):
    """The calibration board (``[calibration.board]``); lengths in metres. Its values are
    checked together when the board is built, by :class:`calibration.boards.BoardSpec` (the
    calibration package stands alone): the kind, at least 3 squares a side (4 for a
    checkerboard), lengths in metres (a length over 2 m is probably millimetres), the marker
    inside its square and a dictionary with enough markers; the message names
    ``session.toml [calibration.board]`` and the key."""

    TABLE: ClassVar[str] = "calibration.board"

    kind: str = "charuco"
    """``charuco`` or ``checkerboard``."""
    squares_x: int = 5
    """Squares along the board's x axis (a checkerboard has squares_x - 1 inner corners)."""
    squares_y: int = 7
    """Squares along the board's y axis."""
    square_length_m: float = 0.1
    """Side of a square, metres."""
    marker_length_m: float = 0.075
    """Side of an ArUco marker, metres (ChArUco)."""
    dictionary: str = "DICT_4X4_50"
    """OpenCV ArUco dictionary (ChArUco)."""
    legacy_pattern: bool = False
    """ChArUco boards made with OpenCV < 4.6 (matters when squares_y is even)."""


@dataclass(frozen=True)
class CalibrationSettings(CheckedTable):
    """``mocap calibrate``: board videos or images -> calibration.toml."""

    TABLE: ClassVar[str] = "calibration"
    RULES: ClassVar[tuple] = (fisheye_among_cameras,)

    board: BoardSettings = field(default_factory=BoardSettings)
    """The board, as a table (``[calibration.board]``)."""
    board_file: str = ""
    """A board spec instead of the table: a name in ``rigs/boards`` or a TOML path (relative
    to the session)."""
    cameras: tuple[str, ...] = ()
    """Camera order of the rig (empty: the natural order of the names found)."""
    fisheye_cameras: tuple[str, ...] = ()
    """Cameras with a fisheye lens (among ``cameras`` when that is given)."""
    max_frames_per_camera: Annotated[int, at_least(1)] = 150
    """Frames sampled evenly from each video (the same frame numbers for every camera)."""
    max_blur_px: Annotated[float, POSITIVE] = 2.0
    """Board views blurrier than this (pixels) and 1.5 x the camera's median are dropped."""
    fix_k3: bool = False
    """Keep every pinhole k3 at 0 (few views or little distortion); false: k3 is estimated
    for the cameras whose board views reach out towards the image corners, kept at 0 for the
    others."""
    refine_intrinsics: bool = True
    """Let the bundle adjustment refine focal lengths, principal points and distortion."""
    loss_scale_px: Annotated[float, POSITIVE] = 1.0
    """Error (pixels) where the bundle adjustment's robust loss flattens."""
    floor_frame: Annotated[int, at_least(-1)] = -1
    """Frame number of the calibration videos where the board lies on the floor (world origin,
    Z up); -1: use ``calibration/floor/`` images when present, else the first camera's frame."""
    person_height_m: Annotated[float, NON_NEGATIVE] = 0.0
    """``mocap calibrate --from-people``: the standing height of the person walking through the
    volume, metres (it gives the calibration its metric scale); 0: not given (then
    ``--height-m`` is needed)."""
