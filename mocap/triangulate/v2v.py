"""Optional learned refinement of the volumetric triangulation (V2V-style, Moon et al. 2018;
as in learnable-triangulation's volumetric model): a small 3D encoder-decoder applied to the
coarse volume as a residual, loaded from weights the user gives (``v2v_weights``); none are
shipped and none are needed.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as tF
from torch import nn

from exporters.atomic import atomic_write

from ..errors import TriangulationError

__all__ = ["V2VRefiner", "save_v2v", "load_v2v"]


class _Res3D(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv3d(cin, cout, 3, padding=1), nn.GroupNorm(min(8, cout), cout), nn.ReLU(True),
            nn.Conv3d(cout, cout, 3, padding=1), nn.GroupNorm(min(8, cout), cout))
        self.skip = nn.Identity() if cin == cout else nn.Conv3d(cin, cout, 1)

    def forward(self, x):
        return torch.relu(self.body(x) + self.skip(x))


class V2VRefiner(nn.Module):
    """A small V2V-style 3D encoder-decoder (two poolings, skip connections) that adds a
    learned residual to the coarse per-joint volume. Holds only its layers.

    Args:
        joints: number of joint channels J. width: channels of the first stage.
    """

    def __init__(self, joints: int, width: int = 32):
        super().__init__()
        self.joints, self.width = int(joints), int(width)
        w = self.width
        self.enc0 = _Res3D(joints, w)
        self.enc1 = _Res3D(w, 2 * w)
        self.mid = _Res3D(2 * w, 2 * w)
        self.up1 = nn.ConvTranspose3d(2 * w, 2 * w, 2, stride=2)
        self.dec1 = _Res3D(4 * w, w)
        self.up0 = nn.ConvTranspose3d(w, w, 2, stride=2)
        self.dec0 = _Res3D(2 * w, w)
        self.out = nn.Conv3d(w, joints, 1)

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        """(B, J, n, n, n) normalised volume -> (B, J, n, n, n) residual (n divisible by 4)."""
        e0 = self.enc0(v)
        e1 = self.enc1(tF.max_pool3d(e0, 2))
        m = self.mid(tF.max_pool3d(e1, 2))
        d1 = self.dec1(torch.cat([self.up1(m), e1], 1))
        d0 = self.dec0(torch.cat([self.up0(d1), e0], 1))
        return self.out(d0)

    def refine(self, vol: torch.Tensor, n: int) -> torch.Tensor:
        """Refine a (B, J, n^3) log-likelihood volume (shifted so each joint's max is 0)."""
        B, J, K = vol.shape
        if J != self.joints or n % 4:
            raise TriangulationError(f"[triangulate] the V2V model is for {self.joints} joints "
                                     f"and grids divisible by 4; found {J} joints, grid {n}")
        v = vol - vol.amax(-1, keepdim=True)
        v = v.reshape(B, J, n, n, n)
        return vol + self.forward(v.to(next(self.parameters()).dtype)).reshape(B, J, K).to(vol.dtype)


def save_v2v(path: "str | os.PathLike", model: V2VRefiner) -> Path:
    """Write a V2V model's weights (with its joint count and width) for :func:`load_v2v`."""
    path = Path(path)
    with atomic_write(path, "wb") as fh:
        torch.save({"kind": "mocap.v2v", "joints": model.joints, "width": model.width,
                    "state_dict": model.state_dict()}, fh)
    return path


def load_v2v(path: "str | os.PathLike", joints: int, device="cpu") -> V2VRefiner:
    """Load V2V weights written by :func:`save_v2v` (tensors only, no code is unpickled).

    Raises:
        TriangulationError: file missing or unreadable, written for another joint count, or
            whose tensors do not fit the model (the first bad key named).
    """
    path = Path(path)
    if not path.is_file():
        raise TriangulationError(f"{path}: V2V weights file not found ([triangulate] v2v_weights)")
    try:
        doc = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # torch raises several unrelated types for bad files
        raise TriangulationError(f"{path}: not a readable torch weights file ({exc})") from None
    if not isinstance(doc, dict) or doc.get("kind") != "mocap.v2v":
        raise TriangulationError(f"{path}: expected V2V weights written by mocap.triangulate.v2v."
                                 f"save_v2v (key 'kind' = 'mocap.v2v')")
    if int(doc["joints"]) != joints:
        raise TriangulationError(f"{path}: V2V weights are for {doc['joints']} joints, the "
                                 f"keypoint format has {joints}")
    model = V2VRefiner(joints, int(doc["width"])).to(device)
    own = model.state_dict()
    for k, v in doc["state_dict"].items():
        if k not in own or own[k].shape != v.shape:
            want = tuple(own[k].shape) if k in own else "no such key"
            raise TriangulationError(f"{path}: V2V tensor {k!r} has shape {tuple(v.shape)}, "
                                     f"expected {want}")
    missing = sorted(set(own) - set(doc["state_dict"]))
    if missing:
        raise TriangulationError(f"{path}: V2V weights lack tensor {missing[0]!r}")
    model.load_state_dict(doc["state_dict"])
    return model.eval()
