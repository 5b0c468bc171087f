"""OpenCV ``FileStorage`` YAML calibrations: single-camera OpenCV files and EasyMocap's
``intri.yml`` / ``extri.yml`` pair. Read (and written, for round trips), through
``cv2.FileStorage``.

OpenCV's calibration sample (one camera per file): ``image_width``, ``image_height``,
``camera_matrix`` (3x3), ``distortion_coefficients`` (OpenCV order), optionally ``rvec``
(Rodrigues, world -> camera) or ``R`` (3x3), ``tvec``/``T`` (world -> camera) and our own
``translation_unit`` (``"m"``, ``"cm"`` or ``"mm"``). OpenCV files carry no unit: the reader
takes ``translation_unit`` from the file when present, else from its argument (metres by
default), and says which one it used in the log.

EasyMocap: ``intri.yml`` holds ``names`` (the camera order), ``K_<cam>``, ``dist_<cam>`` and,
when written by recent versions, ``H_<cam>``/``W_<cam>`` (image size); ``extri.yml`` holds
``names``, ``R_<cam>`` (Rodrigues 3x1, world -> camera), ``Rot_<cam>`` (the same as a 3x3) and
``T_<cam>`` (3x1, world -> camera, metres).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Mapping

import cv2
import numpy as np

from calibration.camera import Camera
from calibration.errors import CalibrationFileError, CameraError
from calibration.io.atomic import atomic_write_text
from calibration.io.formats import warn_if_millimetres
from calibration.lens import PINHOLE
from calibration.rig import Rig
from calibration.rotations import rotvec_to_rotmat

log = logging.getLogger(__name__)

UNITS_M = {"m": 1.0, "cm": 0.01, "mm": 0.001}
_FIELD_KEYS = {"K": "camera_matrix", "dist": "distortion_coefficients", "size_wh": "image_width",
               "R_cam_from_world": "rvec", "t_cam_from_world": "tvec", "name": "name", "model": "model"}


def _open(path: str | os.PathLike) -> cv2.FileStorage:
    p = Path(path)
    if not p.is_file():
        raise CalibrationFileError(p, "expected an existing OpenCV YAML file, found nothing there")
    try:
        fs = cv2.FileStorage(str(p), cv2.FILE_STORAGE_READ)
    except (cv2.error, SystemError) as e:  # OpenCV's parser raises SystemError on some syntax
        raise CalibrationFileError(p, f"expected OpenCV FileStorage YAML, found: {str(e).strip().splitlines()[-1]}") from None
    if not fs.isOpened():
        raise CalibrationFileError(p, "expected OpenCV FileStorage YAML, found a file OpenCV cannot open")
    return fs


def _node(path, fs, key: str) -> cv2.FileNode:
    """The node ``key`` of the file's top-level mapping (cv2 asserts on any other root)."""
    if not fs.root().isMap():
        raise CalibrationFileError(path, "expected a mapping of keys at the top level, found "
                                   f"{'a sequence' if fs.root().isSeq() else 'no mapping'}", key=key)
    return fs.getNode(key)


def _node_mat(path, node: cv2.FileNode, key: str) -> np.ndarray | None:
    """The node as a matrix (None: not an !!opencv-matrix); cv2's own errors (a string node,
    rows x cols that do not fit its data, a size it cannot allocate) become the file's."""
    try:
        return node.mat()
    except cv2.error as e:
        raise CalibrationFileError(
            path, f"expected an !!opencv-matrix, found one OpenCV cannot read: {str(e).strip().splitlines()[-1]}",
            key=key) from None


def _text(path, node: cv2.FileNode, key: str) -> str:
    """A string node's text (cv2 decodes it as UTF-8)."""
    try:
        return node.string()
    except UnicodeDecodeError as e:
        raise CalibrationFileError(path, f"expected UTF-8 text, found undecodable bytes ({e.reason})",
                                   key=key) from None


def _mat(path, fs, key: str, shape: tuple[int, ...] | None, required: bool = True) -> np.ndarray | None:
    node = _node(path, fs, key)
    if node.empty():
        if required:
            try:
                keys = [k for k in (fs.root().keys() or [])]
            except UnicodeDecodeError:                   # a key that is not UTF-8
                keys = "that are not all UTF-8"
            raise CalibrationFileError(path, f"expected key {key!r}, found keys {keys}", key=key)
        return None
    m = _node_mat(path, node, key)
    if m is None:
        if node.isSeq():
            m = np.array([node.at(i).real() for i in range(node.size())])
        else:
            raise CalibrationFileError(path, "expected an !!opencv-matrix, found another node", key=key)
    m = np.asarray(m, dtype=np.float64)
    if shape is not None:
        if m.size != int(np.prod(shape)):
            raise CalibrationFileError(path, f"expected {int(np.prod(shape))} numbers (shape {shape}), found shape {m.shape}", key=key)
        m = m.reshape(shape)
    if not np.all(np.isfinite(m)):
        raise CalibrationFileError(path, f"expected finite numbers, found {m.ravel().tolist()}", key=key)
    return m


def _int(path, fs, key: str) -> int | None:
    node = _node(path, fs, key)
    if node.empty():
        return None
    v = node.real()
    if not (v > 0 and float(v).is_integer()):
        raise CalibrationFileError(path, f"expected a positive whole number, found {v}", key=key)
    return int(v)


def _unit(path, value: str) -> float:
    if value not in UNITS_M:
        raise CalibrationFileError(path, f"expected a unit in {list(UNITS_M)}, found {value!r}", key="translation_unit")
    return UNITS_M[value]


def read_opencv_yaml(path: str | os.PathLike, name: str | None = None, translation_unit: str = "m") -> Camera:
    """One camera from an OpenCV calibration YAML (see the module docstring).

    Args:
        path: the file.
        name: the camera's name (default: the file's stem).
        translation_unit: unit of ``tvec`` when the file does not say (``"m"``, ``"cm"``,
            ``"mm"``).
    """
    p = Path(path)
    fs = _open(p)
    try:
        K = _mat(p, fs, "camera_matrix", (3, 3))
        dist = _mat(p, fs, "distortion_coefficients", None).ravel()
        w, h = _int(p, fs, "image_width"), _int(p, fs, "image_height")
        if w is None or h is None:
            raise CalibrationFileError(p, "expected image_width and image_height, found "
                                       f"{'neither' if w is None and h is None else 'only one'}",
                                       key="image_width" if w is None else "image_height")
        rvec = _mat(p, fs, "rvec", (3,), required=False)
        Rm = _mat(p, fs, "R", (3, 3), required=False)
        tvec = _mat(p, fs, "tvec", (3,), required=False)
        if tvec is None:
            tvec = _mat(p, fs, "T", (3,), required=False)
        unit_node = _node(p, fs, "translation_unit")
        unit = _text(p, unit_node, "translation_unit") if not unit_node.empty() else translation_unit
    finally:
        fs.release()
    scale = _unit(p, unit)
    R = rotvec_to_rotmat(rvec) if rvec is not None else (Rm if Rm is not None else np.eye(3))
    t = np.zeros(3) if tvec is None else tvec * scale
    log.debug("%s: translation unit %r", p, unit)
    try:
        return Camera(name or p.name.split(".")[0], (w, h), K, dist, R, t, PINHOLE)
    except CameraError as e:
        raise CalibrationFileError(p, e.problem, key=_FIELD_KEYS.get(e.field, e.field)) from None


def _write_fs(path: Path, write) -> None:
    """Write a FileStorage document atomically: built in memory (its format, YAML for
    ``.yml``, from the file name), then written through :func:`atomic_write_text`."""
    fs = cv2.FileStorage(path.name, cv2.FILE_STORAGE_WRITE | cv2.FILE_STORAGE_MEMORY)
    try:
        write(fs)
    except BaseException:
        fs.release()
        raise
    atomic_write_text(path, fs.releaseAndGetString())


def write_opencv_yaml(path: str | os.PathLike, cam: Camera) -> None:
    """Write one camera as OpenCV calibration YAML (with ``translation_unit: "m"``), atomically."""
    def write(fs):
        fs.write("image_width", int(cam.size_wh[0]))
        fs.write("image_height", int(cam.size_wh[1]))
        fs.write("camera_matrix", np.asarray(cam.K))
        fs.write("distortion_coefficients", np.asarray(cam.dist).reshape(1, -1))
        fs.write("rvec", np.asarray(cam.rvec).reshape(3, 1))
        fs.write("tvec", np.asarray(cam.t_cam_from_world).reshape(3, 1))
        fs.write("translation_unit", "m")
    _write_fs(Path(path), write)


def _names(path, fs) -> list[str]:
    node = _node(path, fs, "names")
    if node.empty() or not node.isSeq():
        raise CalibrationFileError(path, "expected a sequence of camera names, found none", key="names")
    return [_text(path, node.at(i), "names") for i in range(node.size())]


def read_easymocap(
    intri_path: str | os.PathLike,
    extri_path: str | os.PathLike,
    size_wh: tuple[int, int] | Mapping[str, tuple[int, int]] | None = None,
) -> Rig:
    """A rig from EasyMocap's ``intri.yml`` and ``extri.yml`` (translations in metres).

    Args:
        intri_path, extri_path: the two files.
        size_wh: image size (one for all cameras, or per camera name) when ``intri.yml`` has
            no ``H_<cam>``/``W_<cam>``.

    Cameras are in the order of ``intri.yml``'s ``names``.
    """
    ip, ep = Path(intri_path), Path(extri_path)
    fi = _open(ip)
    fe = _open(ep)
    try:
        names = _names(ip, fi)
        enames = _names(ep, fe)
        missing = [n for n in names if n not in enames]
        if missing:
            raise CalibrationFileError(ep, f"expected extrinsics of cameras {names}, found none for {missing}", key="names")
        cams = []
        for n in names:
            K = _mat(ip, fi, f"K_{n}", (3, 3))
            dist = _mat(ip, fi, f"dist_{n}", None).ravel()
            w, h = _int(ip, fi, f"W_{n}"), _int(ip, fi, f"H_{n}")
            if w is None or h is None:
                given = size_wh.get(n) if isinstance(size_wh, Mapping) else size_wh
                if given is None:
                    raise CalibrationFileError(ip, f"expected H_{n} and W_{n} (or a size_wh argument), found neither", key=f"W_{n}")
                w, h = given
            rot = _mat(ep, fe, f"Rot_{n}", (3, 3), required=False)
            if rot is None:
                rot = rotvec_to_rotmat(_mat(ep, fe, f"R_{n}", (3,)))
            t = _mat(ep, fe, f"T_{n}", (3,))
            warn_if_millimetres(ep, n, t)
            if dist.size not in (0, 4, 5, 8):
                raise CalibrationFileError(ip, f"expected 4, 5 or 8 coefficients, found {dist.size}", key=f"dist_{n}")
            try:
                cams.append(Camera(n, (w, h), K, dist, rot, t, PINHOLE))
            except CameraError as e:
                raise CalibrationFileError(ip, e.problem, key=f"{e.field}_{n}") from None
    finally:
        fi.release()
        fe.release()
    return Rig(tuple(cams))


def write_easymocap(intri_path: str | os.PathLike, extri_path: str | os.PathLike, rig: Rig) -> None:
    """Write a rig as EasyMocap ``intri.yml`` / ``extri.yml`` (metres), each atomically."""
    def write_names(fs):
        fs.startWriteStruct("names", cv2.FileNode_SEQ)
        for n in rig.names:
            fs.write("", n)
        fs.endWriteStruct()

    def intri(fs):
        write_names(fs)
        for c in rig:
            fs.write(f"K_{c.name}", np.asarray(c.K))
            fs.write(f"dist_{c.name}", np.asarray(c.dist).reshape(1, -1))
            fs.write(f"H_{c.name}", int(c.size_wh[1]))
            fs.write(f"W_{c.name}", int(c.size_wh[0]))

    def extri(fs):
        write_names(fs)
        for c in rig:
            fs.write(f"R_{c.name}", np.asarray(c.rvec).reshape(3, 1))
            fs.write(f"Rot_{c.name}", np.asarray(c.R_cam_from_world))
            fs.write(f"T_{c.name}", np.asarray(c.t_cam_from_world).reshape(3, 1))

    _write_fs(Path(intri_path), intri)
    _write_fs(Path(extri_path), extri)
