"""Calibrate a rig from board views: intrinsics, extrinsics over the view graph, bundle
adjustment. A short composition of the named steps of the other modules.

The result is in the first camera's frame (see :mod:`calibration.world` to put it on the
floor) and in metres (the board's square length sets the scale).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Sequence

import numpy as np

from calibration.boards.spec import MIN_CORNERS, BoardSpec
from calibration.boards.views import BoardViews
from calibration.bundle import BundleOptions, BundleResult, Observations, bundle_adjust, pose_to_vec, vec_to_pose
from calibration.camera import Camera
from calibration.errors import CalibrationError
from calibration.extrinsics import PoseGraph, initial_extrinsics, view_graph
from calibration.io.formats import RigMetadata
from calibration.intrinsics import Coverage, IntrinsicsResult, calibrate_intrinsics, image_coverage
from calibration.lens import FISHEYE, PINHOLE
from calibration.rig import Rig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CalibrationOptions:
    """How a rig is calibrated from board views."""

    fisheye_cameras: tuple[str, ...] = ()
    """Cameras with a fisheye lens (the others are pinhole with k1 k2 p1 p2 k3)."""
    max_intrinsic_views: int = 40
    """At most this many views per camera go into the first intrinsics estimate."""
    fix_k3: bool | None = None
    """Keep the pinhole k3 at 0; None: per camera, where its views do not reach out to the
    image corners (:data:`calibration.intrinsics.K3_MIN_RADIAL_REACH`)."""
    max_error_px: float = 3.0
    """A camera whose reprojection error after the bundle adjustment exceeds this (pixels)
    fails the calibration instead of giving a wrong rig."""
    max_view_error_px: float = 3.0
    """Views whose board pose reprojects worse than this (pixels) after the intrinsics are
    left out of the extrinsics."""
    min_shared_views: int = 1
    """Fewest frames two cameras must both see the board in to be linked."""
    bundle: BundleOptions = field(default_factory=BundleOptions)
    """What the bundle adjustment may refine."""


@dataclass(frozen=True)
class CalibrationResult:
    """A calibrated rig and how it was obtained.

    Attributes:
        rig: the cameras (rig order), world = first camera's frame, metres; metadata holds the
            bundle adjustment's reprojection errors.
        intrinsics: per camera, the first intrinsics estimate.
        board_poses: frame number -> (4, 4) ``T_world_from_board`` after bundle adjustment.
        bundle: the bundle adjustment's result.
        graph: shared board views between cameras.
        coverage: per camera, the image coverage of its views' corners.
        views_used: per camera, number of views in the bundle adjustment.
    """

    rig: Rig
    intrinsics: tuple[IntrinsicsResult, ...]
    board_poses: dict[int, np.ndarray]
    bundle: BundleResult
    graph: PoseGraph
    coverage: tuple[Coverage, ...]
    views_used: tuple[int, ...]


def board_observations(
    views: Sequence[BoardViews],
    keep: Sequence[np.ndarray],
    frame_index: dict[int, int],
) -> Observations:
    """Observations of board corners for a bundle adjustment.

    Args:
        views: per camera, its board views.
        keep: per camera, (V_c,) bool, the views to use.
        frame_index: frame number -> index of its board pose in the structure.
    """
    cam, struct, point, xy = [], [], [], []
    for c, (v, k) in enumerate(zip(views, keep)):
        for i in np.flatnonzero(k):
            f = int(v.frames[i])
            if f not in frame_index:
                continue
            ids = np.flatnonzero(np.isfinite(v.xy[i, :, 0]))
            cam.append(np.full(ids.size, c))
            struct.append(np.full(ids.size, frame_index[f]))
            point.append(ids)
            xy.append(v.xy[i, ids])
    M = sum(a.size for a in cam)
    return Observations(
        cam=np.concatenate(cam) if cam else np.zeros(0, int),
        struct=np.concatenate(struct) if struct else np.zeros(0, int),
        point=np.concatenate(point) if point else np.zeros(0, int),
        xy=np.concatenate(xy) if xy else np.zeros((0, 2)),
        weight=np.ones(M),
    )


def _camera_names(views: Sequence[BoardViews], options: CalibrationOptions) -> list[str]:
    """The cameras' names in rig order, checked unique and against ``options``."""
    names = [v.camera for v in views]
    if len(set(names)) != len(names):
        raise CalibrationError(f"views: expected one entry per camera, found names {names}")
    unknown = [n for n in options.fisheye_cameras if n not in names]
    if unknown:
        raise CalibrationError(f"fisheye_cameras: expected names among {names}, found {unknown}")
    return names


def _bundle_options(options: CalibrationOptions, names: Sequence[str],
                    intr: Sequence[IntrinsicsResult]) -> BundleOptions:
    """``options.bundle``, with k3 also fixed for the cameras whose intrinsics fixed it."""
    bundle = options.bundle
    k3_fixed = tuple(n for n, r in zip(names, intr) if r.k3_fixed)
    if k3_fixed:
        bundle = replace(bundle, fixed_k3_cameras=tuple(dict.fromkeys(bundle.fixed_k3_cameras + k3_fixed)))
    return bundle


def calibrate_rig(
    views: Sequence[BoardViews],
    spec: BoardSpec,
    options: CalibrationOptions = CalibrationOptions(),
) -> CalibrationResult:
    """Calibrate every camera of a rig from its board views.

    Args:
        views: per camera, in rig order, the board views (frame numbers shared across cameras
            mean the same instant).
        spec: the board.
        options: models and what the bundle adjustment refines.

    Raises:
        InsufficientDataError: a camera has too few views for its intrinsics.
        DisconnectedCamerasError: a camera shares no board view with the others.
    """
    names = _camera_names(views, options)
    intr = tuple(
        calibrate_intrinsics(
            v, spec, FISHEYE if v.camera in options.fisheye_cameras else PINHOLE,
            options.max_intrinsic_views, options.fix_k3,
        )
        for v in views
    )
    keep = [
        np.isfinite(r.view_error_px) & (r.view_error_px <= options.max_view_error_px)
        & (v.counts >= MIN_CORNERS)
        for r, v in zip(intr, views)
    ]
    frames = [v.frames[k] for v, k in zip(views, keep)]
    poses = [r.T_cam_from_board[k] for r, k in zip(intr, keep)]
    T_cw, boards = initial_extrinsics(names, frames, poses, options.min_shared_views)
    graph = view_graph(names, frames, poses)
    cams0 = [
        r.camera.replace(R_cam_from_world=T[:3, :3], t_cam_from_world=T[:3, 3])
        for r, T in zip(intr, T_cw)
    ]
    order = sorted(boards)
    index = {f: i for i, f in enumerate(order)}
    obs = board_observations(views, keep, index)
    structure = pose_to_vec(np.stack([boards[f] for f in order]))
    log.info("bundle adjustment: %d cameras, %d board poses, %d corner observations",
             len(cams0), len(order), obs.cam.size)
    ba = bundle_adjust(cams0, structure, obs, spec.object_points, _bundle_options(options, names, intr))
    bad = [(n, e) for n, e in zip(names, ba.error_px_per_camera) if not e <= options.max_error_px]
    if bad:
        raise CalibrationError(
            f"bundle adjustment: expected every camera's reprojection error below "
            f"{options.max_error_px} px, found "
            + ", ".join(f"{n}: {e:.3g} px" for n, e in bad)
            + " (wrong board spec, unsynchronised views, or a moving camera?)"
        )
    metadata = RigMetadata(
        adjusted=True,
        error_px=ba.error_px,
        error_px_per_camera=tuple(float(e) for e in ba.error_px_per_camera),
    )
    rig = Rig(ba.cameras, metadata)
    board_poses = {f: vec_to_pose(ba.structure[i]) for f, i in index.items()}
    coverage = tuple(
        image_coverage(v.xy[k], v.size_wh) for v, k in zip(views, keep)
    )
    used = tuple(int(np.unique(obs.struct[obs.cam == c]).size) for c in range(len(views)))
    return CalibrationResult(rig, intr, board_poses, ba, graph, coverage, used)


def intrinsics_only(views: BoardViews, spec: BoardSpec, model: str = PINHOLE,
                    bundle: BundleOptions | None = None) -> tuple[Camera, BundleResult]:
    """One camera's intrinsics refined by bundle adjustment over its board views (camera
    fixed at the origin, board poses free)."""
    res = calibrate_rig([views], spec, CalibrationOptions(
        fisheye_cameras=(views.camera,) if model == FISHEYE else (),
        bundle=bundle or BundleOptions(),
    ))
    return res.rig[0], res.bundle
