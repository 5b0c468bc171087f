"""TRC writer and reader: round trips, axes, units, missing cells, errors, a Pose2Sim file."""
import numpy as np
import pytest

from exporters.errors import ExportError, FormatError
from exporters.trc import read_trc, write_trc


@pytest.fixture
def markers():
    rng = np.random.default_rng(1)
    xyz = rng.uniform(-1, 2, (7, 3, 3))
    xyz[2, 1] = np.nan
    return ["RHip", "LHip", "Nose"], xyz


@pytest.mark.parametrize("up", ["y", "z"])
@pytest.mark.parametrize("units", ["m", "cm", "mm"])
def test_round_trip(tmp_path, markers, up, units):
    names, xyz = markers
    path = write_trc(tmp_path / "a.trc", names, xyz, 60.0, units=units, up=up)
    back = read_trc(path, up=up)
    assert back.marker_names == tuple(names) and back.units == units and back.fps == 60.0
    np.testing.assert_allclose(back.xyz, xyz, atol=1e-6, equal_nan=True)
    np.testing.assert_array_equal(back.frame_numbers, np.arange(1, 8))
    np.testing.assert_allclose(back.time_s, np.arange(7) / 60.0, atol=1e-6)


def test_y_up_is_the_opensim_frame(tmp_path):
    xyz = np.array([[[0.1, 0.2, 1.7]]])                             # 1.7 m above the floor
    write_trc(tmp_path / "b.trc", ["Head"], xyz, 30.0)
    raw = read_trc(tmp_path / "b.trc", up="file").xyz[0, 0]
    np.testing.assert_allclose(raw, [0.1, 1.7, -0.2])               # Y up, right-handed
    lines = (tmp_path / "b.trc").read_text().splitlines()
    assert lines[0].startswith("PathFileType\t4\t(X/Y/Z)\tb.trc")
    assert lines[2].split("\t")[:5] == ["30", "30", "1", "1", "m"]


def test_missing_cells_are_empty_and_come_back_nan(tmp_path, markers):
    names, xyz = markers
    write_trc(tmp_path / "c.trc", names, xyz, 25.0)
    row = (tmp_path / "c.trc").read_text().splitlines()[6 + 2].split("\t")
    assert row[5:8] == ["", "", ""]
    assert np.isnan(read_trc(tmp_path / "c.trc").xyz[2, 1]).all()


def test_writer_errors(tmp_path, markers):
    names, xyz = markers
    with pytest.raises(ExportError, match=r"\(F, 2, 3\)"):
        write_trc(tmp_path / "d.trc", names[:2], xyz, 30.0)
    with pytest.raises(ExportError, match="fps"):
        write_trc(tmp_path / "d.trc", names, xyz, 0.0)
    with pytest.raises(ExportError, match="units"):
        write_trc(tmp_path / "d.trc", names, xyz, 30.0, units="in")
    with pytest.raises(ExportError, match="tabs"):
        write_trc(tmp_path / "d.trc", ["a\tb", "c", "d"], xyz, 30.0)
    with pytest.raises(ExportError, match="marker_names must be strings"):
        write_trc(tmp_path / "d.trc", xyz, names, 30.0)
    assert not (tmp_path / "d.trc").exists()


def test_reader_errors_name_file_and_line(tmp_path, markers):
    names, xyz = markers
    good = write_trc(tmp_path / "e.trc", names, xyz, 30.0).read_text().splitlines()
    (tmp_path / "f.trc").write_text("hello\n")
    with pytest.raises(FormatError, match=r"f.trc, line 1: expected 'PathFileType'"):
        read_trc(tmp_path / "f.trc")
    bad = good.copy()
    bad[8] = bad[8].replace("\t", "\tx", 1)
    (tmp_path / "g.trc").write_text("\n".join(bad))
    with pytest.raises(FormatError, match=r"g.trc, line 9"):
        read_trc(tmp_path / "g.trc")


def test_reads_pose2sim_style_file(tmp_path):
    text = ("PathFileType\t4\t(X/Y/Z)\tDemo.trc\r\n"
            "DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\tOrigDataRate\t"
            "OrigDataStartFrame\tOrigNumFrames\r\n60\t60\t2\t2\tm\t60\t0\t2\r\n"
            "Frame#\tTime\tRHip\t\t\tNeck\t\t\r\n\t\tX1\tY1\tZ1\tX2\tY2\tZ2\r\n"
            "1\t0.016\t0.1\t0.9\t-1.4\t0.0\t1.4\t-1.5\r\n"
            "2\t0.033\t0.1\t0.9\t-1.4\t\t\t\r\n")
    (tmp_path / "p.trc").write_text(text)
    d = read_trc(tmp_path / "p.trc", up="file")
    assert d.marker_names == ("RHip", "Neck") and d.fps == 60.0
    np.testing.assert_allclose(d.xyz[0, 1], [0.0, 1.4, -1.5])
    assert np.isnan(d.xyz[1, 1]).all()


def _rows_reference(out, fps):
    """The writer's data lines cell by cell (the old code): a row's trailing empty cells NaN."""
    lines = []
    for f in range(len(out)):
        cells = [str(f + 1), f"{f / fps:.6f}"] + [
            "" if not np.isfinite(v) else f"{v:.6f}" for v in out[f].ravel()]
        end = len(cells)
        while end > 2 and cells[end - 1] == "":
            end -= 1
        lines.append("\t".join(cells[:end] + ["NaN"] * (len(cells) - end)))
    return lines


@pytest.mark.parametrize("n_markers", [0, 1, 5])
def test_data_rows_are_the_cell_by_cell_text(tmp_path, n_markers):
    """Whole known rows go through one format string: the file is the same text, byte for
    byte, as the cell-by-cell writer's (negative zeros, large and tiny values, holes, a row's
    trailing holes)."""
    rng = np.random.default_rng(0)
    xyz = rng.normal(0, 2.0, (40, n_markers, 3)) * 10.0 ** rng.integers(-8, 4, (40, n_markers, 3))
    if n_markers:
        xyz[3, 0] = -1e-9
        xyz[5, :, 1] = np.nan
        xyz[7, -1] = np.nan
        xyz[9] = np.nan
    names = [f"m{i}" for i in range(n_markers)]
    path = write_trc(tmp_path / "a.trc", names, xyz, 29.97, up="z")
    body = path.read_text().split("\n")[6:-1]
    assert body == _rows_reference(xyz, 29.97)
