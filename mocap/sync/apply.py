"""The sync stage: offsets estimated (or given) and applied to the detections."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from calibration import Rig

from ..errors import SyncError
from ..settings import SyncSettings
from ..types import Detections2D
from .estimate import SyncResult, estimate_offsets

log = logging.getLogger("mocap.sync")

__all__ = ["shift_detections", "synchronise"]


def shift_detections(det: Detections2D, offsets) -> Detections2D:
    """Detections re-timed so that frame f of every camera shows the take's instant f.

    Camera c's new frame f is its old frame ``f - offsets[c]``; frames it did not record are
    missing (NaN, confidence 0; heatmaps 0 with the affine of the nearest recorded frame).

    Args:
        offsets: (C,) int frames (see the module's convention).
    """
    offsets = np.asarray(offsets, int)
    C, F = det.xy.shape[:2]
    if offsets.shape != (C,):
        found = offsets.shape[0] if offsets.ndim else 0
        raise SyncError(f"offsets must have one entry per camera ({C}: "
                        f"{', '.join(det.camera_names)}), found {found}")
    if not offsets.any():
        return det
    xy = np.full_like(det.xy, np.nan)
    conf = np.zeros_like(det.conf)
    hm = None if det.heatmaps is None else np.zeros_like(det.heatmaps)
    aff = None if det.heatmap_affine is None else det.heatmap_affine.copy()
    for c, o in enumerate(offsets):
        dst = slice(max(0, o), F + min(0, o))
        src = slice(max(0, -o), F - max(0, o))
        xy[c, dst], conf[c, dst] = det.xy[c, src], det.conf[c, src]
        if hm is not None:
            hm[c, dst] = det.heatmaps[c, src]
            aff[c, dst] = det.heatmap_affine[c, src]
    return det.replace(xy=xy, conf=conf, heatmaps=hm, heatmap_affine=aff)


def synchronise(det: Detections2D, settings: SyncSettings,
                report: "str | Path | None" = None, rig: "Rig | None" = None,
                ) -> tuple[Detections2D, SyncResult]:
    """The sync stage: estimate (or take from the settings) the offsets and apply them.

    Args:
        report: where to write the result as JSON (e.g. ``out/sync.json``), if anywhere.
        rig: the calibration, to match the people two cameras share by geometry (see
            :func:`mocap.sync.estimate_offsets`).
    Returns:
        the re-timed detections and the result.
    """
    C = len(det.camera_names)
    nan = tuple(float("nan") for _ in range(C))
    if settings.offsets:
        if len(settings.offsets) != C:
            raise SyncError(f"[sync] offsets has {len(settings.offsets)} entries, the rig has "
                            f"{C} cameras ({', '.join(det.camera_names)})")
        o = tuple(int(v) for v in settings.offsets)
        result = SyncResult(det.camera_names, o, o, nan, nan, (True,) * C, "settings", nan)
    elif not settings.enabled:
        z = (0,) * C
        result = SyncResult(det.camera_names, z, z, nan, nan, (False,) * C, "disabled", nan)
    else:
        result = estimate_offsets(det, settings, rig)
    if any(result.offsets):
        log.info("camera offsets (frames): %s", dict(zip(det.camera_names, result.offsets)))
    if report is not None:
        result.save(report)
    return shift_detections(det, result.offsets), result
