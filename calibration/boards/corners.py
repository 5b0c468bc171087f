"""Board corners in an image: ChArUco and checkerboard detection, checked against the board's
geometry. Corner ids and the board frame are those of :mod:`calibration.boards.spec`."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from calibration.boards.spec import CHARUCO, MIN_CORNERS, BoardSpec, cv_charuco_board


@dataclass(frozen=True)
class Corners:
    """Board corners found in one image.

    Attributes:
        ids: (n,) int corner ids (see the module docstring), increasing.
        xy: (n, 2) float64 pixels.
    """

    ids: np.ndarray
    xy: np.ndarray

    def __len__(self) -> int:
        return int(self.ids.size)


def to_gray(image: np.ndarray) -> np.ndarray:
    """(H, W) grey image of a grey or BGR (H, W, 3) uint8 image."""
    if image.ndim == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return image


@functools.lru_cache(maxsize=32)
def _charuco_detector(spec: BoardSpec):
    det = cv2.aruco.CharucoDetector(cv_charuco_board(spec))
    return det


def detect_corners(image: np.ndarray, spec: BoardSpec, thorough: bool = True) -> Corners | None:
    """Find the board's corners in an image.

    Args:
        image: (H, W) grey or (H, W, 3) BGR uint8 image.
        spec: the board.
        thorough: for checkerboards, fall back on OpenCV's slower sector-based detector.

    Returns:
        The corners (at least :data:`MIN_CORNERS`, checked against the board's geometry by
        :func:`corners_fit_board`), or None when the board is not found.
    """
    gray = to_gray(image)
    if spec.kind == CHARUCO:
        cc, ci, _, _ = _charuco_detector(spec).detectBoard(gray)
        if cc is None or ci is None or len(ci) < MIN_CORNERS:
            return None
        ids = ci.reshape(-1).astype(np.int64)
        xy = cc.reshape(-1, 2).astype(np.float64)
    else:
        xy = _detect_checkerboard(gray, spec.inner_corners, thorough)
        if xy is None:
            return None
        ids = np.arange(xy.shape[0], dtype=np.int64)
    order = np.argsort(ids)
    corners = Corners(ids[order], xy[order])
    if not corners_fit_board(corners, spec):
        return None
    return corners


#: Checkerboards are searched for in images scaled down to at most this many pixels a side,
#: then refined at full resolution.
_SEARCH_SIDE_PX = 1000


def _detect_checkerboard(gray: np.ndarray, pattern: tuple[int, int], thorough: bool = True) -> np.ndarray | None:
    """(n, 2) inner corners of a checkerboard, row by row, or None.

    OpenCV's classic detector first (fast), its sector-based one when that fails, both on the
    image scaled to :data:`_SEARCH_SIDE_PX`; the corners are then refined at full resolution
    by ``cornerSubPix`` with a window of about a third of a square.
    """
    h, w = gray.shape
    scale = min(1.0, _SEARCH_SIDE_PX / max(h, w))
    small = gray if scale == 1.0 else cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    fast = 0 if thorough else cv2.CALIB_CB_FAST_CHECK
    found, cc = cv2.findChessboardCorners(
        small, pattern, flags=cv2.CALIB_CB_ADAPTIVE_THRESH | cv2.CALIB_CB_NORMALIZE_IMAGE | fast
    )
    if not found and thorough:
        found, cc = cv2.findChessboardCornersSB(
            small, pattern, flags=cv2.CALIB_CB_EXHAUSTIVE | cv2.CALIB_CB_ACCURACY
        )
    if not found or cc is None:
        return None
    # Pixel centres are integers at both scales: x_full = (x_small + 0.5) / scale - 0.5.
    xy = ((cc.reshape(-1, 2).astype(np.float64) + 0.5) / scale - 0.5).astype(np.float32)
    grid = xy.reshape(pattern[1], pattern[0], 2)
    side = float(np.median(np.linalg.norm(np.diff(grid, axis=1), axis=-1)))
    half = int(np.clip(round(side / 3.0), 2, 25))
    xy = cv2.cornerSubPix(gray, xy.reshape(-1, 1, 2), (half, half), (-1, -1),
                          (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_COUNT, 50, 1e-4))
    return xy.reshape(-1, 2).astype(np.float64)


def corners_fit_board(corners: Corners, spec: BoardSpec, tol_squares: float = 0.25) -> bool:
    """Whether detected corners sit where a plane of this board would put them.

    Fits a homography board -> image (RANSAC) and accepts when at least 80 % of the corners
    are within ``tol_squares`` of a square's side in the image (generous, so that lens
    distortion passes; a wrong spec puts corners whole squares away).
    """
    if len(corners) < MIN_CORNERS:
        return False
    obj = spec.object_points[corners.ids, :2]
    H, _ = cv2.findHomography(obj, corners.xy, cv2.RANSAC, 1e9)
    if H is None:
        return False
    proj = cv2.perspectiveTransform(obj[None], H)[0]
    # One square's side in pixels, locally: the homography's scale at each corner.
    step = cv2.perspectiveTransform((obj + [spec.square_length_m, 0.0])[None], H)[0]
    side = np.linalg.norm(step - proj, axis=1)
    err = np.linalg.norm(proj - corners.xy, axis=1)
    return bool(np.mean(err <= tol_squares * np.maximum(side, 1.0)) >= 0.8)
