"""The session report: one self-contained HTML page, ``SESSION/out/report.html``.

What it shows, section by section: the artifacts of ``out/manifest.json`` (present or not),
the calibration (a table and a plan view of the cameras), the reprojection error of the
result per camera, per joint and over time, how many views saw each joint over time, how
stable the bone lengths are, joint-angle curves (hip, knee, shoulder, elbow flexion, see
:mod:`mocap.angles`), trajectories, and overlays of the result drawn back on every camera (a
contact sheet: over the video frames when ``SESSION/videos/`` has them, else over a blank
canvas, with the 2D detections beside the reprojected 3D keypoints).

Artifacts it reads (paths from ``out/manifest.json``'s ``artifacts``, relative to ``out/``):
``points3d`` (the result) and ``points3d_raw`` (before filtering), :class:`~mocap.types.Points3D`
files; ``detections``, the 2D detections the triangulation read (a
:class:`~mocap.types.Detections2D` file on the take's frames), else the detect stage's
``out/detections.npz``, else the session's ``pose/`` files; ``sync`` (else ``out/sync.json``),
the camera offsets, which re-time those last two and the video frames to the take's frames;
``identities`` (else ``out/identities.npz``), which then orders their people as the 3D ones.
Without a manifest it looks for the default file names and says so. Anything absent or
unreadable is named in the page and the sections that need it say what is missing; the page
is still written. The report never runs a stage itself (no detector, no solver).

The page holds no script and no external address: plots are PNG (matplotlib, Agg) and
overlays JPEG, both inline as base64 ``data:`` URLs, so the file can be mailed or archived.
"""
from __future__ import annotations

import base64
import contextlib
import dataclasses
import html
import io
import json
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from calibration import CalibrationError, Rig

from exporters._atomic import atomic_write

from .angles import ANGLE_NAMES, joint_angles
from .errors import MocapError
from .keypoints import get_format
from .app.session import Session
from .settings import Settings
from .types import Detections2D, Points3D

log = logging.getLogger(__name__)

__all__ = ["ReportInputs", "gather_inputs", "reprojection_errors_px", "bone_lengths",
           "bone_length_stats", "contact_sheet_frames", "render_report", "write_report",
           "find_video", "crop_box", "read_video_frames", "PERSON_COLORS_RGB"]

#: RGB colours of people 0, 1, 2, ... (cycled), shared with the viewer.
PERSON_COLORS_RGB = np.array([[230, 60, 50], [40, 120, 230], [40, 170, 80], [240, 160, 30],
                              [150, 70, 200], [30, 180, 190], [200, 90, 150], [120, 120, 120]],
                             np.uint8)
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm", ".mpg", ".mpeg")
#: Widest plots: curves and images over time are reduced to at most this many columns.
MAX_TIME_COLUMNS = 1500
_LABEL_OF = {"points3d": "3D keypoints (filtered)", "points3d_raw": "3D keypoints (raw)",
             "detections": "2D detections"}


# ------------------------------------------------------------------------------ inputs

@dataclass
class ReportInputs:
    """Everything the report draws from, loaded once; ``None`` where absent.

    Attributes:
        session: the session folder. settings: its settings.
        rig: the cameras, or None. manifest: ``out/manifest.json`` as a dict, or None.
        points: the result (filtered) or None. raw: before filtering, or None.
        detections: the 2D detections, or None, on the take's frames (re-timed by the camera
            offsets when the sync stage found some). detections_source: where they came from.
            detections_retimed: they came on the take's frames (the manifest's ``detections``,
            which the triangulation read) and are not shifted again.
        sync: the sync stage's record (``out/sync.json``) or None. offsets: (C,) int frames
            by which each camera runs late (its frame f shows take frame f + offset), or None.
        notes: one line per artifact that is absent or unreadable, shown in the page.
    """

    session: Session
    settings: Settings
    rig: "Rig | None" = None
    manifest: "dict | None" = None
    points: "Points3D | None" = None
    raw: "Points3D | None" = None
    detections: "Detections2D | None" = None
    detections_source: str = ""
    detections_retimed: bool = False
    sync: "dict | None" = None
    offsets: "np.ndarray | None" = None
    notes: list = field(default_factory=list)


def _artifact_path(session: Session, manifest: "dict | None", key: str,
                   default: str) -> "Path | None":
    if manifest is not None:
        rel = manifest.get("artifacts", {}).get(key)
        return None if rel is None else session.out / rel
    path = session.out / default
    return path if path.is_file() else None


def _read_manifest(session: Session, notes: list) -> "dict | None":
    path = session.out / "manifest.json"
    if not path.is_file():
        notes.append(f"{path}: no manifest (the pipeline has not run here); looking for the "
                     f"default file names in {session.out}")
        return None
    try:
        doc = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        notes.append(f"{path}: not valid JSON ({exc}); ignored")
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("artifacts", {}), dict):
        notes.append(f"{path}: expected an object with an 'artifacts' table; ignored")
        return None
    return doc


def _load_points(session, manifest, key, default, notes) -> "Points3D | None":
    path = _artifact_path(session, manifest, key, default)
    if path is None:
        notes.append(f"{_LABEL_OF[key]}: not produced ({key!r} is not in the manifest)"
                     if manifest is not None else f"{_LABEL_OF[key]}: no {default}")
        return None
    try:
        return Points3D.load(path)
    except MocapError as exc:
        notes.append(f"{_LABEL_OF[key]}: {exc}")
        return None


def _load_detections(inp: ReportInputs) -> None:
    """The 2D detections as the pipeline read them, without running a detector: the
    manifest's ``detections``, else ``out/detections.npz`` (the detect stage's), else the
    session's ``pose/`` files."""
    session, notes = inp.session, inp.notes
    listed = _artifact_path(session, inp.manifest, "detections", "detections.npz")
    path = listed if inp.manifest is not None else None
    if path is None and (session.out / "detections.npz").is_file():
        path = session.out / "detections.npz"
    if path is not None:
        try:
            inp.detections = Detections2D.load(path)
            inp.detections_source = str(path.relative_to(session.root))
            # the manifest's detections are those triangulated: already on the take's frames
            inp.detections_retimed = path == listed and inp.manifest is not None
            return
        except MocapError as exc:
            notes.append(f"{_LABEL_OF['detections']}: {exc}; trying the session's pose/ files")
    if inp.rig is None or not (session.root / "pose").is_dir():
        notes.append(f"2D detections: none (no detections artifact, no "
                     f"{session.out / 'detections.npz'} and no {session.root / 'pose'} folder)")
        return
    from .detect import session_detections
    try:
        inp.detections = session_detections(session, inp.rig, inp.settings)
        inp.detections_source = "pose/"
    except MocapError as exc:
        notes.append(f"2D detections: {exc}")


def _load_sync(inp: ReportInputs) -> None:
    """Camera offsets from the sync stage (``sync`` in the manifest, else ``out/sync.json``);
    they re-time the detections and the video frames to the take's frames."""
    path = _artifact_path(inp.session, inp.manifest, "sync", "sync.json")
    if path is None and (inp.session.out / "sync.json").is_file():
        path = inp.session.out / "sync.json"
    if path is None:
        return
    try:
        doc = json.loads(path.read_text())
        names, offsets = tuple(doc["camera_names"]), np.asarray(doc["offsets"], int)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        inp.notes.append(f"camera sync: {path} cannot be read ({exc}); offsets taken as 0")
        return
    if inp.rig is not None and names != inp.rig.names or offsets.shape != (len(names),):
        inp.notes.append(f"camera sync: {path} is for cameras {list(names)}, not the rig's "
                         f"{list(inp.rig.names) if inp.rig else []}; offsets taken as 0")
        return
    inp.sync, inp.offsets = doc, offsets


def gather_inputs(session_dir: "str | Path") -> ReportInputs:
    """Load what the report needs from a session folder, noting what is absent.

    Raises:
        SessionError: only if ``session_dir`` is not a folder; every other problem becomes a
            note in :attr:`ReportInputs.notes`.
    """
    session = Session(Path(session_dir))
    notes: list[str] = []
    try:
        settings = session.settings()
    except MocapError as exc:
        notes.append(f"settings: {exc}; using the defaults")
        settings = Settings()
    inp = ReportInputs(session=session, settings=settings, notes=notes)
    try:
        inp.rig = session.rig()
    except (MocapError, CalibrationError) as exc:
        notes.append(f"calibration: {exc}")
    inp.manifest = _read_manifest(session, notes)
    inp.points = _load_points(session, inp.manifest, "points3d", "points3d.npz", notes)
    inp.raw = _load_points(session, inp.manifest, "points3d_raw", "points3d_raw.npz", notes)
    _load_detections(inp)
    _load_sync(inp)
    if inp.detections is not None and not inp.detections_retimed:
        if inp.offsets is not None and inp.offsets.any():
            from .sync import shift_detections
            inp.detections = shift_detections(inp.detections, inp.offsets)
            inp.detections_source += ", re-timed by the sync stage's offsets"
        _apply_identities(inp)
    return inp


def _apply_identities(inp: ReportInputs) -> None:
    """Put the detections' people in the order of the 3D keypoints (the association stage's
    ``identities``, else ``out/identities.npz``), as the triangulation read them."""
    path = _artifact_path(inp.session, inp.manifest, "identities", "identities.npz")
    if path is None and (inp.session.out / "identities.npz").is_file():
        path = inp.session.out / "identities.npz"
    if path is None:
        return
    from .track import Identities, detections_by_identity
    det = inp.detections
    try:
        ids = Identities.load(path)
    except MocapError as exc:
        inp.notes.append(f"identities: {exc}; 2D people left in the detector's order")
        return
    if ids.slot_identity.shape != det.shape[:3] or tuple(ids.camera_names) != det.camera_names:
        inp.notes.append(f"identities: {path} covers (C, F, K) = {ids.slot_identity.shape} of "
                         f"cameras {list(ids.camera_names)}, the detections are "
                         f"{det.shape[:3]} of {list(det.camera_names)}; 2D people left in "
                         f"the detector's order")
        return
    inp.detections = detections_by_identity(det, ids.slot_identity, ids.num_people)
    inp.detections_source += ", people matched by the association's identities"


# ------------------------------------------------------------------------------ metrics

def reprojection_errors_px(rig: Rig, xyz: np.ndarray, det_xy: np.ndarray,
                           det_conf: np.ndarray, min_conf: float) -> np.ndarray:
    """Distance between each camera's detections and the projection of the 3D keypoints.

    Args:
        rig: C cameras, in the detections' order.
        xyz: (F, P, J, 3) world points, metres (NaN = missing).
        det_xy: (C, F, P, J, 2) detections, pixels (NaN = missing).
        det_conf: (C, F, P, J) detection confidence; below ``min_conf`` counts as missing.
    Returns:
        (C, F, P, J) float32 pixels; NaN where the point, the detection or the projection is
        missing. Computed one camera at a time (memory: the output plus one camera's share).
    """
    C, F, P, J = det_conf.shape
    if xyz.shape[:3] != (F, P, J) or len(rig) != C:
        raise MocapError(f"reprojection: 3D points {xyz.shape[:3]} and detections "
                         f"{(C, F, P, J)} of {len(rig)} cameras do not match")
    err = np.empty((C, F, P, J), np.float32)
    for c, cam in enumerate(rig):
        e = np.linalg.norm(cam.project(xyz) - det_xy[c], axis=-1)
        err[c] = np.where(det_conf[c] >= min_conf, e, np.nan)
    return err


def bone_lengths(xyz: np.ndarray, bones: np.ndarray) -> np.ndarray:
    """Length of every bone in every frame.

    Args:
        xyz: (..., J, 3) positions, metres. bones: (B, 2) int (parent, child) joint indices.
    Returns:
        (..., B) metres, NaN where an end is missing.
    """
    return np.linalg.norm(xyz[..., bones[:, 1], :] - xyz[..., bones[:, 0], :], axis=-1)


def bone_length_stats(lengths: np.ndarray) -> dict[str, np.ndarray]:
    """Median, spread and coefficient of variation of bone lengths over frames.

    Args:
        lengths: (F, B) metres (NaN = missing).
    Returns:
        ``median_m``, ``std_m``, ``cv`` (std / median) and ``count`` (frames seen), each (B,).
    """
    count = np.isfinite(lengths).sum(0)
    with np.errstate(invalid="ignore", divide="ignore"), _quiet_nan_warnings():
        median = np.nanmedian(lengths, 0)
        std = np.nanstd(lengths, 0)
    return {"median_m": median, "std_m": std, "cv": std / median, "count": count}


def contact_sheet_frames(have_points: np.ndarray, n: int) -> np.ndarray:
    """Up to ``n`` evenly spaced frames, chosen among frames with a 3D point.

    Args:
        have_points: (F,) bool: frame has at least one 3D keypoint.
    Returns:
        (k,) increasing frame indices, k <= n (all frames when none has a point).
    """
    frames = np.flatnonzero(have_points)
    if frames.size == 0:
        frames = np.arange(have_points.size)
    if frames.size <= n:
        return frames
    return frames[np.round(np.linspace(0, frames.size - 1, n)).astype(int)]


@contextlib.contextmanager
def _quiet_nan_warnings():
    """Silence numpy's all-NaN-slice warnings (all-NaN columns are expected here)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _nanstat(fn, a, axis=None):
    with _quiet_nan_warnings():
        return fn(a, axis=axis)


def _time_blocks(F: int) -> int:
    """Frames per column so that F frames fit in MAX_TIME_COLUMNS columns."""
    return max(1, int(np.ceil(F / MAX_TIME_COLUMNS)))


def _block_reduce(a: np.ndarray, k: int, fn=np.nanmean) -> np.ndarray:
    """(F, ...) -> (ceil(F / k), ...) by applying ``fn`` over blocks of k frames."""
    if k == 1:
        return a
    F = a.shape[0]
    pad = (-F) % k
    a = np.concatenate([a, np.full((pad,) + a.shape[1:], np.nan)]) if pad else a
    return _nanstat(fn, a.reshape((-1, k) + a.shape[1:]), 1)


# ------------------------------------------------------------------------------ figures

def _figure(w_in: float, h_in: float, left_in: float = 0.7, right_in: float = 0.25,
            bottom_in: float = 0.55, top_in: float = 0.35, **spacing):
    """A matplotlib figure (no pyplot state) with margins given in inches (a fixed layout is
    several times cheaper to draw than a constrained one)."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(w_in, h_in), dpi=96)
    fig.subplots_adjust(left=left_in / w_in, right=1 - right_in / w_in,
                        bottom=bottom_in / h_in, top=1 - top_in / h_in, **spacing)
    return fig


def _png(fig) -> str:
    """The figure as an inline ``<img>`` (PNG, base64, no metadata)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img class="plot" alt="plot" src="data:image/png;base64,{data}">'


def _camera_plan(rig: Rig, points: "Points3D | None") -> str:
    fig = _figure(6.5, 5.0)
    ax = fig.add_subplot()
    centres = np.array([c.center for c in rig])
    span = max(float(np.ptp(centres[:, :2], 0).max()), 1.0)
    for cam, c in zip(rig, centres):
        axis = cam.R_cam_from_world[2]                       # optical axis in the world
        ax.annotate("", xy=c[:2] + 0.12 * span * axis[:2], xytext=c[:2],
                    arrowprops=dict(arrowstyle="->", color="tab:blue"))
        ax.plot(*c[:2], "s", color="tab:blue")
        ax.annotate(f"{cam.name}\n{c[2]:.2f} m", c[:2], textcoords="offset points",
                    xytext=(6, 6), fontsize=8)
    if points is not None:
        for p, track in enumerate(_person_tracks(points)):
            ax.plot(track[:, 0], track[:, 1], lw=1, color=_person_color(p),
                    label=f"person {p} (pelvis)")
        if points.xyz.shape[1]:
            ax.legend(fontsize=8, loc="best")
    ax.set_aspect("equal", adjustable="datalim")
    ax.margins(0.15)
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    ax.set_title("Plan view (world, Z up): cameras, optical axes, trajectories")
    ax.grid(alpha=0.3)
    return _png(fig)


def _person_color(p: int) -> tuple:
    """Matplotlib RGB in [0, 1] of person ``p`` (as in the overlays and the viewer)."""
    return tuple(PERSON_COLORS_RGB[p % len(PERSON_COLORS_RGB)] / 255.0)


def _person_tracks(points: Points3D) -> list[np.ndarray]:
    """(F, 3) pelvis track per person (hip midpoint when the format has no pelvis)."""
    names = points.joint_names
    if "pelvis" in names:
        root = points.xyz[:, :, names.index("pelvis")]
    elif "left_hip" in names and "right_hip" in names:
        root = 0.5 * (points.xyz[:, :, names.index("left_hip")]
                      + points.xyz[:, :, names.index("right_hip")])
    else:
        root = _nanstat(np.nanmean, points.xyz, 2)
    return [root[:, p] for p in range(root.shape[1])]


def _reprojection_figures(err: np.ndarray, rig: Rig, joint_names, fps: float) -> str:
    C, F, P, J = err.shape
    per_cam = err.reshape(C, -1)
    med = _nanstat(np.nanmedian, per_cam, 1)
    p90 = _nanstat(lambda a, axis: np.nanpercentile(a, 90, axis=axis), per_cam, 1)
    fig = _figure(11, 3.4, bottom_in=0.9 if C > 6 else 0.55, wspace=0.22)
    ax1, ax2 = fig.subplots(1, 2, width_ratios=[1, 2])
    x = np.arange(C)
    ax1.bar(x - 0.2, med, 0.4, label="median")
    ax1.bar(x + 0.2, p90, 0.4, label="90th percentile")
    ax1.set_xticks(x, rig.names, rotation=45 if C > 6 else 0, fontsize=8)
    ax1.set_ylabel("reprojection error (px)")
    ax1.set_title("Per camera")
    ax1.legend(fontsize=8)
    k = _time_blocks(F)
    over_time = _block_reduce(_nanstat(np.nanmedian, err.reshape(C, F, -1), 2).T, k)
    t = (np.arange(over_time.shape[0]) * k) / fps
    for c in range(C):
        ax2.plot(t, over_time[:, c], lw=1, label=rig.names[c])
    ax2.set_xlabel("time (s)")
    ax2.set_ylabel("median over joints (px)")
    ax2.set_title("Per camera over time")
    ax2.legend(fontsize=7, ncol=min(C, 8))
    ax2.grid(alpha=0.3)
    first = _png(fig)

    per_joint = _nanstat(np.nanmedian, err.transpose(0, 3, 1, 2).reshape(C, J, -1), 2)  # (C, J)
    fig = _figure(max(6.0, 0.3 * J + 2.5), 0.3 * C + 2.2, left_in=0.9, bottom_in=1.4)
    ax = fig.add_subplot()
    im = ax.imshow(per_joint, aspect="auto", cmap="magma_r")
    ax.set_yticks(np.arange(C), rig.names, fontsize=8)
    ax.set_xticks(np.arange(J), joint_names, rotation=70, fontsize=7)
    ax.set_title("Median reprojection error per camera and joint (px; blank = never seen)")
    fig.colorbar(im, ax=ax, label="px")
    return first + _png(fig)


def _views_figure(points: Points3D, C: int) -> str:
    nv = points.num_views                                             # (F, P, J)
    F, P, J = nv.shape
    k = _time_blocks(F)
    people = [p for p in range(P) if points.views_used[:, p].any()]
    fig = _figure(11, 0.13 * J * max(len(people), 1) + 1.2, left_in=1.3, hspace=0.4)
    axes = np.atleast_1d(fig.subplots(max(len(people), 1), 1, squeeze=False)[:, 0])
    cmap = _discrete_cmap(C + 1)
    for ax, p in zip(axes, people):
        img = _block_reduce(nv[:, p].astype(float), k, np.nanmin).T        # (J, cols)
        im = ax.imshow(img, aspect="auto", interpolation="nearest", cmap=cmap, vmin=-0.5,
                       vmax=C + 0.5, extent=(0, F / points.fps, J - 0.5, -0.5))
        ax.set_yticks(np.arange(J), points.joint_names, fontsize=6)
        ax.set_title(f"person {p}: cameras used per joint" +
                     (f" (fewest in blocks of {k} frames)" if k > 1 else ""), fontsize=9)
    axes[-1].set_xlabel("time (s)")
    if people:
        fig.colorbar(im, ax=list(axes), ticks=np.arange(C + 1), label="views")
    return _png(fig)


def _discrete_cmap(n: int):
    from matplotlib.colors import ListedColormap
    import matplotlib
    base = matplotlib.colormaps["viridis"].resampled(max(n - 1, 1))
    colors = [(0.85, 0.85, 0.85, 1.0)] + [base(i) for i in range(max(n - 1, 1))]
    return ListedColormap(colors[:n])


def _bones_figure(lengths: np.ndarray, bone_names: list, fps: float, title: str) -> str:
    F, B = lengths.shape
    k = _time_blocks(F)
    med = _nanstat(np.nanmedian, lengths, 0)
    rel = _block_reduce(100.0 * (lengths / med - 1.0), k)
    t = np.arange(rel.shape[0]) * k / fps
    fig = _figure(11, 3.8, right_in=1.7, wspace=0.15)
    ax1, ax2 = fig.subplots(1, 2, width_ratios=[2, 1.2])
    for b in range(B):
        ax1.plot(t, rel[:, b], lw=0.8)
    ax1.set_xlabel("time (s)")
    ax1.set_ylabel("length vs its median (%)")
    ax1.set_title(f"{title}: bone lengths over time")
    ax1.grid(alpha=0.3)
    seen = [b for b in range(B) if np.isfinite(lengths[:, b]).any()]
    if seen:
        ax2.boxplot([100 * lengths[np.isfinite(lengths[:, b]), b] for b in seen],
                    orientation="horizontal", showfliers=False)
        ax2.set_yticks(np.arange(1, len(seen) + 1), [bone_names[b] for b in seen], fontsize=6)
        ax2.yaxis.tick_right()
    ax2.set_xlabel("length (cm)")
    ax2.set_title("Spread per bone")
    return _png(fig)


def _angles_figure(angles: dict, fps: float, title: str) -> str:
    fig = _figure(11, 5.2, top_in=0.6, hspace=0.3, wspace=0.18)
    axes = fig.subplots(2, 2, sharex=True).ravel()
    for ax, name in zip(axes, ANGLE_NAMES):
        for side, color in (("left", "tab:blue"), ("right", "tab:orange")):
            a = angles[f"{side}_{name}"]
            k = _time_blocks(a.shape[0])
            a = _block_reduce(a, k)
            ax.plot(np.arange(a.shape[0]) * k / fps, a, color=color, lw=1, label=side)
        ax.set_title(name.replace("_", " "), fontsize=9)
        ax.set_ylabel("degrees")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in axes[2:]:
        ax.set_xlabel("time (s)")
    fig.suptitle(title, fontsize=10)
    return _png(fig)


def _trajectory_figure(points: Points3D) -> str:
    tracks = _person_tracks(points)
    F = points.num_frames
    t = np.arange(F) / points.fps
    fig = _figure(11, 3.0, wspace=0.35)
    axes = fig.subplots(1, 4)
    for p, tr in enumerate(tracks):
        if not np.isfinite(tr).any():
            continue
        for ax, d, label in zip(axes[:3], range(3), "xyz"):
            ax.plot(t, tr[:, d], lw=1, color=_person_color(p), label=f"person {p}")
            ax.set_title(f"pelvis {label} (m)", fontsize=9)
        speed = np.linalg.norm(np.diff(tr, axis=0), axis=-1) * points.fps
        axes[3].plot(t[1:], speed, lw=1, color=_person_color(p), label=f"person {p}")
    axes[3].set_title("pelvis speed (m/s)", fontsize=9)
    for ax in axes:
        ax.set_xlabel("time (s)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    return _png(fig)


# ------------------------------------------------------------------------------ overlays

def find_video(session_root: Path, camera: str) -> "Path | None":
    """The video of a camera: ``videos/<camera>.<ext>`` for a known extension, or None."""
    for ext in VIDEO_EXTENSIONS:
        for cand in (session_root / "videos" / f"{camera}{ext}",
                     session_root / "videos" / f"{camera}{ext.upper()}"):
            if cand.is_file():
                return cand
    return None


def read_video_frames(path: Path, frames: np.ndarray) -> dict:
    """Some frames of a video.

    Args:
        path: a video file OpenCV reads. frames: (k,) int frame indices from 0.
    Returns:
        ``{frame: (H, W, 3) uint8 BGR}`` for the frames that could be read (a frame past the
        end, or a file that does not open, is simply absent).
    """
    cap = cv2.VideoCapture(str(path))
    out = {}
    try:
        if not cap.isOpened():
            return out
        pos = -1
        for f in sorted(int(f) for f in frames):
            if f != pos + 1:
                cap.set(cv2.CAP_PROP_POS_FRAMES, f)
            ok, img = cap.read()
            pos = f
            if ok and img is not None:
                out[f] = img
    finally:
        cap.release()
    return out


def crop_box(xy: np.ndarray, size_wh: tuple[int, int], pad_frac: float = 0.15,
             min_size_frac: float = 0.25) -> tuple[float, float, float, float]:
    """The part of an image to show around some points, with the image's aspect ratio.

    Args:
        xy: (N, 2) pixels (NaN rows ignored). size_wh: the image (width, height), pixels.
        pad_frac: margin added on each side, as a fraction of the box's larger side.
        min_size_frac: the box is at least this fraction of the image's width.
    Returns:
        (x0, y0, x1, y1) pixels inside the image, ``(x1 - x0) / (y1 - y0) == W / H``; the
        whole image when no point is inside it.
    """
    W, H = size_wh
    xy = xy[np.isfinite(xy).all(-1)]
    xy = xy[(xy[:, 0] >= 0) & (xy[:, 0] <= W) & (xy[:, 1] >= 0) & (xy[:, 1] <= H)]
    if xy.shape[0] == 0:
        return 0.0, 0.0, float(W), float(H)
    lo, hi = xy.min(0), xy.max(0)
    centre = 0.5 * (lo + hi)
    size = hi - lo + 2 * pad_frac * (hi - lo).max()
    w = min(max(size[0], size[1] * W / H, min_size_frac * W), W)
    h = w * H / W
    x0 = float(np.clip(centre[0] - w / 2, 0, W - w))
    y0 = float(np.clip(centre[1] - h / 2, 0, H - h))
    return x0, y0, x0 + w, y0 + h


def _draw_overlay(canvas: np.ndarray, origin_xy: np.ndarray, scale: float,
                  det: "np.ndarray | None", det_ok: "np.ndarray | None", proj: np.ndarray,
                  bones: np.ndarray, label: str) -> np.ndarray:
    """Draw detections (green rings) and the reprojected 3D keypoints and bones (one colour
    per person, :data:`PERSON_COLORS_RGB`) on a canvas.

    Args:
        canvas: (h, w, 3) uint8 BGR, drawn on in place; it shows the image region whose
            top-left corner is ``origin_xy`` (2,) image px, at ``scale`` canvas px per image px.
        det: (P, J, 2) detections, image px, or None. det_ok: (P, J) bool.
        proj: (P, J, 2) projections of the 3D keypoints, image px (NaN = missing).
        bones: (B, 2) joint indices.
    """
    r = max(2, canvas.shape[1] // 120)

    def px(xy):
        # clipped so that a point projected far outside cannot overflow OpenCV's int coordinates
        return tuple(int(round(v)) for v in np.clip((xy - origin_xy) * scale, -1e5, 1e5))

    if det is not None:
        for p in range(det.shape[0]):
            for j in np.flatnonzero(det_ok[p] & np.isfinite(det[p]).all(-1)):
                cv2.circle(canvas, px(det[p, j]), r + 1, (60, 200, 60), 1, cv2.LINE_AA)
    ok = np.isfinite(proj).all(-1)
    for p in range(proj.shape[0]):
        bgr = tuple(int(v) for v in PERSON_COLORS_RGB[p % len(PERSON_COLORS_RGB)][::-1])
        for a, b in bones:
            if ok[p, a] and ok[p, b]:
                cv2.line(canvas, px(proj[p, a]), px(proj[p, b]), bgr, 1, cv2.LINE_AA)
        for j in np.flatnonzero(ok[p]):
            cv2.circle(canvas, px(proj[p, j]), r - 1, bgr, -1, cv2.LINE_AA)
    cv2.rectangle(canvas, (0, 0), (canvas.shape[1], 18), (30, 30, 30), -1)
    cv2.putText(canvas, label, (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 255), 1,
                cv2.LINE_AA)
    return canvas


def _background(img: "np.ndarray | None", box, size_wh, out_wh) -> np.ndarray:
    """The thumbnail's background: the video frame's ``box`` (camera pixels) resized to
    ``out_wh``, or a blank canvas. A video of another resolution than the calibration but the
    same aspect ratio is scaled to it."""
    w, h = out_wh
    if img is None:
        return np.full((h, w, 3), 245, np.uint8)
    sx, sy = img.shape[1] / size_wh[0], img.shape[0] / size_wh[1]
    x0, y0, x1, y1 = box
    part = img[int(y0 * sy):max(int(np.ceil(y1 * sy)), int(y0 * sy) + 1),
               int(x0 * sx):max(int(np.ceil(x1 * sx)), int(x0 * sx) + 1)]
    return cv2.resize(part, (w, h), interpolation=cv2.INTER_AREA)


def _jpeg(img: np.ndarray) -> str:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 82])
    if not ok:
        raise MocapError("overlay: JPEG encoding failed")
    data = base64.b64encode(buf.tobytes()).decode("ascii")
    return f'<img class="thumb" alt="overlay" src="data:image/jpeg;base64,{data}">'


def _overlay_section(inp: ReportInputs, n_frames: int, width_px: int) -> str:
    rig, points, det = inp.rig, inp.points, inp.detections
    if rig is None or points is None:
        return _missing("overlays need the calibration and the 3D keypoints")
    fmt = get_format(points.format) if points.format else None
    bones = fmt.bone_indices if fmt is not None else np.zeros((0, 2), int)
    F = points.num_frames
    frames = contact_sheet_frames(np.isfinite(points.xyz).all(-1).any((1, 2)), n_frames)
    if det is not None and det.shape[1:] != points.xyz.shape[:3]:
        inp.notes.append(f"overlays: detections {det.shape[1:]} and 3D keypoints "
                         f"{points.xyz.shape[:3]} (F, P, J) differ; detections not drawn")
        det = None
    rows, sources = [], []
    min_conf = inp.settings.triangulate.min_conf
    for c, cam in enumerate(rig):
        W, H = cam.size_wh
        video = find_video(inp.session.root, cam.name)
        # the camera's frame f - offset shows the take's frame f (see mocap.sync)
        shift = int(inp.offsets[c]) if inp.offsets is not None else 0
        in_video = frames - shift
        images = ({} if video is None else
                  read_video_frames(video, in_video[in_video >= 0]))
        if video is None:
            sources.append(f"{cam.name}: no video, blank canvas")
        else:
            sources.append(f"{cam.name}: {video.name} ({len(images)}/{len(frames)} frames read)")
            shapes = {img.shape[:2] for img in images.values()}
            if any(abs(w / h - W / H) > 0.01 * W / H for h, w in shapes):
                inp.notes.append(f"overlays: {video} has frames of {sorted(shapes)} (h, w), "
                                 f"not the aspect of the calibrated {W}x{H}; not drawn over")
                images = {}
        proj = cam.project(points.xyz[frames])                          # (k, P, J, 2)
        d_all = det.xy[c, frames] if det is not None else np.zeros((0, 2))
        box = crop_box(np.concatenate([proj.reshape(-1, 2), d_all.reshape(-1, 2)]), (W, H))
        scale = width_px / (box[2] - box[0])
        out_wh = (width_px, int(round(width_px * H / W)))
        cells = []
        for i, f in enumerate(frames):
            canvas = _background(images.get(int(f) - shift), box, (W, H), out_wh)
            d = det.xy[c, f] if det is not None else None
            ok = det.conf[c, f] >= min_conf if det is not None else None
            label = f"{cam.name}  frame {int(f)}  t={f / points.fps:.2f} s"
            cells.append(_jpeg(_draw_overlay(canvas, np.array(box[:2]), scale, d, ok, proj[i],
                                             bones, label)))
        rows.append(f'<div class="sheet-row">{"".join(cells)}</div>')
    legend = ("<p>Green rings: 2D detections (confidence at least "
              f"{min_conf:g}). Dots and lines: the 3D result projected into the camera, with "
              f"its bones (person 0 red, 1 blue, 2 green, ...). "
              f"Frames: {', '.join(str(int(f)) for f in frames)} of {F}.</p>")
    src = "<p class=\"small\">Background: " + html.escape("; ".join(sources)) + ".</p>"
    return legend + src + "".join(rows)


# ------------------------------------------------------------------------------ html

_CSS = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 24px;
       color: #222; max-width: 1320px; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc;
       padding-bottom: 4px; margin-top: 1.8em; } h3 { font-size: 1.05em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 8px 0; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
th { background: #f3f3f3; } td.l, th.l { text-align: left; }
.missing { color: #8a4b00; background: #fff4e0; padding: 6px 10px; border-left: 4px solid
       #e0a040; } .ok { color: #176b2c; } .bad { color: #a00; }
img.plot { max-width: 100%; display: block; margin: 8px 0; }
.sheet-row { display: flex; flex-wrap: wrap; gap: 4px; margin-bottom: 10px; }
img.thumb { display: block; }
.small { font-size: 0.85em; color: #555; } nav a { margin-right: 12px; }
"""


def _missing(text: str) -> str:
    return f'<p class="missing">Not available: {html.escape(text)}.</p>'


def _table(header: "list | None", rows: list, left_cols: int = 1) -> str:
    def cell(tag, i, v):
        cls = ' class="l"' if i < left_cols else ""
        return f"<{tag}{cls}>{html.escape(str(v))}</{tag}>"
    head = "" if header is None else \
        "<tr>" + "".join(cell("th", i, h) for i, h in enumerate(header)) + "</tr>"
    body = "".join("<tr>" + "".join(cell("td", i, v) for i, v in enumerate(r)) + "</tr>"
                   for r in rows)
    return f"<table>{head}{body}</table>"


def _fmt(x: float, digits: int = 1) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def _summary_section(inp: ReportInputs) -> str:
    s = inp.session
    rows = [("session", str(s.root.resolve()))]
    if inp.rig is not None:
        rows.append(("cameras", f"{len(inp.rig)} ({', '.join(inp.rig.names)})"))
    p = inp.points
    if p is not None:
        rows += [("frames", f"{p.num_frames} at {p.fps:g} fps ({p.num_frames / p.fps:.1f} s)"),
                 ("people", str(p.xyz.shape[1])),
                 ("keypoints", f"{len(p.joint_names)} ({p.format or 'format not recorded'})"),
                 ("3D joints present", f"{100 * np.isfinite(p.xyz).all(-1).mean():.1f} %")]
    if inp.detections is not None:
        rows.append(("2D detections", inp.detections_source))
    out = [_table(None, rows, left_cols=2)]
    if inp.manifest is not None:
        arts = inp.manifest.get("artifacts", {})
        arows = [(k, v, "present" if (s.out / str(v)).is_file() else "MISSING")
                 for k, v in arts.items()]
        for person in inp.manifest.get("people", []):
            for f in person.get("files", []):
                arows.append((f"person {person.get('id', '?')}", f,
                              "present" if (s.out / str(f)).is_file() else "MISSING"))
        out.append("<h3>Artifacts (out/manifest.json)</h3>" + _table(
            ["artifact", "file", "state"], arows, left_cols=3))
        for k, v, state in arows:
            if state == "MISSING":
                inp.notes.append(f"{k}: {v} is listed in the manifest but is not in {s.out}")
    stages = dataclasses.asdict(inp.settings)
    srows = [(t, k, v) for t, table in stages.items() for k, v in table.items()]
    out.append(f"<details><summary>Settings ({len(srows)} values, click to show)</summary>"
               + _table(["stage", "key", "value"], srows, left_cols=3) + "</details>")
    return "".join(out)


def _calibration_section(inp: ReportInputs) -> str:
    rig = inp.rig
    if rig is None:
        return _missing("no calibration could be read")
    centres = np.array([c.center for c in rig])
    mid = centres.mean(0)
    meta = rig.metadata
    per_cam = meta.error_px_per_camera or (None,) * len(rig)
    rows = []
    for cam, c, e in zip(rig, centres, per_cam):
        W, H = cam.size_wh
        fx, fy, cx, cy = cam.K[0, 0], cam.K[1, 1], cam.K[0, 2], cam.K[1, 2]
        hfov = np.degrees(2 * np.arctan(W / (2 * fx)))
        rows.append((cam.name, cam.model, f"{W}x{H}", _fmt(fx), _fmt(fy), _fmt(cx), _fmt(cy),
                     _fmt(hfov), " ".join(f"{d:.3g}" for d in cam.dist) or "none",
                     " ".join(f"{v:.2f}" for v in c), _fmt(np.linalg.norm(c - mid), 2),
                     _fmt(e, 2) if e is not None else "–"))
    path = inp.session.calibration_path()
    overall = (f"; calibration reprojection error {meta.error_px:.2f} px"
               if meta.error_px is not None else "")
    head = (f'<p class="small">{html.escape(str(path))}; '
            f'{"bundle adjusted" if meta.adjusted else "not bundle adjusted"}{overall}</p>')
    table = _table(["camera", "model", "size", "fx", "fy", "cx", "cy", "hfov (deg)", "dist",
                    "centre x y z (m)", "to rig centre (m)", "calib. error (px)"], rows,
                   left_cols=2)
    return head + table + _sync_table(inp) + _camera_plan(rig, inp.points)


def _sync_table(inp: ReportInputs) -> str:
    if inp.sync is None:
        return "<p class=\"small\">Camera sync: no record (out/sync.json); frames taken as " \
               "simultaneous.</p>"
    doc = inp.sync
    C = len(doc["camera_names"])

    def col(key, fmt):
        vals = doc.get(key) or [None] * C
        return [fmt(v) if v is not None else "–" for v in vals]
    rows = zip(doc["camera_names"], col("offsets", str), col("estimated", str),
               col("correlation", lambda v: f"{v:.2f}"), col("margin", lambda v: f"{v:.2f}"),
               col("trusted", lambda v: "yes" if v else "no"))
    return (f"<h3>Camera sync ({html.escape(str(doc.get('source', '')))})</h3>"
            + _table(["camera", "offset applied (frames)", "estimated", "correlation",
                      "margin", "applied"], list(rows)))


def _reprojection_section(inp: ReportInputs, err: "np.ndarray | None") -> str:
    if err is None:
        return _missing("reprojection needs the calibration, the 2D detections and the 3D "
                        "keypoints")
    thr = inp.settings.triangulate.reproj_threshold_px
    rows = []
    for c, name in enumerate(inp.rig.names):
        e = err[c][np.isfinite(err[c])]
        if e.size == 0:
            rows.append((name, 0, "–", "–", "–", "–"))
            continue
        rows.append((name, e.size, _fmt(np.median(e)), _fmt(e.mean()),
                     _fmt(np.percentile(e, 90)), f"{100 * (e <= thr).mean():.1f} %"))
    table = _table(["camera", "detections", "median (px)", "mean (px)", "90th pct (px)",
                    f"within {thr:g} px"], rows)
    return table + _reprojection_figures(err, inp.rig, inp.points.joint_names,
                                         inp.points.fps)


def _views_section(inp: ReportInputs) -> str:
    src = next((p for p in (inp.raw, inp.points) if p is not None and p.views_used is not None),
               None)
    if src is None:
        return _missing("no 3D keypoints with a record of the views used")
    C = src.views_used.shape[-1]
    used = src.views_used.reshape(-1, C)
    seen = np.isfinite(src.xyz).all(-1).reshape(-1)
    share = used[seen].mean(0) if seen.any() else np.zeros(C)
    rows = [(n, f"{100 * s:.1f} %") for n, s in zip(src.camera_names, share)]
    return (_table(["camera", "share of 3D joints it contributed to"], rows)
            + _views_figure(src, C))


def _bones_section(inp: ReportInputs) -> str:
    p = inp.points
    if p is None:
        return _missing("no 3D keypoints")
    if not p.format:
        return _missing("the 3D keypoints do not record their format, so their bones are "
                        "unknown")
    fmt = get_format(p.format)
    bones = fmt.bone_indices
    names = [f"{fmt.joint_names[a]}–{fmt.joint_names[b]}" for a, b in bones]
    out = []
    for person in range(p.xyz.shape[1]):
        lengths = bone_lengths(p.xyz[:, person], bones)
        if not np.isfinite(lengths).any():
            continue
        st = bone_length_stats(lengths)
        rows = [(names[b], int(st["count"][b]), _fmt(100 * st["median_m"][b]),
                 _fmt(1000 * st["std_m"][b]), _fmt(100 * st["cv"][b]))
                for b in range(len(bones))]
        out.append(f"<h3>Person {person}</h3>" + _table(
            ["bone", "frames", "median (cm)", "std (mm)", "CV (%)"], rows)
            + _bones_figure(lengths, names, p.fps, f"person {person}"))
    return "".join(out) or _missing("no person has a 3D keypoint")


def _angles_section(inp: ReportInputs) -> str:
    p = inp.points
    if p is None:
        return _missing("no 3D keypoints")
    out = []
    for person in range(p.xyz.shape[1]):
        xyz = p.xyz[:, person]
        if not np.isfinite(xyz).any():
            continue
        try:
            angles = joint_angles(xyz, p.joint_names)
        except MocapError as exc:
            return _missing(str(exc))
        rows = [(n.replace("_", " "), _fmt(_nanstat(np.nanmin, a)), _fmt(_nanstat(np.nanmax, a)),
                 _fmt(_nanstat(np.nanmean, a))) for n, a in angles.items()]
        out.append(f"<h3>Person {person}</h3>"
                   + _angles_figure(angles, p.fps, f"person {person}: joint angles (degrees)")
                   + _table(["angle", "min (deg)", "max (deg)", "mean (deg)"], rows))
    return "".join(out) or _missing("no person has a 3D keypoint")


def _trajectory_section(inp: ReportInputs) -> str:
    if inp.points is None:
        return _missing("no 3D keypoints")
    return _trajectory_figure(inp.points)


def _reprojection(inp: ReportInputs) -> "np.ndarray | None":
    if inp.rig is None or inp.points is None or inp.detections is None:
        return None
    det, pts = inp.detections, inp.points
    if tuple(det.camera_names) != inp.rig.names:
        inp.notes.append(f"reprojection: detections' cameras {list(det.camera_names)} are not "
                         f"the rig's {list(inp.rig.names)}")
        return None
    if det.shape[1:] != pts.xyz.shape[:3]:
        inp.notes.append(f"reprojection: detections (F, P, J) = {det.shape[1:]} but 3D "
                         f"keypoints {pts.xyz.shape[:3]}; not compared")
        return None
    return reprojection_errors_px(inp.rig, pts.xyz, det.xy, det.conf,
                                  inp.settings.triangulate.min_conf)


SECTIONS = (("summary", "Summary"), ("calibration", "Calibration"),
            ("reprojection", "Reprojection error"), ("views", "Views per joint"),
            ("bones", "Bone-length stability"), ("angles", "Joint angles"),
            ("trajectories", "Trajectories"), ("overlays", "Overlays on every camera"))


def render_report(inp: ReportInputs, overlay_frames: int = 4,
                  overlay_width_px: int = 320) -> str:
    """The report page as one HTML string (no script, no external address).

    Args:
        inp: from :func:`gather_inputs`. overlay_frames: frames in the contact sheet.
        overlay_width_px: width of each overlay thumbnail.
    """
    err = _reprojection(inp)
    body = {
        "summary": _summary_section(inp),
        "calibration": _calibration_section(inp),
        "reprojection": _reprojection_section(inp, err),
        "views": _views_section(inp),
        "bones": _bones_section(inp),
        "angles": _angles_section(inp),
        "trajectories": _trajectory_section(inp),
        "overlays": _overlay_section(inp, overlay_frames, overlay_width_px),
    }
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in inp.notes)
    notes_html = (f'<div class="missing"><b>Absent or unreadable:</b><ul>{notes}</ul></div>'
                  if notes else '<p class="ok">Every artifact the report reads was found.</p>')
    nav = "".join(f'<a href="#{k}">{t}</a>' for k, t in SECTIONS)
    parts = "".join(f'<section id="{k}"><h2>{t}</h2>{body[k]}</section>' for k, t in SECTIONS)
    title = f"Motion capture report: {html.escape(inp.session.root.resolve().name)}"
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{title}</title><style>{_CSS}</style></head><body>"
            f"<h1>{title}</h1><nav>{nav}</nav>{notes_html}{parts}</body></html>")


def write_report(session_dir: "str | Path", path: "str | Path | None" = None,
                 overlay_frames: int = 4, overlay_width_px: int = 320) -> Path:
    """Write the report of a session, atomically.

    Args:
        session_dir: the session folder. path: where to write (default ``out/report.html``).
    Returns:
        the path written.
    """
    inp = gather_inputs(session_dir)
    page = render_report(inp, overlay_frames, overlay_width_px)
    path = Path(path) if path is not None else inp.session.out / "report.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "w", encoding="utf-8") as fh:
        fh.write(page)
    for note in inp.notes:
        log.info("report: %s", note)
    log.info("wrote %s (%.1f MB)", path, path.stat().st_size / 1e6)
    return path
