"""Where and how torch runs a fit: the device and the number of CPU threads."""
from __future__ import annotations

import contextlib

import torch

__all__ = ["select_device", "torch_threads"]


def select_device(name: str = "auto") -> torch.device:
    """``auto``: the first CUDA GPU when torch sees one, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@contextlib.contextmanager
def torch_threads(n: int):
    """Run with ``n`` torch CPU threads, then restore the previous count."""
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, int(n)))
    try:
        yield
    finally:
        torch.set_num_threads(before)
