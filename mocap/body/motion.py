"""A fitted body over time, its file (``body.npz``, the AMASS layout), its meshes (PLY, OBJ),
and the bridge to :mod:`exporters` (``Skeleton`` + ``Motion``).

``body.npz`` holds, for one person:

=================== ================ =====================================================
key                 shape            meaning
=================== ================ =====================================================
poses               (F, 3 N) float   axis-angle local rotations of all N joints of the
                                     model's tree (root first: the global orientation),
                                     radians, rest-frame axes; joints not fitted are 0
trans               (F, 3) float     metres; the posed root joint is at J_root + trans
betas               (B,) float       shape (SMPL: PCA coefficients; Anny: phenotypes)
mocap_framerate     ()  float        frames per second
gender              ()  str          neutral / male / female
surface_model_type  ()  str          anny / smpl / smplh / smplx
joints              (F, Jb, 3)       world positions of the fitted joints, metres
keypoints           (F, K, 3)        the input keypoint format's points on the body, metres
joint_names         (N,) str         order of ``poses``; fitted_joints (Jb,): order of joints
keypoint_format     ()  str          format of ``keypoints``; keypoint_names (K,)
shape_names         (B,) str         names of ``betas``
observed            (F,) bool        frames with at least one keypoint observation (others
                                     are bridged by the temporal prior)
=================== ================ =====================================================

The world is Z up, metres (the body model's rest frame is turned into it by the root
rotation, as in AMASS).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from calibration.rotations import rotvec_to_rotmat
from exporters.atomic import atomic_write

from ..types import load_npz, save_npz
from ..errors import BodyModelError
from ..settings import MeshFiles, choices
from .model import BodyModel, posed_vertices, skeleton_of

__all__ = ["BodyMotion", "fitted_rotations", "to_exporters", "write_ply", "read_ply",
           "write_obj", "read_obj", "write_meshes", "MESH_FORMATS"]

MESH_FORMATS = tuple(kind for kind in choices(MeshFiles) if kind)


@dataclass(frozen=True, eq=False)
class BodyMotion:
    """One person's fitted body (see the module docstring for the fields' meaning)."""

    surface_model_type: str
    gender: str
    joint_names: tuple[str, ...]
    fitted_joints: tuple[str, ...]
    shape_names: tuple[str, ...]
    betas: np.ndarray
    poses: np.ndarray
    trans: np.ndarray
    fps: float
    joints: np.ndarray
    keypoints: np.ndarray
    keypoint_format: str
    keypoint_names: tuple[str, ...]
    observed: np.ndarray

    def __post_init__(self) -> None:
        F, N = self.poses.shape[0], len(self.joint_names)
        Jb, K = len(self.fitted_joints), len(self.keypoint_names)
        for name, arr, want in (("poses", self.poses, (F, N, 3)), ("trans", self.trans, (F, 3)),
                                ("betas", self.betas, (len(self.shape_names),)),
                                ("joints", self.joints, (F, Jb, 3)),
                                ("keypoints", self.keypoints, (F, K, 3)),
                                ("observed", self.observed, (F,))):
            if np.shape(arr) != want:
                raise BodyModelError(f"BodyMotion: {name} must have shape {want}, found "
                                     f"{np.shape(arr)}")
        if not np.isfinite(self.fps) or self.fps <= 0:
            raise BodyModelError(f"BodyMotion: fps must be positive, found {self.fps}")

    @property
    def num_frames(self) -> int:
        return int(self.poses.shape[0])

    def save(self, path: "str | os.PathLike") -> Path:
        """Write ``body.npz`` atomically."""
        return save_npz(
            path, poses=self.poses.reshape(self.num_frames, -1), trans=self.trans,
            betas=self.betas, mocap_framerate=np.array(self.fps),
            gender=np.array(self.gender), surface_model_type=np.array(self.surface_model_type),
            joints=self.joints, keypoints=self.keypoints,
            joint_names=np.array(self.joint_names), fitted_joints=np.array(self.fitted_joints),
            shape_names=np.array(self.shape_names), keypoint_format=np.array(self.keypoint_format),
            keypoint_names=np.array(self.keypoint_names), observed=self.observed)

    @classmethod
    def load(cls, path: "str | os.PathLike") -> "BodyMotion":
        keys = ("poses", "trans", "betas", "mocap_framerate", "gender", "surface_model_type",
                "joints", "keypoints", "joint_names", "fitted_joints", "shape_names",
                "keypoint_format", "keypoint_names", "observed")
        d = load_npz(path, keys, "body")
        names = tuple(d["joint_names"].tolist())
        try:
            return cls(surface_model_type=str(d["surface_model_type"]), gender=str(d["gender"]),
                       joint_names=names, fitted_joints=tuple(d["fitted_joints"].tolist()),
                       shape_names=tuple(d["shape_names"].tolist()),
                       betas=d["betas"].astype(np.float64),
                       poses=d["poses"].astype(np.float64).reshape(len(d["poses"]), -1, 3),
                       trans=d["trans"].astype(np.float64), fps=float(d["mocap_framerate"]),
                       joints=d["joints"].astype(np.float64),
                       keypoints=d["keypoints"].astype(np.float64),
                       keypoint_format=str(d["keypoint_format"]),
                       keypoint_names=tuple(d["keypoint_names"].tolist()),
                       observed=d["observed"].astype(bool))
        except BodyModelError as exc:
            raise BodyModelError(f"{path}: {exc}") from None


def fitted_rotations(motion: BodyMotion) -> np.ndarray:
    """(F, Jb, 3, 3) local rotation matrices of the fitted joints (root: global orientation)."""
    idx = [motion.joint_names.index(n) for n in motion.fitted_joints]
    return rotvec_to_rotmat(np.asarray(motion.poses[:, idx], dtype=np.float64))


def _check_model(model: BodyModel, motion: BodyMotion) -> None:
    if model.kind != motion.surface_model_type or model.fitted != motion.fitted_joints:
        raise BodyModelError(f"a {motion.surface_model_type} motion cannot drive a {model.kind} "
                             f"model with joints {model.fitted[:3]}...")


def to_exporters(model: BodyModel, motion: BodyMotion, full: bool = False):
    """``exporters.Skeleton`` and ``exporters.Motion`` of a fitted body.

    The skeleton is the fitted joints (``full``: every joint of the model's tree, the others
    at identity) at the person's rest pose, offsets in the model's rest frame; the motion's
    root rotation turns that frame into the Z-up world, ``root_translation`` is the posed root
    joint. ``exporters.forward_kinematics`` of the pair gives ``motion.joints``.
    """
    from exporters import Motion, Skeleton
    _check_model(model, motion)
    sk = skeleton_of(model, motion.betas, full=full)
    offsets = sk.rest_positions.copy()
    offsets[1:] -= sk.rest_positions[sk.parents[1:]]
    R = fitted_rotations(motion)
    if full:
        full_R = np.tile(np.eye(3), (motion.num_frames, len(model.joint_names), 1, 1))
        full_R[:, model.fitted_index] = R
        R = full_R
    root = sk.rest_positions[0] + motion.trans
    return (Skeleton(sk.joint_names, sk.parents, offsets),
            Motion(R, root, motion.fps))


def write_ply(path: "str | os.PathLike", vertices: np.ndarray, faces: np.ndarray) -> Path:
    """Binary little-endian PLY: float32 vertices (V, 3) metres, int32 triangles (T, 3)."""
    v = np.ascontiguousarray(vertices, "<f4")
    f = np.asarray(faces)
    header = (f"ply\nformat binary_little_endian 1.0\ncomment mocap body mesh, metres, Z up\n"
              f"element vertex {len(v)}\nproperty float x\nproperty float y\nproperty float z\n"
              f"element face {len(f)}\nproperty list uchar int vertex_indices\nend_header\n")
    tri = np.empty(len(f), dtype=[("n", "u1"), ("i", "<i4", (3,))])
    tri["n"] = 3
    tri["i"] = f
    path = Path(path)
    with atomic_write(path, "wb") as fh:
        fh.write(header.encode("ascii"))
        fh.write(v.tobytes())
        fh.write(tri.tobytes())
    return path


def read_ply(path: "str | os.PathLike") -> tuple[np.ndarray, np.ndarray]:
    """Read what :func:`write_ply` writes: (V, 3) float64 vertices, (T, 3) int64 triangles."""
    data = Path(path).read_bytes()
    end = data.find(b"end_header\n")
    if not data.startswith(b"ply\n") or end < 0:
        raise BodyModelError(f"{path}: not a PLY file")
    head = data[:end].decode("ascii").splitlines()
    if "format binary_little_endian 1.0" not in head:
        raise BodyModelError(f"{path}: expected binary_little_endian PLY, found {head[1]!r}")
    counts = {ln.split()[1]: int(ln.split()[2]) for ln in head if ln.startswith("element")}
    nv, nf = counts.get("vertex", 0), counts.get("face", 0)
    body = data[end + len(b"end_header\n"):]
    if len(body) != 12 * nv + 13 * nf:
        raise BodyModelError(f"{path}: expected {12 * nv + 13 * nf} bytes of data for {nv} "
                             f"vertices and {nf} triangles, found {len(body)}")
    v = np.frombuffer(body[:12 * nv], "<f4").reshape(nv, 3).astype(np.float64)
    tri = np.frombuffer(body[12 * nv:], dtype=[("n", "u1"), ("i", "<i4", (3,))])
    if nf and not (tri["n"] == 3).all():
        raise BodyModelError(f"{path}: expected triangles only")
    return v, tri["i"].astype(np.int64)


def write_obj(path: "str | os.PathLike", vertices: np.ndarray, faces: np.ndarray) -> Path:
    """Wavefront OBJ (text): vertices in metres (6 decimals), 1-based triangles."""
    path = Path(path)
    lines = ["# mocap body mesh, metres, Z up"]
    lines += [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in np.asarray(vertices)]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in np.asarray(faces)]
    with atomic_write(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    return path


def read_obj(path: "str | os.PathLike") -> tuple[np.ndarray, np.ndarray]:
    """Vertices (V, 3) and triangles (T, 3), 0-based, of an OBJ file (``v`` and ``f`` lines;
    ``f a/b/c`` references keep the vertex index)."""
    verts, faces = [], []
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "v":
            verts.append([float(x) for x in parts[1:4]])
        elif parts[0] == "f":
            idx = [int(p.split("/")[0]) - 1 for p in parts[1:]]
            if len(idx) != 3:
                raise BodyModelError(f"{path}:{n}: expected a triangle, found {len(idx)} "
                                     f"vertices")
            faces.append(idx)
    return np.array(verts, float).reshape(-1, 3), np.array(faces, np.int64).reshape(-1, 3)


def write_meshes(folder: "str | os.PathLike", model: BodyModel, motion: BodyMotion,
                 fmt: str = "ply", every: int = 1, chunk: int = 64) -> list[Path]:
    """One mesh file per frame (``frame_000000.ply``...) of every ``every``-th frame, world
    frame, metres. Returns the paths written."""
    if fmt not in MESH_FORMATS:
        raise BodyModelError(f"mesh format {fmt!r}; expected one of {MESH_FORMATS}")
    _check_model(model, motion)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    frames = np.arange(0, motion.num_frames, max(1, int(every)))
    R = torch.as_tensor(fitted_rotations(motion))
    T = torch.as_tensor(motion.trans)
    betas = torch.as_tensor(motion.betas)
    writer = write_ply if fmt == "ply" else write_obj
    out = []
    for s in range(0, len(frames), chunk):
        sel = torch.as_tensor(frames[s:s + chunk])
        with torch.no_grad():
            verts = posed_vertices(model, betas, R[sel], T[sel]).numpy()
        for f, v in zip(frames[s:s + chunk], verts):
            out.append(writer(folder / f"frame_{f:06d}.{fmt}", v, model.faces))
    return out
