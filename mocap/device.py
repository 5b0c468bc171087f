"""The torch device the torch stages run on (triangulation's torch backend, the volumetric
method, the fit): ``"auto"`` is the GPU when torch sees one, else the CPU.

torch is imported inside :func:`pick_device` only, so importing this module (and ``mocap
--help``) stays light.
"""
from __future__ import annotations

from .errors import SettingsError

__all__ = ["pick_device"]


def pick_device(name: str = "auto", error: type[Exception] = SettingsError,
                key: str = "device"):
    """A ``torch.device``: ``"auto"`` takes the first CUDA GPU when torch sees one, else the
    CPU; any other name (``"cpu"``, ``"cuda"``, ``"cuda:1"``...) is that device.

    Args:
        name: the device setting.
        error: the error class raised for a name torch does not know (the stage's own, e.g.
            :class:`mocap.errors.TriangulationError`).
        key: how the setting is named in that error's message (e.g. ``"[fit] device"``).

    Raises:
        ``error``: ``name`` is not a torch device.
    """
    import torch
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(name)
    except RuntimeError as exc:
        raise error(f"{key} {name!r} is not a torch device ({exc}); expected 'auto', 'cpu' "
                    f"or 'cuda[:N]'") from None
