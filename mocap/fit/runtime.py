"""How torch runs a fit: the number of CPU threads (the device is picked by
:func:`mocap.device.pick_device`)."""
from __future__ import annotations

import contextlib

import torch

__all__ = ["torch_threads"]


@contextlib.contextmanager
def torch_threads(n: int):
    """Run with ``n`` torch CPU threads, then restore the previous count."""
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, int(n)))
    try:
        yield
    finally:
        torch.set_num_threads(before)
