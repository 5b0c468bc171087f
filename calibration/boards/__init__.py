"""Calibration boards: what a board is, and where it shows in a camera's frames.

- :mod:`calibration.boards.spec`: :class:`BoardSpec` (ChArUco or checkerboard, the board
  frame, corner ids), board TOML files, the printed image.
- :mod:`calibration.boards.corners`: the corners found in one image (:func:`detect_corners`).
- :mod:`calibration.boards.suggest`: which spec the user meant when none is found.
- :mod:`calibration.boards.sources`: frames of a video or an image folder, a folder's sources.
- :mod:`calibration.boards.views`: :class:`BoardViews`, a camera's board views (blur
  rejection, :func:`detect_source`, :func:`require_board`).

Every public name of these modules is importable from :mod:`calibration.boards`.
"""

from calibration.boards.corners import Corners, corners_fit_board, detect_corners, to_gray
from calibration.boards.sources import (
    FRAME_COUNT_SLACK,
    IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    find_camera_sources,
    iter_images,
    iter_video,
    list_images,
    natural_key,
    video_frame_count,
)
from calibration.boards.spec import (
    BOARD_KINDS,
    CHARUCO,
    CHECKERBOARD,
    DICTIONARIES,
    MAX_SQUARE_M,
    MIN_CORNERS,
    BoardSpec,
    aruco_dictionary,
    board_from_dict,
    board_image,
    boards_dir,
    cv_charuco_board,
    dictionary_size,
    find_board,
    load_board,
)
from calibration.boards.suggest import suggest_spec
from calibration.boards.views import (
    BoardViews,
    Progress,
    detect_source,
    detect_views,
    estimate_blur_px,
    require_board,
    views_from_arrays,
)

__all__ = [
    "BOARD_KINDS",
    "CHARUCO",
    "CHECKERBOARD",
    "DICTIONARIES",
    "FRAME_COUNT_SLACK",
    "IMAGE_EXTENSIONS",
    "MAX_SQUARE_M",
    "MIN_CORNERS",
    "VIDEO_EXTENSIONS",
    "BoardSpec",
    "BoardViews",
    "Corners",
    "Progress",
    "aruco_dictionary",
    "board_from_dict",
    "board_image",
    "boards_dir",
    "corners_fit_board",
    "cv_charuco_board",
    "detect_corners",
    "detect_source",
    "detect_views",
    "estimate_blur_px",
    "find_board",
    "find_camera_sources",
    "iter_images",
    "iter_video",
    "list_images",
    "load_board",
    "natural_key",
    "require_board",
    "suggest_spec",
    "to_gray",
    "video_frame_count",
    "views_from_arrays",
]
