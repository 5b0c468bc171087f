"""Other calibration files: Qualisys ``.qca.txt`` (read), EasyMocap intri/extri YAML and
OpenCV YAML (read, and written for round trips); and the Pose2Sim demo's checkerboard images
against the Qualisys calibration shipped beside them."""

from __future__ import annotations

import numpy as np
import pytest

from calibration import CalibrationFileError, Rig
from calibration.io.opencv_yaml import read_easymocap, read_opencv_yaml, write_easymocap, write_opencv_yaml
from calibration.io.qualisys import read_qualisys

QCA = """<?xml version='1.0' encoding='ASCII'?>
<calibration source="test">
  <cameras>
    <camera active="1" avg-residual="0.4" serial="left" model="none">
      <fov_video bottom="1079" left="0" right="1919" top="0"/>
      <transform r11="1" r12="0" r13="0" r21="0" r22="0" r23="1" r31="0" r32="-1" r33="0" x="0" y="-3000" z="1500"/>
      <intrinsic centerPointU="61440" centerPointV="34560" focalLengthU="76800" focalLengthV="76864" radialDistortion1="-1.28" radialDistortion2="0.64" radialDistortion3="0" tangentalDistortion1="0.0064" tangentalDistortion2="-0.0032"/>
    </camera>
  </cameras>
</calibration>
"""


def test_qualisys_synthetic_file(tmp_path):
    p = tmp_path / "c.qca.txt"
    p.write_text(QCA)
    rig = read_qualisys(p)
    cam = rig["left"]
    assert cam.size_wh == (1920, 1080)
    np.testing.assert_allclose(cam.K, [[1200, 0, 960], [0, 1201, 540], [0, 0, 1]])
    np.testing.assert_allclose(cam.dist, [-1.28, 0.64, 0.0064, -0.0032])  # dimensionless, as written
    assert read_qualisys(p, pose2sim_distortion=True)["left"].dist == pytest.approx([-0.02, 0.01, 0.0001, -0.00005])
    np.testing.assert_allclose(cam.center, [0, -3.0, 1.5])  # millimetres -> metres
    # Qualisys camera axes (y up, z backwards): this camera looks along world +Y, level.
    np.testing.assert_allclose(cam.R_cam_from_world[2], [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(cam.R_cam_from_world[1], [0, 0, -1], atol=1e-12)
    binned = read_qualisys(p, binning_factor=2)["left"]
    assert binned.size_wh == (960, 540) and binned.K[0, 0] == pytest.approx(600)
    np.testing.assert_allclose(binned.dist, cam.dist)  # binning scales pixels, not the lens


@pytest.mark.parametrize(
    "edit, found",
    [
        (("focalLengthU=\"76800\"", ""), r"\[camera left\] focalLengthU: expected attribute 'focalLengthU'"),
        (("x=\"0\"", "x=\"abc\""), r"\[camera left\] x: expected a number, found 'abc'"),
        (("<fov_video bottom=\"1079\" left=\"0\" right=\"1919\" top=\"0\"/>", ""), r"\[camera left\] fov_video: expected a <fov_video> element"),
        (("</calibration>", ""), r"expected Qualisys XML, found a parse error"),
        (("r22=\"0\"", "r22=\"3\""), r"\[camera left\] R_cam_from_world: expected a rotation"),
    ],
)
def test_qualisys_bad_files_are_named(tmp_path, edit, found):
    p = tmp_path / "c.qca.txt"
    p.write_text(QCA.replace(*edit))
    with pytest.raises(CalibrationFileError, match=rf"^{p}.*{found}"):
        read_qualisys(p)
    with pytest.raises(CalibrationFileError, match=r"expected an existing \.qca\.txt file"):
        read_qualisys(tmp_path / "missing.qca.txt")


@pytest.mark.network
def test_qualisys_demo_matches_pose2sim_conversion():
    from mocap.datasets import pose2sim_demo

    qca = pose2sim_demo("0.10.49") / "Demo_SinglePerson/calibration/Calib.qca.txt"
    ref = Rig.load(pose2sim_demo("0.4.15") / "Demo/calibration/Calib_qualisys.toml")
    rig = read_qualisys(qca, pose2sim_distortion=True)
    assert rig.names == ("cam01", "cam02", "cam03", "cam04")
    for a, b in zip(rig, ref):
        assert a.size_wh == b.size_wh == (1088, 1920)
        np.testing.assert_allclose(a.K, b.K, rtol=1e-12)
        np.testing.assert_allclose(a.dist, b.dist, rtol=1e-12)
        np.testing.assert_allclose(a.P, b.P, rtol=1e-9, atol=1e-9)


def test_easymocap_round_trip(tmp_path, rig):
    write_easymocap(tmp_path / "intri.yml", tmp_path / "extri.yml", rig)
    back = read_easymocap(tmp_path / "intri.yml", tmp_path / "extri.yml")
    assert back.names == rig.names
    for a, b in zip(back, rig):
        assert a.size_wh == b.size_wh
        for f in ("K", "dist", "R_cam_from_world", "t_cam_from_world"):
            np.testing.assert_allclose(getattr(a, f), getattr(b, f), atol=1e-12)
    assert not list(tmp_path.glob(".*tmp*"))


def test_easymocap_bad_files_are_named(tmp_path, rig):
    intri, extri = tmp_path / "intri.yml", tmp_path / "extri.yml"
    write_easymocap(intri, extri, rig)
    text = intri.read_text()
    no_size = "\n".join(line for line in text.splitlines() if not line.startswith(("H_", "W_")))
    intri.write_text(no_size)
    with pytest.raises(CalibrationFileError, match=r"intri\.yml W_cam0: expected H_cam0 and W_cam0 \(or a size_wh argument\)"):
        read_easymocap(intri, extri)
    assert read_easymocap(intri, extri, size_wh=(1920, 1080))[0].size_wh == (1920, 1080)
    write_easymocap(tmp_path / "i2.yml", tmp_path / "e2.yml", rig)
    write_easymocap(tmp_path / "i3.yml", tmp_path / "e.yml", rig.subset(["cam0", "cam1"]))
    with pytest.raises(CalibrationFileError, match=r"e\.yml names: expected extrinsics of cameras .* found none for \['cam2', 'cam3'\]"):
        read_easymocap(tmp_path / "i2.yml", tmp_path / "e.yml")
    with pytest.raises(CalibrationFileError, match=r"nothing there"):
        read_easymocap(tmp_path / "none.yml", extri)


def test_opencv_yaml_round_trip_and_units(tmp_path, camera):
    p = tmp_path / "front.yml"
    write_opencv_yaml(p, camera)
    back = read_opencv_yaml(p)
    assert back.name == "front" and back.size_wh == camera.size_wh
    np.testing.assert_allclose(back.P, camera.P, atol=1e-9)
    # A file without a unit, translation in millimetres, told by the caller.
    t_mm = camera.t_cam_from_world * 1000
    mm = tmp_path / "mm.yml"
    import cv2

    fs = cv2.FileStorage(str(mm), cv2.FILE_STORAGE_WRITE)
    fs.write("image_width", 1920)
    fs.write("image_height", 1080)
    fs.write("camera_matrix", camera.K)
    fs.write("distortion_coefficients", camera.dist.reshape(1, -1))
    fs.write("rvec", camera.rvec.reshape(3, 1))
    fs.write("tvec", t_mm.reshape(3, 1))
    fs.release()
    np.testing.assert_allclose(read_opencv_yaml(mm, translation_unit="mm").t_cam_from_world,
                               camera.t_cam_from_world, atol=1e-12)
    with pytest.raises(CalibrationFileError, match=r"mm\.yml translation_unit: expected a unit in \['m', 'cm', 'mm'\], found 'inch'"):
        read_opencv_yaml(mm, translation_unit="inch")


def test_opencv_yaml_bad_files_are_named(tmp_path):
    import cv2

    p = tmp_path / "c.yml"
    fs = cv2.FileStorage(str(p), cv2.FILE_STORAGE_WRITE)
    fs.write("image_width", 640)
    fs.write("camera_matrix", np.eye(3)[:2])
    fs.release()
    with pytest.raises(CalibrationFileError, match=r"c\.yml camera_matrix: expected 9 numbers \(shape \(3, 3\)\), found shape \(2, 3\)"):
        read_opencv_yaml(p)
    fs = cv2.FileStorage(str(p), cv2.FILE_STORAGE_WRITE)
    fs.write("image_width", 640)
    fs.write("camera_matrix", np.diag([500.0, 500.0, 1.0]))
    fs.write("distortion_coefficients", np.zeros((1, 5)))
    fs.release()
    with pytest.raises(CalibrationFileError, match=r"c\.yml image_height: expected image_width and image_height, found only one"):
        read_opencv_yaml(p)
    (tmp_path / "bad.yml").write_text("%YAML:1.0\n: [ nope")
    with pytest.raises(CalibrationFileError, match=r"bad\.yml: expected OpenCV FileStorage YAML"):
        read_opencv_yaml(tmp_path / "bad.yml")


def _lens_shift_px(cam, ref, reach: float) -> np.ndarray:
    """(N,) pixel displacement, by ``cam``'s lens, of image points within ``reach`` of the way
    from the centre to the corners of ``ref``'s image (normalised by ``ref``'s K)."""
    from calibration.lens import distort_normalized

    w, h = ref.size_wh
    u, v = np.meshgrid(np.linspace(0, w - 1, 35), np.linspace(0, h - 1, 61))
    uv = np.stack([u, v], -1).reshape(-1, 2)
    centre = np.array([(w - 1) / 2, (h - 1) / 2])
    uv = uv[np.linalg.norm(uv - centre, axis=1) <= reach * np.linalg.norm(centre)]
    xy = (uv - ref.K[:2, 2]) / ref.K[[0, 1], [0, 1]]
    return (distort_normalized(xy, cam.dist) - xy) * ref.K[0, 0]


@pytest.mark.network
@pytest.mark.slow
def test_pose2sim_checkerboard_intrinsics_agree_with_qualisys():
    """The demo's 4 x 7 inner-corner, 60 mm checkerboard images (6-7 per camera) against the
    Qualisys calibration shipped beside them: focal lengths within 1 %; the lens (k1 k2 p1 p2,
    k3 kept at 0 because the views reach only 53-76 % of the way to the image corners) within
    1.5 px of Qualisys's over the region the board covered, where Pose2Sim's reading of the
    file (coefficients divided by 64, an almost distortion-free lens) is 2.6-4 px away.

    The principal points disagree by 14-43 px, and the images side with ours: the file's
    principal point is not supported by its own checkerboard views. Imposed, with focal, lens
    and board poses refitted, it raises the RMS reprojection error from 0.17-0.20 px to
    0.26-0.31 px (x 1.30-1.69; F = 118-269 on 2 and 292-342 degrees of freedom, where 4.7 is
    the 1 % level); our standard errors are 1.7-3.0 px. (The file's ``source`` says it was
    hand-rotated from a landscape calibration; no flip of its principal point fits better.)
    ``benchmarks/calibration.py --pose2sim-only`` prints the numbers."""
    from mocap.datasets import pose2sim_demo

    from calibration.boards import find_board
    from calibration.calibrate import intrinsics_only
    from calibration.boards import detect_source
    from calibration.intrinsics import K3_MIN_RADIAL_REACH, radial_reach, refit_with_fixed_principal_point

    root = pose2sim_demo("0.10.49") / "Demo_SinglePerson/calibration"
    qualisys = read_qualisys(root / "Calib.qca.txt")
    pose2sim = read_qualisys(root / "Calib.qca.txt", pose2sim_distortion=True)
    spec = find_board("pose2sim_checkerboard_4x7")
    for i, (ref, p2s) in enumerate(zip(qualisys, pose2sim), start=1):
        views = detect_source(root / f"intrinsics/int_cam0{i}_img", spec, ref.name)
        assert len(views) >= 5 and views.size_wh == ref.size_wh
        cam, ba = intrinsics_only(views, spec)
        assert ba.error_px < 0.5
        focal = cam.K[[0, 1], [0, 1]] / ref.K[[0, 1], [0, 1]] - 1
        assert np.all(np.abs(focal) < 0.01), f"{ref.name}: focal lengths off by {100 * focal} %"
        reach = radial_reach(views.xy, views.size_wh)
        assert reach < K3_MIN_RADIAL_REACH and cam.dist[4] == 0.0
        ours = _lens_shift_px(cam, ref, reach)
        lens = np.linalg.norm(ours - _lens_shift_px(ref, ref, reach), axis=1).max()
        lens_p2s = np.linalg.norm(ours - _lens_shift_px(p2s, ref, reach), axis=1).max()
        assert lens < 1.5 and lens < 0.5 * lens_p2s, f"{ref.name}: lens {lens:.2f} px, /64: {lens_p2s:.2f} px"
        # The principal point: ours is pinned to 1.7-3 px (standard errors), the file's
        # (hand-rotated from a landscape calibration, see its `source`) is 14-43 px away,
        # within 5 % of the image size, and its own board views reject it: imposed, with
        # focal, lens and board poses refitted, the RMS rises by at least a quarter.
        assert np.all(np.abs(cam.K[:2, 2] - ref.K[:2, 2]) < 0.05 * np.array(ref.size_wh))
        free = refit_with_fixed_principal_point(cam, views, spec, None)
        file_pp = refit_with_fixed_principal_point(cam, views, spec, ref.K[:2, 2])
        assert free.rms_px < 0.25 and np.all(free.std_px[2:] < 5.0), f"{ref.name}: {free}"
        assert file_pp.rms_px >= 1.25 * free.rms_px, (
            f"{ref.name}: file's principal point {ref.K[:2, 2]} refits to {file_pp.rms_px:.3f} px, "
            f"ours {free.camera.K[:2, 2]} to {free.rms_px:.3f} px")
