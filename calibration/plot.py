"""A picture of a rig: camera poses (and board poses) seen from above and from the side.

Uses matplotlib (imported lazily, with the non-interactive Agg backend).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from calibration.io.atomic import atomic_write
from calibration.rig import Rig


def _frustum(cam, depth: float) -> np.ndarray:
    """(5, 3) world points: the centre and the four image corners at ``depth`` metres."""
    w, h = cam.size_wh
    corners = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], dtype=float)
    xy = cam.undistort_points(corners)
    xy = np.where(np.isfinite(xy), xy, (corners - cam.K[:2, 2]) / np.diag(cam.K)[:2])
    X_cam = np.concatenate([xy, np.ones((4, 1))], axis=1) * depth
    X = (X_cam - cam.t_cam_from_world) @ cam.R_cam_from_world  # R^T (X_cam - t)
    return np.vstack([cam.center, X])


def plot_rig(
    rig: Rig,
    path: str | os.PathLike,
    board_centres_m: np.ndarray | None = None,
    title: str = "camera poses",
    errors_px: Sequence[float] | None = None,
) -> Path:
    """Draw the cameras (centres, viewing frusta, names) from above (XY) and from the side
    (XZ), with optional board centres (B, 3), and save a PNG.

    Args:
        rig: cameras, world metres.
        path: the PNG file to write.
        board_centres_m: (B, 3) board positions to show, world metres.
        title: figure title.
        errors_px: per camera reprojection error to print beside its name.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    centres = np.stack([c.center for c in rig])
    span = float(np.ptp(centres, axis=0).max()) if len(rig) > 1 else 1.0
    depth = max(0.15 * span, 0.2)
    fig, axes = plt.subplots(1, 2, figsize=(11, 5.2))
    for ax, (i, j), label in zip(axes, ((0, 1), (0, 2)), ("top view (X, Y)", "side view (X, Z)")):
        if board_centres_m is not None and len(board_centres_m):
            b = np.asarray(board_centres_m)
            ax.scatter(b[:, i], b[:, j], s=6, c="0.6", label="board")
        for k, cam in enumerate(rig):
            f = _frustum(cam, depth)
            for corner in f[1:]:
                ax.plot([f[0, i], corner[i]], [f[0, j], corner[j]], c=f"C{k % 10}", lw=0.8)
            loop = np.vstack([f[1:], f[1:2]])
            ax.plot(loop[:, i], loop[:, j], c=f"C{k % 10}", lw=0.8)
            text = cam.name if errors_px is None else f"{cam.name} ({errors_px[k]:.2f} px)"
            ax.annotate(text, (f[0, i], f[0, j]), fontsize=8, color=f"C{k % 10}")
        ax.scatter([0], [0], marker="+", c="k", s=60)
        ax.set_xlabel("XYZ"[i] + " (m)")
        ax.set_ylabel("XYZ"[j] + " (m)")
        ax.set_title(label)
        ax.set_aspect("equal", adjustable="datalim")
        ax.grid(True, lw=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    p = Path(path)
    fmt = p.suffix[1:].lower() or None  # as savefig picks it from a file name (None: png)
    try:
        atomic_write(p, lambda f: fig.savefig(f, format=fmt, dpi=110))
    finally:
        plt.close(fig)
    return p
