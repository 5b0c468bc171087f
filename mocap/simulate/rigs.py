"""Camera-rig templates (``rigs/*.toml``) turned into calibrated :class:`calibration.Rig` s.

A template describes each camera by where it stands and what it looks at, which is how people
describe a studio, rather than by matrices::

    [defaults]                  # applies to every [[camera]] unless it overrides the key
    size_wh = [1920, 1080]      # image width, height in pixels
    hfov_deg = 62.0             # horizontal field of view of the undistorted pinhole model
    distortion = [k1, k2, p1, p2, k3]   # OpenCV order
    target_m = [0, 0, 1]        # the point the optical axis passes through, world metres
    [[camera]]
    name = "cam1"
    eye_m = [3, 3, 2.2]         # camera centre, world metres (Z up)
"""
from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np

from calibration import Camera, Rig

from ..errors import SimulationError

__all__ = ["rigs_dir", "rig_template_names", "load_rig_template", "intrinsics_from_hfov"]

_KEYS = {"name", "size_wh", "hfov_deg", "distortion", "target_m", "eye_m", "model"}


def rigs_dir() -> Path:
    """The folder of rig templates shipped with the project."""
    return Path(__file__).resolve().parents[2] / "rigs"


def rig_template_names() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in rigs_dir().glob("*.toml")))


def intrinsics_from_hfov(size_wh, hfov_deg: float) -> np.ndarray:
    """(3, 3) K with square pixels and the principal point at the image centre."""
    w, h = size_wh
    f = (w / 2) / np.tan(np.radians(hfov_deg) / 2)
    return np.array([[f, 0, (w - 1) / 2], [0, f, (h - 1) / 2], [0, 0, 1.0]])


def load_rig_template(name_or_path: "str | Path") -> Rig:
    """A rig from a template name (``"studio4"``) or a template file path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = rigs_dir() / f"{name_or_path}.toml"
    if not path.is_file():
        raise SimulationError(
            f"rig template {str(name_or_path)!r} not found; expected a file or one of "
            f"{', '.join(rig_template_names())}")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise SimulationError(f"{path}: not valid TOML ({exc})") from None
    defaults = data.get("defaults", {})
    cams = []
    for i, entry in enumerate(data.get("camera", [])):
        spec = {**defaults, **entry}
        unknown = set(spec) - _KEYS
        missing = {"name", "size_wh", "hfov_deg", "eye_m", "target_m"} - set(spec)
        if unknown or missing:
            raise SimulationError(
                f"{path}: camera {i}: unknown keys {sorted(unknown)}, missing keys "
                f"{sorted(missing)}; expected {sorted(_KEYS)}")
        K = intrinsics_from_hfov(spec["size_wh"], spec["hfov_deg"])
        cams.append(Camera.look_at(spec["name"], tuple(spec["size_wh"]), K,
                                   spec.get("distortion", [0.0] * 5), spec["eye_m"],
                                   spec["target_m"], model=spec.get("model", "pinhole")))
    if not cams:
        raise SimulationError(f"{path}: expected at least one [[camera]] table, found none")
    return Rig(tuple(cams))
