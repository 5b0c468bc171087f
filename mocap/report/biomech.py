"""The report's biomechanics section: each person's joint-angle curves per joint and side
(the body fit's ISB angles, ``out/person<N>/angles.csv``, and OpenSim's IK, ``ik.mot``), their
range of motion, heel strikes when the take is a walk, and each curve's expected error from
``benchmarks/biomechanics.py``. Pure: curves come in as arrays.

Curves: ``{(joint, side, axis): (F,) degrees}`` with joint in hip, knee, ankle, side left or
right, axis flexion or adduction (the body fit's names, :mod:`mocap.body.joint_angles`); the
IK's coordinates map onto them (:data:`IK_COORDINATES`).
"""
from __future__ import annotations

import numpy as np

__all__ = ["CURVES", "IK_COORDINATES", "EXPECTED_RMS_DEG", "heel_strikes", "is_walk",
           "curves_from_mot", "curves_from_angles_csv", "rom_rows"]

#: The curves the section draws: (joint, axis).
CURVES = (("hip", "flexion"), ("knee", "flexion"), ("ankle", "flexion"), ("hip", "adduction"))

#: (joint, axis) -> OpenSim coordinate of Pose2Sim's model (``_r`` / ``_l`` appended).
IK_COORDINATES = {("hip", "flexion"): "hip_flexion", ("knee", "flexion"): "knee_angle",
                  ("ankle", "flexion"): "ankle_angle", ("hip", "adduction"): "hip_adduction"}

#: Expected RMS error (degrees) per source and curve: the mean over the studio's walk,
#: jog_circle and squat takes of ``benchmarks/biomechanics.py`` (90 frames each, studio4,
#: default detector noise; IK after a static calibration). "IK (body markers)": IK on the
#: fitted body's virtual markers (``[opensim] markers = "body"``), "IK": on the keypoints.
EXPECTED_RMS_DEG = {
    "IK (body markers)": {("hip", "flexion"): 1.6, ("knee", "flexion"): 1.4,
                          ("ankle", "flexion"): 1.5, ("hip", "adduction"): 1.4},
    "body fit": {("hip", "flexion"): 1.7, ("knee", "flexion"): 1.2,
                 ("ankle", "flexion"): 1.4, ("hip", "adduction"): 1.3},
    "IK": {("hip", "flexion"): 3.6, ("knee", "flexion"): 2.4,
           ("ankle", "flexion"): 2.2, ("hip", "adduction"): 3.8},
}


def curves_from_angles_csv(table: np.ndarray) -> dict:
    """The section's curves from a structured array of ``angles.csv`` (``np.genfromtxt(...,
    names=True)``)."""
    return {(j, s, a): np.asarray(table[f"{j}_{s}_{a}_deg"], float)
            for j, a in CURVES for s in ("left", "right")}


def curves_from_mot(labels: list, values: np.ndarray, fps: float, num_frames: int) -> dict:
    """The section's curves from an ``ik.mot`` (labels, (R, C) rows): (F,) degrees on the take's
    frames, NaN where IK has no row."""
    frames = np.rint(values[:, labels.index("time")] * fps).astype(int)
    keep = (frames >= 0) & (frames < num_frames)
    out = {}
    for (j, a), coord in IK_COORDINATES.items():
        for s, suffix in (("left", "l"), ("right", "r")):
            curve = np.full(num_frames, np.nan)
            curve[frames[keep]] = values[keep, labels.index(f"{coord}_{suffix}")]
            out[(j, s, a)] = curve
    return out


def heel_strikes(heel_z: np.ndarray, lift_m: float = 0.05, contact_m: float = 0.02,
                 ) -> np.ndarray:
    """Frames where the heel lands: its height comes below ``contact_m`` above its lowest
    level (the 5th percentile, the floor) after having been above ``lift_m``.

    Args:
        heel_z: (F,) the heel's height, metres (NaN = missing).
    Returns:
        (S,) frame indices, increasing.
    """
    z = np.asarray(heel_z, float)
    if not np.isfinite(z).any():
        return np.zeros(0, int)
    floor = np.nanpercentile(z, 5)
    lifted, out = False, []
    for f, h in enumerate(z - floor):
        if not np.isfinite(h):
            continue
        if h > lift_m:
            lifted = True
        elif h < contact_m and lifted:
            out.append(f)
            lifted = False
    return np.array(out, int)


def is_walk(pelvis_xy: np.ndarray, fps: float, strikes: list) -> bool:
    """A walk (or a run): the pelvis moves at least 0.4 m/s on average over the floor and the
    feet strike at least twice together. pelvis_xy: (F, 2) metres; strikes: per foot."""
    xy = np.asarray(pelvis_xy, float)
    ok = np.isfinite(xy).all(1)
    if ok.sum() < 2:
        return False
    idx = np.flatnonzero(ok)
    path = np.linalg.norm(np.diff(xy[idx], axis=0), axis=1).sum()
    speed = path / ((idx[-1] - idx[0]) / fps) if idx[-1] > idx[0] else 0.0
    return bool(speed >= 0.4 and sum(len(s) for s in strikes) >= 2)


def rom_rows(curves: dict, source: str) -> list:
    """Rows (curve, side, min, max, range of motion, expected RMS error) of one source ("body
    fit", "IK" or "IK (body markers)"), degrees."""
    rows = []
    for j, a in CURVES:
        for s in ("left", "right"):
            c = curves.get((j, s, a))
            if c is None or not np.isfinite(c).any():
                continue
            lo, hi = float(np.nanmin(c)), float(np.nanmax(c))
            rows.append((f"{j} {a}", s, lo, hi, hi - lo, EXPECTED_RMS_DEG[source][(j, a)]))
    return rows
