"""A long take fitted in overlapping windows (``[fit] chunk_frames``,
``chunk_overlap_frames``), so that a fit's tensors (keypoints, views, parameters, the
optimiser's history) hold one window's frames whatever the take's length.

The first window is fitted as a whole take is (:func:`mocap.fit.fit_sequence`, every
stage); its shape is the person's and stays fixed in every later window, so the body does
not change between windows. A later window starts from the analytic start of its own frames
(:func:`initial_params`, :func:`initial_pose`, with that shape) and runs one pose stage (the
last pose stage's objective and budget, without the shape: :func:`later_stages`). The later
windows run in two rounds: the even ones (2, 4, ...) from their own frames, then the odd
ones started across both their overlaps from the even ones' solutions (warm start; each
overlap then has one window started from the other, as when the windows run one after the
other). Each round's windows depend on nothing but their own frames and what the round
before gave: they run in forked worker processes, one per CPU (:mod:`mocap.parallel`; on a
GPU, or where processes cannot be forked, one after the other), and the result does not
depend on how many run at once.
Across an overlap the two solutions are blended with a smooth weight (the root and every
joint's rotation along the geodesic between them, the translation linearly), then the joints
and keypoints are posed again window by window.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from calibration.rotations import rotmat_to_rotvec, rotvec_to_rotmat

from ..body.regressors import KeypointLayer, keypoints_forward
from ..parallel import fork_workers, idle_cpus, map_blocks
from .data import prepare_data
from .init import initial_params, initial_pose
from .optimise import fit_sequence
from .options import DEFAULT_STAGES
from .params import FitResult, Views

_SHAPE_TERMS = ("shape_prior", "bone_length")     # terms of the shape alone: constant here

__all__ = ["later_stages", "windows", "blend_weights", "blend_rotations", "fit_chunked"]


def windows(frames: int, chunk: int, overlap: int) -> list[tuple[int, int]]:
    """The ``[start, end)`` frame windows of a take of ``frames``: ``chunk`` frames each,
    consecutive ones overlapping by ``overlap`` frames, the last one shorter (but at least
    ``2 overlap`` frames where a window allows: its overlap grows when fewer are left); one
    window when the take is not longer than ``chunk``."""
    if frames <= chunk:
        return [(0, frames)]
    out = [(0, chunk)]
    while out[-1][1] < frames:
        start = out[-1][1] - overlap
        end = min(start + chunk, frames)
        if end == frames:
            start = max(min(start, end - 2 * overlap), out[-1][0] + 1, end - chunk)
        out.append((start, end))
    return out


def blend_weights(n: int) -> np.ndarray:
    """(n,) the later window's share across an overlap of ``n`` frames: a smoothstep from
    near 0 to near 1 (zero slope at both ends, so no kink in the blended motion)."""
    x = (np.arange(n) + 0.5) / n
    return x * x * (3.0 - 2.0 * x)


def blend_rotations(R0: np.ndarray, R1: np.ndarray, w: np.ndarray) -> np.ndarray:
    """(F, ..., 3, 3) rotations ``w`` (F,) of the way from ``R0`` to ``R1`` along the geodesic
    (slerp: ``R0 exp(w log(R0^T R1))``)."""
    rel = rotmat_to_rotvec(np.swapaxes(R0, -1, -2) @ R1)
    return R0 @ rotvec_to_rotmat(rel * w.reshape((-1,) + (1,) * (rel.ndim - 1)))


def _window_views(views: "Views | None", s: int, e: int, layer: KeypointLayer):
    """The views of frames ``[s, e)`` on the fit's device (None stays None)."""
    if views is None:
        return None
    to = dict(device=layer.device, dtype=layer.dtype)
    return Views(cameras=views.cameras.to(layer.device, layer.dtype),
                 xy=views.xy[:, s:e].to(**to), conf=views.conf[:, s:e].to(**to))


def later_stages(stages) -> tuple:
    """The stages of a later window: one pose stage, the last of those that move the pose,
    with its weights and budget (the first window's pose stages run one after the other on
    the same pose with nearly the same weights; a later window starts from the analytic
    start of its frames, the odd ones from their neighbours' solutions across their
    overlaps, so one stage on the objective they end on does the work:
    ``benchmarks/fit_chunks.py``), the shape and its terms left out (the shape is the first
    window's), the pose started by :func:`_start` rather than by the stage."""
    pose = [st for st in stages if set(st.optimise) - {"betas"} and not st.extended_only]
    if not pose:
        return ()
    last = pose[-1]
    weights = {k: v for k, v in last.weights.items() if k not in _SHAPE_TERMS}
    return (replace(last, name=f"{last.name}_window", weights=weights, init_pose=False,
                    optimise=tuple(n for n in last.optimise if n != "betas")),)


def _start(layer: KeypointLayer, data, betas: np.ndarray, before=None, after=None):
    """Starting parameters of a later window: the analytic start of its frames with the
    shape ``betas``; where given, its first frames ``before`` and its last frames ``after``
    (each ``(R (n, Jb, 3, 3), T (n, 3))``: a neighbouring window's solution across their
    overlap) taken from that solution (warm start)."""
    to = dict(device=layer.device, dtype=layer.dtype)
    params = initial_params(layer, data)
    with torch.no_grad():
        params.betas.copy_(torch.as_tensor(betas, **to))
        initial_pose(layer, data, params)
        F = params.transl.shape[0]
        for part, at in ((before, 0), (after, None)):
            if part is None:
                continue
            R, T = (torch.as_tensor(a, **to) for a in part)
            rows = slice(0, len(T)) if at == 0 else slice(F - len(T), F)
            params.orient_init[rows] = R[:, 0]
            params.global_orient[rows] = 0.0
            params.body_pose[rows] = rotmat_to_rotvec(params.neutral.transpose(-1, -2) @ R[:, 1:])
            params.transl[rows] = T
    return params


def _pose_again(layer: KeypointLayer, betas: np.ndarray, R: np.ndarray, T: np.ndarray,
                chunk: int) -> tuple[np.ndarray, np.ndarray]:
    """Joints (F, Jb, 3) and keypoints (F, K, 3) of rotations ``R`` (F, Jb, 3, 3) and
    translations ``T`` (F, 3), posed ``chunk`` frames at a time."""
    to = dict(device=layer.device, dtype=layer.dtype)
    b = torch.as_tensor(betas, **to)
    joints, kps = [], []
    with torch.no_grad():
        for s in range(0, len(T), chunk):
            j, k, _ = keypoints_forward(layer, b, torch.as_tensor(R[s:s + chunk], **to),
                                        torch.as_tensor(T[s:s + chunk], **to))
            joints.append(j.cpu().double().numpy())
            kps.append(k.cpu().double().numpy())
    return np.concatenate(joints), np.concatenate(kps)


def _append(acc: dict, res: FitResult, s: int, end: int) -> None:
    """Add window ``res`` (frames from ``s``) to the take so far (frames before ``end``),
    blending the overlap ``[s, end)``."""
    n = end - s
    R, T, obs = res.rotations, res.transl, res.observed
    if n > 0:
        w = blend_weights(n)
        R = R.copy()
        T = T.copy()
        R[:n] = blend_rotations(acc["R"][s:end], R[:n], w)
        T[:n] = (1 - w)[:, None] * acc["T"][s:end] + w[:, None] * T[:n]
        obs = obs.copy()
        obs[:n] |= acc["obs"][s:end]
    for key, new in (("R", R), ("T", T), ("obs", obs)):
        acc[key] = np.concatenate([acc[key][:s], new]) if key in acc else new


#: What the later windows share (set before the workers are forked, read by them).
_SHARED: dict = {}


def _later_window(job: tuple) -> FitResult:
    """Fit the later window ``job = (s, e, before, after)`` of :data:`_SHARED`'s take (in a
    worker; ``before``, ``after``: as in :func:`_start`)."""
    s, e, before, after = job
    c = _SHARED
    layer = c["layer"]
    if torch.get_num_threads() != 1 and c["workers"] > 1:
        torch.set_num_threads(1)             # a process per CPU: no threads inside each
    data = prepare_data(layer, c["xyz"][s:e], c["conf"][s:e], c["fps"],
                        _window_views(c["views"], s, e, layer), parts_once=c["parts_once"])
    return fit_sequence(layer, data, later_stages(c["stages"]), extra_weights=c["extra"],
                        iteration_scale=c["iteration_scale"],
                        init=_start(layer, data, c["betas"], before, after))


def _overlap(res: FitResult, rows: slice) -> tuple[np.ndarray, np.ndarray]:
    """A window's solution (rotations, translations) on its frames ``rows``."""
    return res.rotations[rows], res.transl[rows]


def _fit_later_windows(bounds: list, first: FitResult, shared: dict) -> list:
    """The :class:`FitResult` of every window ``bounds`` [(s, e)] after the first
    (``first``), in order, in two rounds: the even windows from their own frames, then the
    odd ones started from the even ones across both their overlaps (each overlap has one
    window warm-started from the other, as when they run one after the other). Each round's
    windows run in forked workers on a CPU (as many as are idle: :func:`idle_cpus`), here on a
    GPU (a forked process cannot use CUDA); the result does not depend on how many run at
    once."""
    cpu = shared["layer"].device.type == "cpu"
    workers = min(fork_workers(len(bounds) // 2), idle_cpus()) if cpu else 1
    out = {0: first}
    _SHARED.clear()
    _SHARED.update(shared, workers=workers)
    try:
        even = range(2, len(bounds), 2)
        for k, res in zip(even, map_blocks(_later_window, [(*bounds[k], None, None)
                                                           for k in even], workers, 1)):
            out[k] = res
        jobs = []
        for k in range(1, len(bounds), 2):
            (s0, e0), (s, e) = bounds[k - 1], bounds[k]
            before = _overlap(out[k - 1], slice(s - s0, e0 - s0))
            after = None
            if k + 1 < len(bounds):
                after = _overlap(out[k + 1], slice(0, e - bounds[k + 1][0]))
            jobs.append((s, e, before, after))
        for k, res in zip(range(1, len(bounds), 2), map_blocks(_later_window, jobs, workers, 1)):
            out[k] = res
    finally:
        _SHARED.clear()
    return [out[k] for k in range(1, len(bounds))]


def fit_chunked(layer: KeypointLayer, xyz: np.ndarray, conf: np.ndarray, fps: float,
                views: "Views | None", chunk: int, overlap: int,
                extra_weights: "dict | None" = None, iteration_scale: float = 1.0,
                stages=DEFAULT_STAGES, parts_once: bool = False) -> FitResult:
    """One person's fit in windows of ``chunk`` frames overlapping by ``overlap``.

    Args:
        layer: the body model in the keypoints' format. xyz: (F, K, 3) world metres, NaN =
            missing; conf: (F, K). views: the person's 2D detections for the whole take
            (on any device: each window's frames are moved to the fit's), or None.
        chunk, overlap: frames per window and shared by consecutive windows
            (``0 < overlap < chunk``). extra_weights, iteration_scale, stages: as in
            :func:`fit_sequence`. parts_once: as in :func:`prepare_data`.
    Returns:
        :class:`FitResult` of the whole take (the report: every window's stages, each with
        its ``window`` index).
    """
    bounds = windows(len(xyz), chunk, overlap)
    s, e = bounds[0]
    data = prepare_data(layer, xyz[s:e], conf[s:e], fps, _window_views(views, s, e, layer),
                        parts_once=parts_once)
    first = fit_sequence(layer, data, stages, extra_weights=extra_weights,
                         iteration_scale=iteration_scale)
    later = _fit_later_windows(bounds, first, dict(
        layer=layer, xyz=xyz, conf=conf, fps=fps, views=views, stages=stages,
        extra=extra_weights, iteration_scale=iteration_scale, parts_once=parts_once,
        betas=first.betas))
    acc: dict = {}
    report: list = []
    end = 0
    for k, ((s, e), res) in enumerate(zip(bounds, [first, *later])):
        report += [{**r, "window": k, "frames": [s, e]} for r in res.report]
        _append(acc, res, s, end)
        end = e
    joints, kps = _pose_again(layer, first.betas, acc["R"], acc["T"], chunk)
    R = acc["R"]
    return FitResult(betas=first.betas, global_orient=rotmat_to_rotvec(R[:, 0]),
                     body_pose=rotmat_to_rotvec(R[:, 1:]), transl=acc["T"], rotations=R,
                     joints=joints, keypoints=kps, observed=acc["obs"], report=report)
