"""Say which board spec the user meant: the common misconfigurations of a spec (size swapped,
squares counted as inner corners, legacy ChArUco pattern, another ArUco dictionary or board
kind) tried on a few images where the board was not found."""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from calibration.boards.corners import detect_corners, to_gray
from calibration.boards.spec import (
    CHARUCO,
    CHECKERBOARD,
    DICTIONARIES,
    BoardSpec,
    aruco_dictionary,
    dictionary_size,
)
from calibration.errors import BoardSpecError


def _size_variants(sx: int, sy: int) -> list[tuple[int, int]]:
    """Board sizes a user may have meant: as given, swapped, and inner corners counted as
    squares (or the reverse), each swapped too."""
    out = [(sx, sy), (sy, sx)]
    for d in (1, -1):
        out += [(sx + d, sy + d), (sy + d, sx + d)]
    return [(a, b) for a, b in dict.fromkeys(out) if a >= 3 and b >= 3]


def _charuco_candidates(spec: BoardSpec, dictionary: str, top_id: int) -> list[BoardSpec]:
    """ChArUco specs with ``dictionary``: the user's size variants, then every size whose
    marker count matches the largest marker id seen, each with both patterns."""
    sizes = _size_variants(spec.squares_x, spec.squares_y)
    n = top_id + 1
    sizes += [(a, b) for a in range(3, 25) for b in range(3, 25) if (a * b) // 2 == n]
    L = spec.square_length_m
    M = spec.marker_length_m if spec.kind == CHARUCO else 0.75 * L
    out = []
    for a, b in dict.fromkeys(sizes):
        for legacy in (bool(spec.legacy_pattern), not spec.legacy_pattern):
            try:
                out.append(BoardSpec(CHARUCO, a, b, L, M, dictionary, legacy, source=spec.source))
            except BoardSpecError:
                pass
    return out


def _checkerboard_candidates(spec: BoardSpec) -> list[BoardSpec]:
    out = []
    for a, b in _size_variants(spec.squares_x, spec.squares_y):
        try:
            out.append(BoardSpec(CHECKERBOARD, a, b, spec.square_length_m, source=spec.source))
        except BoardSpecError:
            pass
    return out


def _families() -> dict[str, list[str]]:
    """Predefined dictionaries by family (``DICT_4X4``: ``DICT_4X4_50`` ... ``_1000``),
    smallest first; the smaller dictionaries of a family are the first markers of the larger."""
    fam: dict[str, list[str]] = {}
    for name in DICTIONARIES:
        head, _, tail = name.rpartition("_")
        key = head if tail.isdigit() else name
        if key.upper() != key.replace("h", "H").upper():
            continue
        fam.setdefault(key.upper(), []).append(name)
    return {k: sorted(set(v), key=dictionary_size) for k, v in fam.items()}


def _marker_ids(images: Sequence[np.ndarray], name: str) -> np.ndarray:
    det = cv2.aruco.ArucoDetector(aruco_dictionary(name))
    found = [det.detectMarkers(img)[1] for img in images]
    return np.concatenate([f.ravel() for f in found if f is not None] or [np.zeros(0, int)])


def _best_dictionary(images: Sequence[np.ndarray]) -> tuple[str | None, int, int]:
    """The predefined dictionary whose markers show in ``images``.

    Scans the smallest dictionary of each family (boards number their markers from 0, and
    large dictionaries are slow to match); the family finding the most markers wins, and
    within it the smallest dictionary holding 90 % of the ids its largest one finds (larger
    dictionaries add look-alike false detections).

    Returns ``(name, markers found, largest id among them)``; name None when none is found.
    """
    best_n, best_family = 0, None
    for members in _families().values():
        n = _marker_ids(images, members[0]).size
        if n > best_n:
            best_n, best_family = n, members
    if best_family is None:
        return None, 0, -1
    all_ids = _marker_ids(images, best_family[-1])
    for name in best_family:
        inside = all_ids[all_ids < dictionary_size(name)]
        if inside.size and inside.size >= 0.9 * all_ids.size:
            return name, int(inside.size), int(inside.max())
    return best_family[-1], int(all_ids.size), int(all_ids.max())


def suggest_spec(images: Sequence[np.ndarray], spec: BoardSpec) -> tuple[BoardSpec | None, str]:
    """Try the common misconfigurations of ``spec`` on ``images``; say what fits.

    Looks for ArUco markers of every predefined dictionary first: when some show, tries
    ChArUco boards of that dictionary with the given size, swapped, inner corners counted as
    squares (or the reverse), every size whose marker count fits the largest marker id seen,
    and both the current and the legacy pattern. Without markers, tries checkerboards of those
    sizes.

    Args:
        images: a few (H, W[, 3]) uint8 images of the board.
        spec: the spec that did not detect the board.

    Returns:
        ``(spec that detects the most corners or None, a sentence for the user)``.
    """
    gray = [to_gray(img) for img in images]
    dict_name, n_markers, top_id = _best_dictionary(gray)
    if dict_name is not None and n_markers >= 4:
        cands = _charuco_candidates(spec, dict_name, top_id)
    else:
        cands = _checkerboard_candidates(spec)
    best, best_score = None, 0
    for cand in cands:
        if cand == spec:
            continue
        found = [detect_corners(img, cand, thorough=False) for img in gray]
        score = sum(len(c) for c in found if c is not None)
        if score > best_score:
            best, best_score = cand, score
    if best is not None:
        return best, f"this spec detects it: {best.describe()}"
    if dict_name is not None and n_markers >= 4:
        return None, (
            f"found {n_markers} ArUco markers of {dict_name} (largest id {top_id}) but no "
            "board layout tried fits them; check squares_x, squares_y and legacy_pattern"
        )
    return None, ("no common variant of the spec (size swapped, squares vs inner corners, "
                  "legacy pattern, other dictionaries or board kind) detects it either")
