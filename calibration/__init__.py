"""Camera calibration: the immutable :class:`Camera` and :class:`Rig`, their projection
functions and their files. Knows nothing of people.

Conventions (stated once here, repeated in names):

- World frame: right-handed, Z up, metres.
- Camera frame: OpenCV, x right, y down, z forward (the optical axis).
- Extrinsics go world -> camera: ``X_cam = R_cam_from_world @ X_world + t_cam_from_world``,
  ``t_cam_from_world`` in metres; the camera centre is ``-R_cam_from_world.T @ t_cam_from_world``.
  In files the rotation is a Rodrigues vector (axis * angle, radians).
- Pixels: (0, 0) is the centre of the top-left pixel (as in OpenCV); ``size_wh`` is
  (width, height). ``K`` is OpenCV's intrinsic matrix with zero skew.
- Distortion: ``"pinhole"`` uses OpenCV's coefficient order ``(k1, k2, p1, p2[, k3[, k4, k5,
  k6]])``; ``"fisheye"`` is OpenCV's separate ``cv2.fisheye`` model ``(k1, k2, k3, k4)``.
- Points behind a camera (depth <= 0) project to NaN; missing data is NaN, never 0.
- Camera order is the rig's (the file's) order, never a sort.

Modules: :mod:`calibration.lens` (the OpenCV lens model, numpy and torch),
:mod:`calibration.rotations` (Rodrigues vectors, Kabsch, numpy and torch),
:mod:`calibration.camera` (pure projection functions and :class:`Camera`),
:mod:`calibration.rig` (:class:`Rig`, and :class:`~calibration.rig.RigArrays`, a rig as
batched arrays or tensors), :mod:`calibration.io` (files: anipose and Pose2Sim TOML in
:mod:`calibration.io.formats`, OpenCV and EasyMocap YAML in :mod:`calibration.io.opencv_yaml`,
Qualisys ``.qca.txt`` in :mod:`calibration.io.qualisys`, the atomic write in
:mod:`calibration.io.atomic`), :mod:`calibration.errors` (typed errors).

Calibrating from boards: :mod:`calibration.boards` (:class:`BoardSpec`, ChArUco and
checkerboard detection, videos and image folders, blur rejection),
:mod:`calibration.intrinsics` (per camera, image coverage), :mod:`calibration.extrinsics`
(camera graph, first guess), :mod:`calibration.bundle` (sparse bundle adjustment,
:class:`BundleOptions`), :mod:`calibration.calibrate` (the composition),
:mod:`calibration.world` (floor board, levelling from a standing person),
:mod:`calibration.people` (refinement from 2D keypoints), :mod:`calibration.render` (boards
rendered through virtual cameras, for tests and benchmarks), :mod:`calibration.plot`.
"""

from calibration.camera import (
    Camera,
    normalized_to_pixels,
    pixels_to_normalized,
    project_points,
    world_to_cam,
)
from calibration.errors import (
    BoardNotFoundError,
    BoardSpecError,
    CalibrationError,
    CalibrationFileError,
    CameraError,
    DisconnectedCamerasError,
    InsufficientDataError,
    ShapeError,
    UnknownCameraError,
    VideoError,
)
from calibration.io.formats import RigMetadata, read_calibration, write_calibration
from calibration.lens import CAMERA_MODELS, FISHEYE, PINHOLE, distort_normalized, undistort_normalized
from calibration.rig import Rig, RigArrays
from calibration.rotations import rotmat_to_rotvec, rotvec_to_rotmat

__all__ = [
    "BoardNotFoundError",
    "BoardSpecError",
    "DisconnectedCamerasError",
    "InsufficientDataError",
    "VideoError",
    "CAMERA_MODELS",
    "FISHEYE",
    "PINHOLE",
    "CalibrationError",
    "CalibrationFileError",
    "Camera",
    "CameraError",
    "Rig",
    "RigArrays",
    "RigMetadata",
    "ShapeError",
    "UnknownCameraError",
    "distort_normalized",
    "normalized_to_pixels",
    "pixels_to_normalized",
    "project_points",
    "read_calibration",
    "rotmat_to_rotvec",
    "rotvec_to_rotmat",
    "undistort_normalized",
    "world_to_cam",
    "write_calibration",
]
