"""Other calibration files: Qualisys ``.qca.txt`` (read), EasyMocap intri/extri YAML and
OpenCV YAML (read, and written for round trips). The Pose2Sim demo's files (fetched through
:mod:`mocap.datasets`) are tested in ``tests/mocap/calibration/test_calib_pose2sim_demo.py``."""

from __future__ import annotations

import numpy as np
import pytest

from calibration import CalibrationFileError
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
