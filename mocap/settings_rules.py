"""Rules between settings keys: values each in range that contradict each other.

Each rule is a function of a table (or of the whole file's :class:`mocap.settings.Settings`),
anything with the fields as attributes, that returns what is wrong, naming both keys and their
values (``"[filter] cutoff_hz = 20 and [take] fps = 30; expected ..."``), or None. The tables
list theirs in ``RULES``; :func:`mocap.schema.check_rules` runs them when a table is read or
built.
"""
from __future__ import annotations

__all__ = ["below_nyquist", "spike_window", "fisheye_among_cameras", "blazepose_model",
           "opensim_body_needs_fit", "hands_need_blazepose"]

#: ``[detect] model`` values of the BlazePose backend (empty: the default, heavy).
BLAZEPOSE_MODELS = ("heavy", "full", "lite")


# The filter's cut-offs by smoother: only the smoother in use is checked against the frame rate.
_CUTOFFS = {"butterworth": ("cutoff_hz",),
            "one_euro": ("one_euro_min_cutoff_hz", "one_euro_d_cutoff_hz")}


def below_nyquist(s) -> "str | None":
    """Settings: the smoother's cut-offs below the Nyquist frequency of ``[take] fps`` (a
    digital filter cannot pass more; a cut-off of 0 turns the Butterworth low-pass off)."""
    fps = s.take.fps
    for key in _CUTOFFS.get(s.filter.smoother, ()):
        hz = getattr(s.filter, key)
        if hz >= fps / 2:
            off = " (or 0: no low-pass)" if key == "cutoff_hz" else ""
            return (f"[filter] {key} = {hz:g} and [take] fps = {fps:g}; expected {key} below "
                    f"the Nyquist frequency fps / 2 = {fps / 2:g} Hz{off}")
    return None


def spike_window(s) -> "str | None":
    """Settings: a spike-removal window of at least one frame each side (the filter rounds
    ``hampel_window_s * fps / 2`` to whole frames: 0 frames would silently remove nothing)."""
    w, fps = s.filter.hampel_window_s, s.take.fps
    if w > 0 and not w * fps > 1:
        return (f"[filter] hampel_window_s = {w:g} and [take] fps = {fps:g}; expected 0 (no "
                f"spike removal) or more than 1 / fps = {1 / fps:.3g} s (a frame on each side)")
    return None


def fisheye_among_cameras(c) -> "str | None":
    """``[calibration]``: the fisheye cameras among the rig's ``cameras`` when those are
    given (found when the file is read, not once the calibration has found its cameras)."""
    unknown = [n for n in c.fisheye_cameras if n not in c.cameras]
    if c.cameras and unknown:
        return (f"fisheye_cameras = {list(c.fisheye_cameras)} and cameras = {list(c.cameras)}; "
                f"expected fisheye_cameras among cameras, found {', '.join(map(repr, unknown))}")
    return None


def blazepose_model(d) -> "str | None":
    """``[detect]``: with ``backend = "blazepose"``, ``model`` names a BlazePose landmark
    model (heavy, full or lite; empty for the default); with ``onnx`` it is the model file."""
    if d.backend == "blazepose" and d.model not in ("",) + BLAZEPOSE_MODELS:
        return (f"model = {d.model!r} and backend = 'blazepose'; expected one of "
                f"{', '.join(BLAZEPOSE_MODELS)} (or backend = 'onnx' for a model file)")
    return None


def opensim_body_needs_fit(s) -> "str | None":
    """Settings: the OpenSim stage of ``mocap run`` on virtual markers of the fitted body needs
    the body fit in the same run."""
    if s.opensim.enabled and s.opensim.markers == "body" and not s.fit.enabled:
        return ('[opensim] enabled = true with markers = "body" and [fit] enabled = false; '
                'expected [fit] enabled = true (the markers ride on the fitted body) or '
                '[opensim] markers = "keypoints"')
    return None


def hands_need_blazepose(d) -> "str | None":
    """``[detect]``: ``hands = true`` crops the hands from BlazePose's wrist, index and pinky
    points, so it needs ``backend = "blazepose"``."""
    if d.hands and d.backend != "blazepose":
        return (f"hands = true and backend = {d.backend!r}; expected backend = 'blazepose' "
                f"(the hand crops come from its wrist, index and pinky points) or hands = false")
    return None
