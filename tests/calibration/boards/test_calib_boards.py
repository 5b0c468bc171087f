"""Board specs (validation, TOML files), corner detection on rendered views, and the
suggestions made when a spec does not detect the board."""

from __future__ import annotations

import numpy as np
import pytest

from calibration import BoardSpecError, Camera, Rig
from calibration.boards import (
    BoardSpec,
    board_from_dict,
    boards_dir,
    cv_charuco_board,
    detect_corners,
    find_board,
    load_board,
    suggest_spec,
)
from calibration.render import RenderStyle, render_take

CHARUCO = dict(kind="charuco", squares_x=5, squares_y=7, square_length_m=0.1,
               marker_length_m=0.075, dictionary="DICT_4X4_50")


@pytest.mark.parametrize(
    "change, key, found",
    [
        (dict(kind="chessboard"), "kind", r"expected one of \['charuco', 'checkerboard'\], found 'chessboard'"),
        (dict(squares_x=2), "squares_x", r"expected a whole number of squares >= 3, found 2"),
        (dict(squares_y=7.0), "squares_y", r"expected a whole number of squares >= 3, found 7.0"),
        (dict(square_length_m=60), "square_length_m", r"expected metres .* found 60 \(millimetres\?\)"),
        (dict(square_length_m=-0.1), "square_length_m", r"expected a positive length in metres"),
        (dict(marker_length_m=0.1), "marker_length_m", r"expected less than square_length_m = 0.1 m, found 0.1 m"),
        (dict(dictionary="DICT_9X9_50"), "dictionary", r"expected one of \[.*\], found 'DICT_9X9_50'"),
        (dict(squares_x=12, squares_y=12), "dictionary", r"expected a dictionary with at least 72 markers .* found DICT_4X4_50 with 50"),
        (dict(legacy_pattern="yes"), "legacy_pattern", r"expected true or false, found 'yes'"),
    ],
)
def test_bad_specs_are_named(change, key, found):
    with pytest.raises(BoardSpecError, match=rf"^board\.toml {key}: {found}"):
        board_from_dict({**CHARUCO, **change}, "board.toml")


def test_spec_tables_name_unknown_and_missing_keys(tmp_path):
    with pytest.raises(BoardSpecError, match=r"x\.toml squares: unknown key; expected keys"):
        board_from_dict({**CHARUCO, "squares": 5}, "x.toml")
    with pytest.raises(BoardSpecError, match=r"x\.toml marker_length_m: missing key"):
        board_from_dict({k: v for k, v in CHARUCO.items() if k != "marker_length_m"}, "x.toml")
    bad = tmp_path / "b.toml"
    bad.write_text("kind = [")
    with pytest.raises(BoardSpecError, match=r"b\.toml file: expected valid TOML"):
        load_board(bad)
    with pytest.raises(BoardSpecError, match=r"nope name: expected a board TOML file or one of \["):
        find_board("nope")


def test_shipped_boards_load_and_round_trip(tmp_path):
    import tomli_w

    files = sorted(boards_dir().glob("*.toml"))
    assert len(files) >= 3
    for f in files:
        spec = find_board(f.stem)
        out = tmp_path / f.name
        out.write_text(tomli_w.dumps(spec.to_dict()))
        assert load_board(out) == spec
    assert find_board("pose2sim_checkerboard_4x7").inner_corners == (4, 7)


def test_dictionary_names_are_canonical():
    spec = board_from_dict({**CHARUCO, "dictionary": "5x5_100"})
    assert spec.dictionary == "DICT_5X5_100"


@pytest.mark.parametrize("legacy", [False, True])
def test_object_points_match_opencv(legacy):
    spec = board_from_dict({**CHARUCO, "squares_y": 6, "legacy_pattern": legacy})
    np.testing.assert_allclose(spec.object_points, cv_charuco_board(spec).getChessboardCorners(),
                               atol=1e-7)


def frontal_scene(spec, size=(480, 360), f=420.0, tilt=(0.3, -0.2, 0.1), distance=1.2):
    """One camera and one board pose facing it: ``(rig, pose)``."""
    from scipy.spatial.transform import Rotation

    K = np.array([[f, 0, (size[0] - 1) / 2], [0, f, (size[1] - 1) / 2], [0, 0, 1.0]])
    cam = Camera("front", size, K, np.array([-0.2, 0.05, 0.0, 0.0, 0.0]), np.eye(3), np.zeros(3))
    R = Rotation.from_rotvec(tilt).as_matrix()
    T = np.eye(4)
    T[:3, :3] = R
    T[:3, 3] = np.array([0, 0, distance]) - R @ np.r_[np.array(spec.size_m) / 2, 0.0]
    return Rig((cam,)), T


@pytest.mark.parametrize("kind", ["charuco", "checkerboard"])
def test_detected_corners_match_the_truth(kind):
    table = dict(CHARUCO) if kind == "charuco" else dict(kind=kind, squares_x=6, squares_y=8,
                                                           square_length_m=0.06)
    spec = board_from_dict(table)
    rig, T = frontal_scene(spec)
    take = render_take(rig, spec, T[None], RenderStyle(noise_std=1.0))
    found = detect_corners(take.images[0][0], spec)
    assert found is not None and len(found) == spec.num_corners
    truth = take.corners_px[0, 0, found.ids]
    if kind == "checkerboard":  # a checkerboard's corner order may start at either end
        rev = take.corners_px[0, 0, ::-1]
        if np.nanmean(np.abs(found.xy - rev)) < np.nanmean(np.abs(found.xy - truth)):
            truth = rev
    err = np.linalg.norm(found.xy - truth, axis=1)
    assert np.median(err) < 0.1 and err.max() < 0.3


def test_legacy_pattern_switch():
    spec = board_from_dict({**CHARUCO, "squares_y": 6, "legacy_pattern": True})
    rig, T = frontal_scene(spec)
    img = render_take(rig, spec, T[None]).images[0][0]
    assert detect_corners(img, spec) is not None
    assert detect_corners(img, spec.replace(legacy_pattern=False)) is None


def test_nothing_is_found_in_an_empty_image():
    spec = board_from_dict(CHARUCO)
    assert detect_corners(np.full((240, 320), 128, np.uint8), spec) is None


@pytest.mark.parametrize(
    "wrong, says",
    [
        (dict(dictionary="DICT_5X5_100"), "dictionary = 'DICT_4X4_50'"),
        (dict(squares_x=7, squares_y=5), "squares_x = 5, squares_y = 7"),
        (dict(legacy_pattern=True, squares_y=6), "legacy_pattern = false"),
    ],
)
def test_suggestions_find_the_right_charuco_spec(wrong, says):
    truth = board_from_dict({**CHARUCO, **({"squares_y": 6} if "squares_y" in wrong and wrong["squares_y"] == 6 else {})})
    rig, T = frontal_scene(truth)
    img = render_take(rig, truth, T[None]).images[0][0]
    bad = truth.replace(**wrong)
    assert detect_corners(img, bad) is None
    best, sentence = suggest_spec([img], bad)
    assert best == truth
    assert says in sentence


def test_suggestions_count_inner_corners_of_a_checkerboard():
    truth = board_from_dict(dict(kind="checkerboard", squares_x=5, squares_y=8, square_length_m=0.06))
    rig, T = frontal_scene(truth)
    img = render_take(rig, truth, T[None]).images[0][0]
    # A user who typed the inner corners (4 x 7) as squares.
    bad = truth.replace(squares_x=4, squares_y=7)
    best, sentence = suggest_spec([img], bad)
    assert best is not None and best.inner_corners in ((4, 7), (7, 4))
    assert "4 x 7 inner corners" in sentence or "7 x 4 inner corners" in sentence


def test_checkerboard_spec_on_a_charuco_image_suggests_charuco():
    truth = board_from_dict(CHARUCO)
    rig, T = frontal_scene(truth)
    img = render_take(rig, truth, T[None]).images[0][0]
    bad = BoardSpec("checkerboard", 9, 9, 0.1)
    best, sentence = suggest_spec([img], bad)
    assert best is not None and best.kind == "charuco" and best.dictionary == "DICT_4X4_50"
    assert "charuco" in sentence
