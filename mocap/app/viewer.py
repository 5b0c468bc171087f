"""A session in the rerun viewer: cameras, video frames, 2D detections, 3D keypoints, bones
and the body mesh, on a ``frame`` timeline (rerun-sdk, the optional extra ``rerun``).

Entity tree (world frame right-handed, Z up, metres, as in the rest of the project)::

    /                                   annotation context: joint names, 2D bones
    world                               view coordinates: right-handed, Z up
    world/cameras/<cam>                 camera pose: X_world = R^T X_cam + centre
    world/cameras/<cam>/image           pinhole (K, resolution; OpenCV axes RDF) + video frames
    world/cameras/<cam>/image/person<p> 2D detections (distorted pixels, like the video)
    world/people/person<p>/keypoints    3D keypoints (the result, ``points3d``)
    world/people/person<p>/bones        3D bones of the export tree (virtual joints included)
    world/people/person<p>/mesh         the body mesh, when ``out/person<p>/mesh.npz`` exists

The mesh file holds ``vertices`` (F, V, 3) float metres in the world frame (or (V, 3) for a
mesh that does not move) and ``faces`` (T, 3) int; the manifest's person entry may name it
under ``mesh`` instead. A ``body.npz`` (body-model parameters) without such a mesh file is
reported in the log, since turning parameters into vertices needs the body model itself.

Inputs are read as the report reads them (:func:`mocap.app.report.gather_inputs`): artifacts
from ``out/manifest.json``, detections from ``out/`` or ``pose/``; absent ones are skipped
with a log line.
"""
from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from exporters.atomic import replace_atomically

from ..errors import MocapError
from ..keypoints import KeypointFormat, get_format
from ..report import PERSON_COLORS_RGB
from ..types import load_npz
from ..detect.frame_map import warp_to_calibration
from .detections import recorded_frame_maps
from .report import find_video, gather_inputs, read_video_frames

log = logging.getLogger(__name__)

__all__ = ["require_rerun", "log_session", "view_session", "PALETTE"]

#: RGB colours of people 0, 1, 2, ... (cycled), as in the report's overlays.
PALETTE = PERSON_COLORS_RGB
CLASS_2D, CLASS_3D = 0, 1


def require_rerun():
    """The ``rerun`` module, or a :class:`MocapError` saying how to install it."""
    try:
        import rerun
    except ImportError:
        raise MocapError("the viewer needs rerun-sdk, an optional dependency: "
                         "pip install 'mocap-studio[rerun]'") from None
    return rerun


def _annotation_context(rr, fmt: KeypointFormat):
    labels = [rr.AnnotationInfo(id=j, label=n) for j, n in enumerate(fmt.joint_names)]
    bones = [tuple(int(i) for i in b) for b in fmt.bone_indices]
    return rr.AnnotationContext([
        rr.ClassDescription(info=rr.AnnotationInfo(id=CLASS_2D, label=f"{fmt.name} 2D"),
                            keypoint_annotations=labels, keypoint_connections=bones),
        rr.ClassDescription(info=rr.AnnotationInfo(id=CLASS_3D, label=f"{fmt.name} 3D"),
                            keypoint_annotations=labels)])


def _log_cameras(rr, rec, rig) -> None:
    for cam in rig:
        path = f"world/cameras/{cam.name}"
        rec.log(path, rr.Transform3D(translation=cam.center, mat3x3=cam.R_cam_from_world.T),
                static=True)
        rec.log(f"{path}/image", rr.Pinhole(image_from_camera=cam.K,
                                            resolution=list(cam.size_wh),
                                            camera_xyz=rr.ViewCoordinates.RDF), static=True)


def _frame_columns(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray, list]:
    """Points present per frame, flattened for ``send_columns``.

    Args:
        xy: (F, J, D) coordinates, NaN = missing.
    Returns:
        positions (N, D), joint ids (N,), and the count per frame (F,).
    """
    ok = np.isfinite(xy).all(-1)                                  # (F, J)
    f_idx, j_idx = np.nonzero(ok)
    return xy[f_idx, j_idx], j_idx, ok.sum(1).tolist()


def _send_points(rr, rec, path: str, frames: np.ndarray, xy: np.ndarray, archetype,
                 class_id: int, color) -> int:
    pos, ids, counts = _frame_columns(xy)
    rec.send_columns(path, indexes=[rr.TimeColumn("frame", sequence=frames)],
                     columns=archetype.columns(positions=pos, keypoint_ids=ids)
                     .partition(counts))
    rec.log(path, archetype.from_fields(class_ids=class_id, colors=color), static=True)
    return int(pos.shape[0])


def _send_bones(rr, rec, path: str, frames: np.ndarray, xyz: np.ndarray,
                fmt: KeypointFormat, color) -> None:
    """Bones of the format's export tree (virtual joints as midpoints) as 2-point strips."""
    _, parents = fmt.tree
    tree_xyz = fmt.tree_positions(xyz)                             # (F, N, 3)
    child = np.flatnonzero(parents >= 0)
    seg = np.stack([tree_xyz[:, parents[child]], tree_xyz[:, child]], 2)   # (F, B, 2, 3)
    ok = np.isfinite(seg).all((-1, -2))
    f_idx, b_idx = np.nonzero(ok)
    rec.send_columns(path, indexes=[rr.TimeColumn("frame", sequence=frames)],
                     columns=rr.LineStrips3D.columns(strips=list(seg[f_idx, b_idx]))
                     .partition(ok.sum(1).tolist()))
    rec.log(path, rr.LineStrips3D.from_fields(colors=color), static=True)


def _mesh_file(inp, person: int) -> "Path | None":
    out = inp.session.out
    for entry in (inp.manifest.people if inp.manifest is not None else ()):
        if entry.get("id") == person and entry.get("mesh"):
            return out / entry["mesh"]
    folder = out / f"person{person}"
    if (folder / "mesh.npz").is_file():
        return folder / "mesh.npz"
    if (folder / "body.npz").is_file():
        log.warning("%s: body-model parameters without a mesh (%s); the mesh is not shown",
                    folder / "body.npz", folder / "mesh.npz")
    return None


def _log_mesh(rr, rec, path: str, mesh_path: Path, frames: np.ndarray, color) -> bool:
    d = load_npz(mesh_path, ("vertices", "faces"), "mesh")
    verts, faces = d["vertices"], d["faces"]
    if faces.ndim != 2 or faces.shape[1] != 3 or verts.shape[-1] != 3 or verts.ndim not in (2, 3):
        raise MocapError(f"{mesh_path}: expected vertices (F, V, 3) or (V, 3) and faces (T, 3), "
                         f"found {verts.shape} and {faces.shape}")
    if verts.ndim == 2:
        rec.log(path, rr.Mesh3D(vertex_positions=verts, triangle_indices=faces,
                                albedo_factor=color), static=True)
        return True
    rec.log(path, rr.Mesh3D.from_fields(triangle_indices=faces, albedo_factor=color), static=True)
    n = min(len(frames), verts.shape[0])
    V = verts.shape[1]
    rec.send_columns(path, indexes=[rr.TimeColumn("frame", sequence=frames[:n])],
                     columns=rr.Mesh3D.columns(vertex_positions=verts[:n].reshape(-1, 3))
                     .partition([V] * n))
    return True


def _log_images(rr, rec, inp, frames: np.ndarray, step: int, quality: int) -> int:
    """Video frames as JPEG, every ``step``-th frame of the take; the number logged.

    A camera that runs late (sync offsets) has its frames logged at the take's frame they
    show. Frames are brought to the camera's calibrated size when the video differs, so that
    they line up with the pinhole and the 2D detections: by the map the detection stage
    recorded (letterbox bars taken off), else resized.
    """
    logged = 0
    maps = recorded_frame_maps(inp.session.out)
    for c, cam in enumerate(inp.rig):
        video = find_video(inp.session.root, cam.name)
        if video is None:
            continue
        # the camera's frame f - offset shows the take's frame f (see mocap.sync)
        shift = int(inp.offsets[c]) if inp.offsets is not None else 0
        wanted = frames[::step] - shift
        wanted = wanted[wanted >= 0]
        for start in range(0, len(wanted), 64):                  # bounded memory
            part = read_video_frames(video, wanted[start:start + 64])
            for f_video, img in sorted(part.items()):
                f = f_video + shift
                if cam.name in maps:
                    img = warp_to_calibration(img, maps[cam.name], cam.size_wh)
                elif img.shape[1::-1] != tuple(cam.size_wh):
                    img = cv2.resize(img, tuple(cam.size_wh), interpolation=cv2.INTER_AREA)
                ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
                if not ok:
                    raise MocapError(f"{video}: frame {f_video} could not be encoded as JPEG")
                rec.set_time("frame", sequence=int(f))
                rec.log(f"world/cameras/{cam.name}/image/video",
                        rr.EncodedImage(contents=buf.tobytes(), media_type="image/jpeg"))
                logged += 1
    return logged


def log_session(session_dir: "str | Path", rec, images: bool = True, image_step: int = 1,
                image_quality: int = 80) -> dict:
    """Log a session to a rerun recording stream.

    Args:
        session_dir: the session folder. rec: a ``rerun.RecordingStream``.
        images: log the video frames (``videos/<cam>.<ext>``) when there are some.
        image_step: log every ``image_step``-th video frame. image_quality: JPEG quality.
    Returns:
        what was logged: ``cameras``, ``frames``, ``points2d``, ``points3d``, ``meshes``,
        ``images`` (counts) and ``notes`` (what was absent).
    """
    rr = require_rerun()
    if image_step < 1 or not 1 <= image_quality <= 100:
        raise MocapError(f"viewer: image_step must be >= 1 and image_quality in 1..100, "
                         f"found {image_step} and {image_quality}")
    inp = gather_inputs(session_dir)
    summary = {"cameras": 0, "frames": 0, "points2d": 0, "points3d": 0, "meshes": 0,
               "images": 0, "notes": inp.notes}
    rec.log("world", rr.ViewCoordinates.RIGHT_HAND_Z_UP, static=True)
    fmt_name = (inp.points.format if inp.points is not None and inp.points.format else
                inp.detections.format if inp.detections is not None else None)
    fmt = get_format(fmt_name) if fmt_name else None
    if fmt is not None:
        rec.log("/", _annotation_context(rr, fmt), static=True)
    if inp.rig is not None:
        _log_cameras(rr, rec, inp.rig)
        summary["cameras"] = len(inp.rig)
    det = inp.detections
    if det is not None and inp.rig is not None and tuple(det.camera_names) == inp.rig.names:
        C, F, P, J = det.shape
        frames = np.arange(F)
        for c, name in enumerate(det.camera_names):
            for p in range(P):
                xy = np.where((det.conf[c, :, p] > 0)[..., None], det.xy[c, :, p], np.nan)
                summary["points2d"] += _send_points(
                    rr, rec, f"world/cameras/{name}/image/person{p}", frames, xy, rr.Points2D,
                    CLASS_2D, PALETTE[p % len(PALETTE)])
        summary["frames"] = F
    pts = inp.points
    if pts is not None:
        frames = np.arange(pts.num_frames)
        for p in range(pts.xyz.shape[1]):
            if not np.isfinite(pts.xyz[:, p]).any():
                continue
            color = PALETTE[p % len(PALETTE)]
            base = f"world/people/person{p}"
            summary["points3d"] += _send_points(rr, rec, f"{base}/keypoints", frames,
                                                pts.xyz[:, p], rr.Points3D, CLASS_3D, color)
            if fmt is not None and fmt.name == pts.format:
                _send_bones(rr, rec, f"{base}/bones", frames, pts.xyz[:, p], fmt, color)
            mesh = _mesh_file(inp, p)
            if mesh is not None:
                summary["meshes"] += _log_mesh(rr, rec, f"{base}/mesh", mesh, frames, color)
        summary["frames"] = max(summary["frames"], pts.num_frames)
    if images and inp.rig is not None and summary["frames"]:
        summary["images"] = _log_images(rr, rec, inp, np.arange(summary["frames"]), image_step,
                                        image_quality)
    for note in inp.notes:
        log.info("viewer: %s", note)
    return summary


def view_session(session_dir: "str | Path", save: "str | Path | None" = None,
                 connect: "str | None" = None, **options) -> dict:
    """Log a session to the rerun viewer (spawned), to a viewer at ``connect`` (a gRPC URL), or
    to an ``.rrd`` file ``save`` (written whole, then renamed into place).

    Returns:
        the summary of :func:`log_session`.
    """
    rr = require_rerun()
    name = Path(session_dir).resolve().name
    rec = rr.RecordingStream("mocap", recording_id=f"mocap-{name}")
    tmp = None
    if save is not None:
        save = Path(save)
        save.parent.mkdir(parents=True, exist_ok=True)
        tmp = save.with_name(f".{save.name}.partial")
        rec.save(str(tmp))
    else:
        try:
            if connect is not None:
                rec.connect_grpc(connect)
            else:
                rec.spawn()
        except Exception as exc:  # noqa: BLE001 - rerun raises several kinds here
            where = f"connect to the viewer at {connect}" if connect else "start the viewer"
            raise MocapError(f"rerun: could not {where} ({exc}); --save FILE.rrd writes a "
                             f"recording to open later with `rerun FILE.rrd`") from None
    try:
        summary = log_session(session_dir, rec, **options)
        rec.flush()
    except BaseException:
        rec.disconnect()
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        raise
    rec.disconnect()
    if tmp is not None:
        replace_atomically(tmp, save)
    return summary
