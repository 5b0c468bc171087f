"""The report's plots (matplotlib, Agg, no pyplot state), each returned as an inline
``<img>`` (PNG, base64, no metadata): the plan view of the cameras, reprojection errors, views
per joint, bone lengths, joint angles and trajectories. Pure: arrays in, HTML out.
"""
from __future__ import annotations

import base64
import io

import matplotlib
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from calibration import Rig

from ..angles import ANGLE_NAMES
from ..types import Points3D
from .data import block_reduce, nanstat, person_tracks, time_blocks

__all__ = ["PERSON_COLORS_RGB", "camera_plan", "reprojection_figures", "views_figure",
           "bones_figure", "angles_figure", "trajectory_figure", "biomech_figure",
           "contacts_figure"]

#: RGB colours of people 0, 1, 2, ... (cycled), shared with the overlays and the viewer.
PERSON_COLORS_RGB = np.array([[230, 60, 50], [40, 120, 230], [40, 170, 80], [240, 160, 30],
                              [150, 70, 200], [30, 180, 190], [200, 90, 150], [120, 120, 120]],
                             np.uint8)


def _figure(w_in: float, h_in: float, left_in: float = 0.7, right_in: float = 0.25,
            bottom_in: float = 0.55, top_in: float = 0.35, **spacing):
    """A matplotlib figure (no pyplot state) with margins given in inches (a fixed layout is
    several times cheaper to draw than a constrained one)."""
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


def _person_color(p: int) -> tuple:
    """Matplotlib RGB in [0, 1] of person ``p`` (as in the overlays and the viewer)."""
    return tuple(PERSON_COLORS_RGB[p % len(PERSON_COLORS_RGB)] / 255.0)


def _discrete_cmap(n: int):
    base = matplotlib.colormaps["viridis"].resampled(max(n - 1, 1))
    colors = [(0.85, 0.85, 0.85, 1.0)] + [base(i) for i in range(max(n - 1, 1))]
    return ListedColormap(colors[:n])


def camera_plan(rig: Rig, points: "Points3D | None") -> str:
    """Plan view (world XY, Z up): camera centres, optical axes, and each person's pelvis
    track when there are 3D keypoints."""
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
        for p, track in enumerate(person_tracks(points)):
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


def _reprojection_over_time(err: np.ndarray, rig: Rig, fps: float) -> str:
    """Median and 90th percentile per camera, and the per-camera median over time."""
    C, F, P, J = err.shape
    per_cam = err.reshape(C, -1)
    med = nanstat(np.nanmedian, per_cam, 1)
    p90 = nanstat(lambda a, axis: np.nanpercentile(a, 90, axis=axis), per_cam, 1)
    fig = _figure(11, 3.4, bottom_in=0.9 if C > 6 else 0.55, wspace=0.22)
    ax1, ax2 = fig.subplots(1, 2, width_ratios=[1, 2])
    x = np.arange(C)
    ax1.bar(x - 0.2, med, 0.4, label="median")
    ax1.bar(x + 0.2, p90, 0.4, label="90th percentile")
    ax1.set_xticks(x, rig.names, rotation=45 if C > 6 else 0, fontsize=8)
    ax1.set_ylabel("reprojection error (px)")
    ax1.set_title("Per camera")
    ax1.legend(fontsize=8)
    k = time_blocks(F)
    over_time = block_reduce(nanstat(np.nanmedian, err.reshape(C, F, -1), 2).T, k)
    t = (np.arange(over_time.shape[0]) * k) / fps
    for c in range(C):
        ax2.plot(t, over_time[:, c], lw=1, label=rig.names[c])
    ax2.set_xlabel("time (s)")
    ax2.set_ylabel("median over joints (px)")
    ax2.set_title("Per camera over time")
    ax2.legend(fontsize=7, ncol=min(C, 8))
    ax2.grid(alpha=0.3)
    return _png(fig)


def reprojection_figures(err: np.ndarray, rig: Rig, joint_names, fps: float) -> str:
    """The reprojection plots: per camera, over time, and per camera and joint.

    Args:
        err: (C, F, P, J) pixels, NaN = not compared. fps: frames per second.
    """
    C, F, P, J = err.shape
    first = _reprojection_over_time(err, rig, fps)
    per_joint = nanstat(np.nanmedian, err.transpose(0, 3, 1, 2).reshape(C, J, -1), 2)  # (C, J)
    fig = _figure(max(6.0, 0.3 * J + 2.5), 0.3 * C + 2.2, left_in=0.9, bottom_in=1.4)
    ax = fig.add_subplot()
    im = ax.imshow(per_joint, aspect="auto", cmap="magma_r")
    ax.set_yticks(np.arange(C), rig.names, fontsize=8)
    ax.set_xticks(np.arange(J), joint_names, rotation=70, fontsize=7)
    ax.set_title("Median reprojection error per camera and joint (px; blank = never seen)")
    fig.colorbar(im, ax=ax, label="px")
    return first + _png(fig)


def views_figure(points: Points3D, C: int) -> str:
    """Cameras used per joint over time, one panel per person with a record of views."""
    nv = points.num_views                                             # (F, P, J)
    F, P, J = nv.shape
    k = time_blocks(F)
    people = [p for p in range(P) if points.views_used[:, p].any()]
    fig = _figure(11, 0.13 * J * max(len(people), 1) + 1.2, left_in=1.3, hspace=0.4)
    axes = np.atleast_1d(fig.subplots(max(len(people), 1), 1, squeeze=False)[:, 0])
    cmap = _discrete_cmap(C + 1)
    for ax, p in zip(axes, people):
        img = block_reduce(nv[:, p].astype(float), k, np.nanmin).T        # (J, cols)
        im = ax.imshow(img, aspect="auto", interpolation="nearest", cmap=cmap, vmin=-0.5,
                       vmax=C + 0.5, extent=(0, F / points.fps, J - 0.5, -0.5))
        ax.set_yticks(np.arange(J), points.joint_names, fontsize=6)
        ax.set_title(f"person {p}: cameras used per joint" +
                     (f" (fewest in blocks of {k} frames)" if k > 1 else ""), fontsize=9)
    axes[-1].set_xlabel("time (s)")
    if people:
        fig.colorbar(im, ax=list(axes), ticks=np.arange(C + 1), label="views")
    return _png(fig)


def bones_figure(lengths: np.ndarray, bone_names: list, fps: float, title: str) -> str:
    """Bone lengths over time (relative to their median) and their spread.

    Args:
        lengths: (F, B) metres, NaN = missing. bone_names: (B,) labels.
    """
    F, B = lengths.shape
    k = time_blocks(F)
    med = nanstat(np.nanmedian, lengths, 0)
    rel = block_reduce(100.0 * (lengths / med - 1.0), k)
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


def angles_figure(angles: dict, fps: float, title: str) -> str:
    """Left and right joint-angle curves (degrees, :data:`mocap.angles.ANGLE_NAMES`)."""
    fig = _figure(11, 5.2, top_in=0.6, hspace=0.3, wspace=0.18)
    axes = fig.subplots(2, 2, sharex=True).ravel()
    for ax, name in zip(axes, ANGLE_NAMES):
        for side, color in (("left", "tab:blue"), ("right", "tab:orange")):
            a = angles[f"{side}_{name}"]
            k = time_blocks(a.shape[0])
            a = block_reduce(a, k)
            ax.plot(np.arange(a.shape[0]) * k / fps, a, color=color, lw=1, label=side)
        ax.set_title(name.replace("_", " "), fontsize=9)
        ax.set_ylabel("degrees")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in axes[2:]:
        ax.set_xlabel("time (s)")
    fig.suptitle(title, fontsize=10)
    return _png(fig)


def trajectory_figure(points: Points3D) -> str:
    """Each person's pelvis x, y, z (metres) and speed (m/s) over time."""
    tracks = person_tracks(points)
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


def biomech_figure(curves: dict, fps: float, title: str, strikes: "dict | None" = None) -> str:
    """Joint-angle curves per joint (one panel per (joint, axis) of ``curves``' keys), left
    and right, of every source: ``curves`` is ``{source: {(joint, side, axis): (F,) deg}}``
    (the first source drawn solid, the next dashed); ``strikes``: {side: frames} of heel
    strikes, drawn as ticks at the bottom of each panel."""
    panels = list(dict.fromkeys((j, a) for c in curves.values() for j, _, a in c))
    fig = _figure(11, 2.6 * ((len(panels) + 1) // 2), top_in=0.6, hspace=0.35, wspace=0.18)
    axes = np.atleast_1d(fig.subplots((len(panels) + 1) // 2, 2, sharex=True)).ravel()
    for ax, (joint, axis) in zip(axes, panels):
        for (source, c), style in zip(curves.items(), ("-", "--", ":")):
            for side, color in (("left", "tab:blue"), ("right", "tab:orange")):
                a = c.get((joint, side, axis))
                if a is not None:
                    ax.plot(np.arange(len(a)) / fps, a, style, color=color, lw=1,
                            label=f"{side}, {source}")
        for side, color in (("left", "tab:blue"), ("right", "tab:orange")):
            for f in (strikes or {}).get(side, ()):
                ax.axvline(f / fps, ymax=0.06, color=color, lw=1.5)
        ax.set_title(f"{joint} {axis}", fontsize=9)
        ax.set_ylabel("degrees")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    axes[-1].set_xlabel("time (s)")
    fig.suptitle(title, fontsize=10)
    return _png(fig)


def contacts_figure(contacts: dict, fps: float, title: str) -> str:
    """Foot contact over time: one row per column of ``contacts`` ({name: (F,) bool}), a
    bar where the point touches the floor."""
    names = list(contacts)
    fig = _figure(11, 0.35 * len(names) + 0.9, left_in=1.1, top_in=0.35)
    ax = fig.subplots()
    for row, name in enumerate(names):
        flags = np.asarray(contacts[name], bool)
        edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
        starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        color = "tab:blue" if name.startswith("left") else "tab:orange"
        ax.broken_barh([(a / fps, (b - a) / fps) for a, b in zip(starts, stops)], (row - 0.4, 0.8), color=color)
    ax.set_yticks(range(len(names)), [n.replace("_", " ") for n in names], fontsize=8)
    ax.set_ylim(len(names) - 0.5, -0.5)
    ax.set_xlabel("time (s)")
    ax.grid(alpha=0.3, axis="x")
    ax.set_title(title, fontsize=10)
    return _png(fig)
