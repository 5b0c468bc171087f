"""``.npz`` archives written fast: each array one ``<name>.npy`` member, as
:func:`numpy.savez_compressed` writes them (``np.load`` reads either), deflated at level 1
(fast; bools, integers, strings and NaN-filled blocks shrink about as much as at the default
level), or stored as they are when they are floats that deflate by less than a quarter
(measurement noise, fitted motion: compressing it takes most of the writing time and saves a
few per cent)."""
from __future__ import annotations

import zipfile
import zlib
from typing import IO

import numpy as np

__all__ = ["write_npz", "deflates"]


def write_npz(handle: IO[bytes], arrays: dict) -> None:
    """Write ``arrays`` ({name: array-like}) as an ``.npz`` archive to the binary file
    ``handle`` (open for writing; see the module docstring for the members)."""
    with zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED, compresslevel=1,
                         allowZip64=True) as zf:
        for name, value in arrays.items():
            a = np.asanyarray(value)
            member = f"{name}.npy"
            if not deflates(a):
                member = zipfile.ZipInfo(member, (1980, 1, 1, 0, 0, 0))
                member.compress_type = zipfile.ZIP_STORED
            with zf.open(member, "w", force_zip64=True) as out:
                np.lib.format.write_array(out, a, allow_pickle=True)


def deflates(a: np.ndarray, sample_bytes: int = 1 << 16, pieces: int = 8) -> bool:
    """Whether deflating ``a`` is worth it: anything but a large float array, or one whose
    samples (``pieces`` slices of ``sample_bytes`` spread over it) shrink by more than a
    quarter at level 1."""
    if a.dtype.kind not in "fc" or a.nbytes <= sample_bytes * pieces:
        return True
    raw = np.ascontiguousarray(a).reshape(-1).view(np.uint8)
    step = sample_bytes // a.itemsize * a.itemsize
    starts = np.linspace(0, raw.size - step, pieces).astype(int) // a.itemsize * a.itemsize
    sample = b"".join(raw[s:s + step].tobytes() for s in starts)
    return len(zlib.compress(sample, 1)) < 0.75 * len(sample)
