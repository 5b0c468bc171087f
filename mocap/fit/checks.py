"""The checks of the ``[fit]`` settings."""
from __future__ import annotations

__all__ = ["check_fit_settings"]


def check_fit_settings(settings) -> None:
    """Raise SettingsError naming the first ``[fit]`` value that is not allowed."""
    from ..body import BODY_KINDS, MESH_FORMATS
    from ..errors import SettingsError
    choices = {"body": BODY_KINDS, "gender": ("neutral", "male", "female"),
               "meshes": ("",) + MESH_FORMATS}
    for key, allowed in choices.items():
        if getattr(settings, key) not in allowed:
            raise SettingsError(f"[fit] {key}: expected one of {', '.join(map(repr, allowed))}, "
                                f"found {getattr(settings, key)!r}")
    for key in ("iteration_scale", "mesh_every", "threads"):
        if not getattr(settings, key) > 0:
            raise SettingsError(f"[fit] {key}: expected a positive number, found "
                                f"{getattr(settings, key)!r}")
    for key in ("reprojection_weight", "floor_weight"):
        if not getattr(settings, key) >= 0:
            raise SettingsError(f"[fit] {key}: expected >= 0, found {getattr(settings, key)!r}")
