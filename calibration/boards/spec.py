"""Calibration boards: the :class:`BoardSpec`, its corners in the board frame, its TOML files and
its printed image.

Two kinds of board, named as OpenCV names them:

- ``"charuco"``: a ChArUco board of ``squares_x`` x ``squares_y`` squares with ArUco markers of
  ``dictionary`` (any of OpenCV's predefined dictionaries, ``"DICT_4X4_50"`` ...) in the white
  squares. Boards printed by OpenCV before 4.6 (and by tools built on it) use the *legacy*
  pattern, which differs from the current one when ``squares_y`` is even:
  ``legacy_pattern = true`` selects it.
- ``"checkerboard"``: a plain chessboard of ``squares_x`` x ``squares_y`` squares, i.e.
  ``(squares_x - 1) x (squares_y - 1)`` inner corners (the Pose2Sim demo's "4 x 7 inner
  corners" board is ``squares_x = 5, squares_y = 8``).

Board frame (OpenCV's): origin at the outer top-left corner of the printed board, x along
``squares_x`` (to the right on the print), y along ``squares_y`` (down on the print), z = x × y
(into the print, away from a viewer facing it); metres. Corner ``k`` (its id) is the inner
corner at column ``k % (squares_x - 1)`` and row ``k // (squares_x - 1)``, at
``((col + 1) * square_length_m, (row + 1) * square_length_m, 0)``.

A spec is written in TOML with the keys of :class:`BoardSpec` (``rigs/boards/*.toml``, or the
``[calibration.board]`` table of a session). Lengths are in metres; a length above
:data:`MAX_SQUARE_M` is refused as probably millimetres.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import tomllib

from calibration.errors import BoardSpecError

log = logging.getLogger(__name__)

CHARUCO = "charuco"
CHECKERBOARD = "checkerboard"
BOARD_KINDS = (CHARUCO, CHECKERBOARD)
#: A square longer than this (metres) is refused: the length was probably given in millimetres.
MAX_SQUARE_M = 2.0
#: Fewest corners a view must show to be used (a homography and a pose need 4; 6 leaves
#: room to check them).
MIN_CORNERS = 6
#: OpenCV's predefined ArUco dictionaries, by name.
DICTIONARIES = tuple(
    sorted(
        (n for n in dir(cv2.aruco) if n.startswith("DICT_") and n.upper() == n),
        key=lambda n: (n.split("_")[1], int(n.split("_")[-1]) if n.split("_")[-1].isdigit() else 0),
    )
)


@dataclass(frozen=True)
class BoardSpec:
    """What a calibration board looks like. Lengths in metres.

    Attributes:
        kind: ``"charuco"`` or ``"checkerboard"``.
        squares_x: number of squares along the board's x axis (columns).
        squares_y: number of squares along the board's y axis (rows).
        square_length_m: side of one square, metres.
        marker_length_m: side of one ArUco marker, metres (ChArUco only; 0 for a checkerboard).
        dictionary: OpenCV predefined ArUco dictionary name, e.g. ``"DICT_4X4_50"`` (ChArUco).
        legacy_pattern: ChArUco boards made with OpenCV < 4.6 (matters when ``squares_y`` is
            even).
    """

    kind: str
    squares_x: int
    squares_y: int
    square_length_m: float
    marker_length_m: float = 0.0
    dictionary: str = "DICT_4X4_50"
    legacy_pattern: bool = False
    source: str = dataclasses.field(default="board", compare=False, repr=False)

    def __post_init__(self) -> None:
        src = self.source
        if self.kind not in BOARD_KINDS:
            raise BoardSpecError(src, "kind", f"expected one of {list(BOARD_KINDS)}, found {self.kind!r}")
        least = 3 if self.kind == CHARUCO else 4  # OpenCV wants 3 x 3 inner corners or more
        for key in ("squares_x", "squares_y"):
            v = getattr(self, key)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < least:
                raise BoardSpecError(
                    src, key, f"expected a whole number of squares >= {least}, found {v!r}"
                )
        _check_length(src, "square_length_m", self.square_length_m)
        if not isinstance(self.legacy_pattern, (bool, np.bool_)):
            raise BoardSpecError(
                src, "legacy_pattern", f"expected true or false, found {self.legacy_pattern!r}"
            )
        if self.kind == CHARUCO:
            self._check_charuco()
        object.__setattr__(self, "dictionary", _dictionary_name(src, self.dictionary, self.kind))

    def _check_charuco(self) -> None:
        src = self.source
        _check_length(src, "marker_length_m", self.marker_length_m)
        if not self.marker_length_m < self.square_length_m:
            raise BoardSpecError(
                src,
                "marker_length_m",
                f"expected less than square_length_m = {self.square_length_m} m, "
                f"found {self.marker_length_m} m",
            )
        name = _dictionary_name(src, self.dictionary, self.kind)
        have = dictionary_size(name)
        need = (self.squares_x * self.squares_y) // 2
        if need > have:
            raise BoardSpecError(
                src,
                "dictionary",
                f"expected a dictionary with at least {need} markers for "
                f"{self.squares_x} x {self.squares_y} squares, found {name} with {have}",
            )

    # -- derived quantities

    @property
    def inner_corners(self) -> tuple[int, int]:
        """(columns, rows) of inner corners: ``(squares_x - 1, squares_y - 1)``."""
        return (self.squares_x - 1, self.squares_y - 1)

    @property
    def num_corners(self) -> int:
        """Number of inner corners N (the corner ids are 0 .. N-1)."""
        cx, cy = self.inner_corners
        return cx * cy

    @property
    def object_points(self) -> np.ndarray:
        """(N, 3) inner corners in the board frame, metres, indexed by corner id."""
        cx, cy = self.inner_corners
        ids = np.arange(cx * cy)
        xyz = np.zeros((ids.size, 3))
        xyz[:, 0] = (ids % cx + 1) * self.square_length_m
        xyz[:, 1] = (ids // cx + 1) * self.square_length_m
        return xyz

    @property
    def size_m(self) -> tuple[float, float]:
        """(width, height) of the printed squares, metres."""
        return (self.squares_x * self.square_length_m, self.squares_y * self.square_length_m)

    def replace(self, **changes: Any) -> "BoardSpec":
        """A new spec with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def describe(self) -> str:
        """One line in TOML-like words, e.g. for an error message."""
        if self.kind == CHECKERBOARD:
            cx, cy = self.inner_corners
            return (
                f"checkerboard squares_x = {self.squares_x}, squares_y = {self.squares_y} "
                f"({cx} x {cy} inner corners), square_length_m = {self.square_length_m}"
            )
        return (
            f"charuco squares_x = {self.squares_x}, squares_y = {self.squares_y}, "
            f"dictionary = {self.dictionary!r}, legacy_pattern = "
            f"{str(bool(self.legacy_pattern)).lower()}"
        )

    def to_dict(self) -> dict[str, Any]:
        """The TOML table of this spec (plain Python values)."""
        out = {
            "kind": self.kind,
            "squares_x": int(self.squares_x),
            "squares_y": int(self.squares_y),
            "square_length_m": float(self.square_length_m),
        }
        if self.kind == CHARUCO:
            out.update(
                marker_length_m=float(self.marker_length_m),
                dictionary=self.dictionary,
                legacy_pattern=bool(self.legacy_pattern),
            )
        return out


def _check_length(src: str, key: str, v: Any) -> None:
    if not isinstance(v, (int, float, np.floating)) or isinstance(v, bool) or not np.isfinite(v) or v <= 0:
        raise BoardSpecError(src, key, f"expected a positive length in metres, found {v!r}")
    if v > MAX_SQUARE_M:
        raise BoardSpecError(
            src, key, f"expected metres (at most {MAX_SQUARE_M}), found {v} (millimetres?)"
        )


def _dictionary_name(src: str, name: Any, kind: str) -> str:
    """The canonical OpenCV name (``"DICT_4X4_50"``) of ``name``; case and the ``DICT_``
    prefix are optional."""
    if not isinstance(name, str):
        raise BoardSpecError(src, "dictionary", f"expected a dictionary name, found {name!r}")
    up = name.strip().upper()
    if not up.startswith("DICT_"):
        up = "DICT_" + up
    if up not in DICTIONARIES:
        if kind == CHECKERBOARD:
            return name
        raise BoardSpecError(
            src, "dictionary", f"expected one of {list(DICTIONARIES)}, found {name!r}"
        )
    return up


@functools.lru_cache(maxsize=None)
def aruco_dictionary(name: str):
    """The ``cv2.aruco.Dictionary`` called ``name`` (``"DICT_4X4_50"``)."""
    return cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, name))


def dictionary_size(name: str) -> int:
    """Number of markers in an OpenCV predefined dictionary."""
    return int(aruco_dictionary(name).bytesList.shape[0])


def cv_charuco_board(spec: BoardSpec):
    """The ``cv2.aruco.CharucoBoard`` of a ChArUco spec (legacy pattern set)."""
    board = cv2.aruco.CharucoBoard(
        (int(spec.squares_x), int(spec.squares_y)),
        float(spec.square_length_m),
        float(spec.marker_length_m),
        aruco_dictionary(spec.dictionary),
    )
    board.setLegacyPattern(bool(spec.legacy_pattern))
    return board


# ----------------------------------------------------------------------------- specs from TOML

_SPEC_KEYS = tuple(f.name for f in dataclasses.fields(BoardSpec) if f.name != "source")
_REQUIRED = ("kind", "squares_x", "squares_y", "square_length_m")


def board_from_dict(table: dict[str, Any], source: str = "board") -> BoardSpec:
    """A :class:`BoardSpec` from a TOML table; unknown or missing keys are named."""
    if not isinstance(table, dict):
        raise BoardSpecError(source, "table", f"expected a table of {list(_SPEC_KEYS)}, found {table!r}")
    unknown = [k for k in table if k not in _SPEC_KEYS]
    if unknown:
        raise BoardSpecError(source, unknown[0], f"unknown key; expected keys {list(_SPEC_KEYS)}")
    missing = [k for k in _REQUIRED if k not in table]
    if table.get("kind") == CHARUCO and "marker_length_m" not in table:
        missing.append("marker_length_m")
    if missing:
        raise BoardSpecError(source, missing[0], f"missing key; found keys {list(table)}")
    return BoardSpec(**table, source=source)


def load_board(path: str | os.PathLike) -> BoardSpec:
    """Read a board TOML file (keys of :class:`BoardSpec` at the top level)."""
    p = Path(path)
    if not p.is_file():
        raise BoardSpecError(str(p), "file", "expected an existing board TOML file, found nothing there")
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise BoardSpecError(str(p), "file", f"expected valid TOML, found: {e}") from None
    doc.pop("description", None)
    return board_from_dict(doc, str(p))


def boards_dir() -> Path:
    """The folder of board specs shipped with the project (``rigs/boards``)."""
    return Path(__file__).resolve().parents[2] / "rigs" / "boards"


def find_board(name_or_path: str | os.PathLike) -> BoardSpec:
    """A shipped board by name (``"charuco_5x7_dict4x4_50"``, see :func:`boards_dir`) or a
    path to a board TOML file."""
    p = Path(name_or_path)
    if p.suffix.lower() == ".toml" or p.is_file():
        return load_board(p)
    cand = boards_dir() / f"{name_or_path}.toml"
    if not cand.is_file():
        have = sorted(q.stem for q in boards_dir().glob("*.toml"))
        raise BoardSpecError(
            str(name_or_path), "name", f"expected a board TOML file or one of {have}, found neither"
        )
    return load_board(cand)


# ----------------------------------------------------------------------------- drawing


def board_image(spec: BoardSpec, px_per_square: int = 64, margin_squares: float = 0.5) -> tuple[np.ndarray, float]:
    """The printed board as a grey image, with a white margin.

    Returns:
        ``(image, margin_px)``: (H, W) uint8 image; the board's origin (its outer top-left
        corner) lies at pixel coordinate ``(margin_px - 0.5, margin_px - 0.5)`` (pixel centres
        at integers), and one metre is ``px_per_square / square_length_m`` pixels.
    """
    w, h = spec.squares_x * px_per_square, spec.squares_y * px_per_square
    if spec.kind == CHARUCO:
        img = cv_charuco_board(spec).generateImage((w, h), marginSize=0, borderBits=1)
    else:
        yy, xx = np.mgrid[0:h, 0:w] // px_per_square
        img = np.where((xx + yy) % 2 == 0, 0, 255).astype(np.uint8)
    m = int(round(margin_squares * px_per_square))
    img = cv2.copyMakeBorder(img, m, m, m, m, cv2.BORDER_CONSTANT, value=255)
    return img, float(m)
