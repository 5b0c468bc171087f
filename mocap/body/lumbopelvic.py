"""The lumbopelvic rhythm: how a standing person's forward trunk flexion is shared between the
pelvis, tilting over the hips, and the lumbar spine.

A keypoint format has points on the hips and the shoulders but none on the pelvis itself or
along the spine, so how much of a trunk lean is the pelvis tilting and how much is the spine
bending can hardly be told from keypoints (they differ only in the small curvature of the
spine); yet hip flexion is measured from the pelvis. Studies of forward bending describe a
rhythm: the lumbar spine leads (it takes most of the first tens of degrees), the hips finish
(the pelvis takes most of the rest), so that at full flexion each has about half. This module
writes that rhythm down once: the studio's actors follow it (each with an individual scale,
:mod:`mocap.simulate.motions`), and the fit uses it as a prior where the data are silent
(:func:`mocap.fit.lumbopelvic_loss`).

Angles in radians; trunk flexion is the forward inclination of the upper trunk relative to an
upright standing posture, positive forward, the sum of the pelvis's tilt and the spine's
flexion. The rhythm is odd (extension shares alike) and continuously differentiable. The
module does not import torch (the studio uses it on the ``mocap --help`` path).
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["EARLY_SHARE", "LATE_SHARE", "LATE_FROM_RAD", "pelvis_tilt_of_trunk"]

#: The pelvis's share of small increments of trunk flexion (the lumbar spine leads).
EARLY_SHARE = 0.3
#: Its share of increments beyond :data:`LATE_FROM_RAD` (the hips finish the bend).
LATE_SHARE = 0.7
#: Trunk flexion by which the pelvis's share has risen linearly to :data:`LATE_SHARE`.
LATE_FROM_RAD = math.radians(90.0)


def pelvis_tilt_of_trunk(trunk, scale: float = 1.0):
    """The pelvis's forward tilt (radians, same shape and kind: numpy array or torch tensor)
    for a trunk flexion ``trunk`` (radians), times an individual ``scale`` (1: the population
    rhythm).

    The share of each increment rises linearly from :data:`EARLY_SHARE` at upright to
    :data:`LATE_SHARE` at :data:`LATE_FROM_RAD` and stays there: 8 deg of lean tilt the
    pelvis 2.5 deg, 35 deg 13 deg, 95 deg 49 deg.
    """
    a, b, F = EARLY_SHARE, LATE_SHARE, LATE_FROM_RAD
    if type(trunk).__module__.startswith("torch"):  # a tensor (torch itself is not imported)
        T = trunk.abs()
        m = T.clamp(max=F)
        sign = trunk.sign()
    else:
        trunk = np.asarray(trunk, float)
        T = np.abs(trunk)
        m = np.minimum(T, F)
        sign = np.sign(trunk)
    return scale * sign * (a * m + (b - a) * m * m / (2 * F) + b * (T - m))
