"""Frame offsets between cameras, estimated from the motion of the people they see.

Convention (the virtual studio's): camera c's frame f shows the instant of the take's frame
``f + offsets[c]``; a positive offset means the camera started recording that many frames
after the reference. The first camera of the rig is the reference, ``offsets[0] = 0``.

How:

1. **Signals** (:mod:`.signals`): every person's joints in every camera give a speed signal,
   the vertical image velocity (central differences, in that person's heights per frame;
   every upright camera sees a joint's up-and-down motion with the same sign whatever its
   viewpoint), robustly standardised per person and joint (median, MAD) and clipped to +-3 so
   that a bad joint or an outlier adds bounded noise, then high-passed (a moving mean of
   about a second removed). People are never averaged together: in a crowd the mean over
   whoever a camera sees changes whenever someone is hidden in that camera, and two cameras'
   means then peak at a wrong lag (a rendered take of two synchronous cameras, one actor
   hidden behind the other in one of them, gave -1 frame offsets to three cameras).
2. **The same person in both cameras** (:mod:`.links`): with the calibration, detections of
   two cameras are linked frame by frame where their joints' rays meet (mutually closest,
   unambiguous); without it, by how well their motion correlates.
3. **Lags**: for every pair of cameras and every lag the correlation is pooled over the joints
   of the people they share (covariances summed before the ratio); the pair's lag is its
   peak. The offsets come from all pairs by weighted least squares (while a pair disagrees
   with the solution by more than a frame, the worst one is dropped and the system solved
   again: a pair whose peak jumped to the next cycle of a repetitive motion).
4. **Only justified offsets are applied** (:mod:`.estimate`): a camera's offset needs its
   correlation at the solution and the margin over any lag more than a frame away to be high
   enough (slow motion such as a squat, or repetitive motion searched over more than half its
   period, gives flat or ambiguous curves), and it must beat no offset clearly: over the
   camera's pairs whose lag the offset changes, the correlation gained over lag 0, summed in
   blocks of a third of a second, must have a t statistic of ``[sync] min_gain_t``. An offset
   that fails is reported and left at 0 (the others tested again without it).

Measured in the virtual studio (``tests/mocap/test_sync.py``, ``tests/mocap/test_sync_crowd.py``)
and on rendered takes (``benchmarks/pixels.py``).
"""
from __future__ import annotations

from ..errors import SyncError
from .apply import shift_detections, synchronise
from .estimate import SyncResult, estimate_offsets, gain_over_zero
from .links import geometric_links, motion_links
from .signals import joint_speeds, lag_correlations, subframe_peak

__all__ = ["SyncError", "SyncResult", "joint_speeds", "lag_correlations", "estimate_offsets",
           "shift_detections", "synchronise", "subframe_peak", "gain_over_zero",
           "geometric_links", "motion_links"]
