"""The optimiser of a fit: stage by stage (:data:`mocap.fit.options.DEFAULT_STAGES`), L-BFGS
with a strong-Wolfe line search over all frames at once, on unknowns scaled to comparable
curvature (:func:`parameter_scales`), each stage watched by a :class:`Monitor`;
:func:`fit_sequence` runs them all."""
from __future__ import annotations

import logging
import math
import time
from dataclasses import replace

import torch

from calibration.rotations import rotmat_to_rotvec

from ..body.model import body_axes, neutral_pose
from ..body.regressors import KeypointLayer, keypoints_forward, shape_moments
from .anatomy import pose_priors, spine_joints
from .init import initial_params, initial_pose
from .losses import loss_terms
from .options import DEFAULT_STAGES, PARAMETERS, FitOptions, Stage
from .params import BodyParams, FitData, FitResult, root_rotvec, rotations

log = logging.getLogger(__name__)

__all__ = ["Monitor", "parameter_scales", "rotation_scales", "stage_constants", "fit_sequence"]


class Monitor:
    """Watches a stage's loss: stops on convergence (relative decrease below ``tolerance``
    twice in a row) or on a non-finite loss."""

    def __init__(self, tolerance: float, patience: int = 2) -> None:
        self.tolerance = tolerance
        self.patience = patience
        self.history: list[float] = []
        self.calm = 0

    def update(self, loss: float) -> "str | None":
        """Record a loss; returns ``"nan"``, ``"converged"`` or None (go on)."""
        if not math.isfinite(loss):
            return "nan"
        if self.history:
            prev = self.history[-1]
            rel = (prev - loss) / max(abs(prev), 1e-12)
            self.calm = self.calm + 1 if rel < self.tolerance else 0
        self.history.append(loss)
        return "converged" if self.calm >= self.patience else None


def parameter_scales(params: BodyParams, data: FitData, names, layer=None) -> dict:
    """A diagonal preconditioner of the unknowns ``names`` that a stage optimises together:
    {parameter name: scale}; the stage optimises ``z = x / scale`` (names left out: scale 1).

    Every term is a mean over the frames, so a frame's rotations and translation, seen in one
    frame, have a curvature about ``1 / F`` of the shape's, seen in all: L-BFGS then moves
    the shape F times too fast against the rest and spends the stage's iterations on it
    (an under-converged pose, e.g. the elbows of arms reaching down, about 5 degrees off with
    noise-free keypoints). Scaling the shape by ``F^-1/2`` puts both at the same curvature
    (only where both move: alone, a scalar scale changes nothing but L-BFGS's first step).

    With ``layer``, the rotations are scaled too (:func:`rotation_scales`): a joint's
    rotation moves the keypoints it carries by its lever arm, so the root's curvature is
    hundreds of times an elbow's; each is brought to the translation's.
    """
    out = {}
    if "betas" in names and set(names) - {"betas"}:
        out["betas"] = torch.full_like(params.betas, float(data.xyz.shape[0]) ** -0.5)
    if layer is not None and ({"global_orient", "body_pose"} & set(names)):
        root, body = rotation_scales(layer, params, data)
        if "global_orient" in names:
            out["global_orient"] = root
        if "body_pose" in names:
            out["body_pose"] = body
    return out


def rotation_scales(layer: KeypointLayer, params: BodyParams, data: FitData,
                    min_lever_m: float = 0.05) -> tuple[torch.Tensor, torch.Tensor]:
    """Scales of the root's (1, 1) and the other joints' (1, Jb - 1, 1) rotations that bring
    the keypoint term's curvature in each to the translation's.

    A small rotation ``d`` about joint ``j`` moves keypoint ``k`` by about ``d f_kj r_kj``
    (``r_kj``: its distance from the joint in the neutral pose, ``f_kj``: the share of its
    skinning the joint carries), so the curvature is ``sum_k w_k (f_kj r_kj)^2`` against the
    translation's ``sum_k w_k`` (``w_k``: mean confidence). Levers below ``min_lever_m``
    (joints that carry no keypoint) count as that, so that only the priors hold them.
    """
    with torch.no_grad():
        eye = torch.eye(3, dtype=layer.dtype, device=layer.device)[None]
        R = torch.cat([eye, params.neutral], 0)[None]
        zero = torch.zeros(1, 3, dtype=layer.dtype, device=layer.device)
        pos, kp, _ = keypoints_forward(layer, params.betas, R, zero)
        pos, kp = pos[0], kp[0]                                         # (Jb, 3), (K, 3)
        Jb = len(layer.parents)
        sub = torch.eye(Jb, dtype=layer.dtype, device=layer.device)    # sub[j', j]: j' under j
        for j in range(Jb - 1, 0, -1):                                  # children after parents
            sub[:, layer.parents[j]] += sub[:, j]
        frac = (layer.mass @ sub.clamp(max=1.0)).clamp(0.0, 1.0)        # (K, Jb)
        lever = torch.linalg.norm(kp[:, None] - pos[None], dim=-1)      # (K, Jb)
        w = data.weight.mean(0)                                         # (K,)
        wt = w.sum().clamp_min(1e-9)
        curv = (w[:, None] * (frac * lever) ** 2).sum(0)
        curv = curv.clamp_min(wt * min_lever_m ** 2)
        scale = torch.sqrt(wt / curv)
    return scale[:1].reshape(1, 1), scale[1:].reshape(1, -1, 1)


def _run_stage(layer, params: BodyParams, data: FitData, consts: dict, stage: Stage,
               opts: FitOptions, iteration_scale: float) -> dict:
    """Optimise one stage in place (over the unknowns scaled by :func:`parameter_scales`);
    returns its report."""
    names = [n for n in PARAMETERS if n in stage.optimise]
    for n in PARAMETERS:
        getattr(params, n).requires_grad_(False)
    c = {**consts, "torso_only": stage.torso_only, "extended_only": stage.extended_only}
    if "betas" not in names:                 # the shape is fixed: its moments once, not per step
        with torch.no_grad():
            c["moments"] = shape_moments(layer, params.betas)
    weights = {k: float(v) for k, v in stage.weights.items() if v}
    scales = parameter_scales(params, data, names, layer)
    scales = {n: scales.get(n, torch.ones((), device=layer.device, dtype=layer.dtype))
              for n in names}
    z = {n: (getattr(params, n) / scales[n]).detach().requires_grad_(True) for n in names}
    opt = torch.optim.LBFGS(list(z.values()), lr=1.0, max_iter=opts.inner_iterations,
                            history_size=20, line_search_fn="strong_wolfe",
                            tolerance_grad=1e-9, tolerance_change=1e-12)

    def current() -> BodyParams:
        return replace(params, **{n: z[n] * scales[n] for n in names})

    evaluations = [0]

    def closure():
        evaluations[0] += 1
        opt.zero_grad()
        terms = loss_terms(layer, current(), data, c, weights)
        loss = sum(weights[k] * v for k, v in terms.items())
        loss.backward()
        return loss

    budget = max(1, int(round(stage.max_iterations * iteration_scale)))
    monitor = Monitor(opts.tolerance)
    best = {n: t.detach().clone() for n, t in z.items()}
    stopped, done, t0 = "max_iterations", 0, time.perf_counter()
    while done < budget:
        loss = float(opt.step(closure).detach())
        done += opts.inner_iterations
        verdict = monitor.update(loss)
        if verdict == "nan":
            with torch.no_grad():
                for n in names:
                    z[n].copy_(best[n])
            stopped = "nan"
            log.warning("fit stage %s: the loss became %s; kept the last finite parameters",
                        stage.name, loss)
            break
        best = {n: t.detach().clone() for n, t in z.items()}
        if verdict == "converged":
            stopped = "converged"
            break
    with torch.no_grad():
        for n in names:
            getattr(params, n).copy_(z[n] * scales[n])
        terms = loss_terms(layer, params, data, c, {k: 1.0 for k in weights})
    report = {"stage": stage.name, "iterations": min(done, budget), "stopped": stopped,
              "evaluations": evaluations[0], "seconds": round(time.perf_counter() - t0, 3),
              "history": [round(h, 4) for h in monitor.history],
              "losses": {k: float(v) for k, v in terms.items()}}
    log.info("fit stage %-12s %4d iterations (%s, %.2f s): %s", stage.name,
             report["iterations"], stopped, report["seconds"],
             ", ".join(f"{k} {v:.4g}" for k, v in report["losses"].items()))
    return report


def stage_constants(layer: KeypointLayer, opts: FitOptions) -> dict:
    model = layer.model
    frames, lower, upper, sigma = pose_priors(model)
    to = dict(device=layer.device, dtype=layer.dtype)
    spine = [j - 1 for j in spine_joints(model)]
    return {"opts": opts, "frames": torch.as_tensor(frames, **to),
            "forward": torch.as_tensor(body_axes(model)[:, 0], **to),
            "spine": torch.as_tensor(spine, dtype=torch.long, device=layer.device),
            "spine_flexion": torch.as_tensor(frames[spine][:, :, 0], **to).reshape(-1, 3),
            "mean": torch.as_tensor(neutral_pose(model)[1:], **to),
            "lower": torch.as_tensor(lower, **to), "upper": torch.as_tensor(upper, **to),
            "sigma": torch.as_tensor(sigma, **to),
            "shape": tuple(torch.as_tensor(a, **to) for a in (
                model.shape_mean, model.shape_std, model.shape_lower, model.shape_upper))}


def fit_sequence(layer: KeypointLayer, data: FitData, stages=DEFAULT_STAGES,
                 options: FitOptions = FitOptions(), extra_weights: "dict | None" = None,
                 iteration_scale: float = 1.0, init: "BodyParams | None" = None) -> FitResult:
    """Fit one person's whole sequence.

    Args:
        layer: the body model reduced to the data's keypoint format (its device and dtype
            are the fit's). data: from :func:`prepare_data`.
        stages: the stages, in order. extra_weights: loss weights added to every stage that
            fits keypoints (e.g. ``{"reprojection": 0.5, "floor": 1.0}``; reprojection only
            to the stages whose ``reprojection`` flag is set).
            iteration_scale: multiplies every stage's iteration budget. init: starting
            parameters (default :func:`initial_params`).
    Returns:
        :class:`FitResult`.
    """
    params = init.copy() if init is not None else initial_params(layer, data)
    consts = stage_constants(layer, options)
    report = []
    for stage in stages:
        if extra_weights and stage.weights.get("keypoints"):
            extra = {k: w for k, w in extra_weights.items()
                     if k != "reprojection" or stage.reprojection}
            stage = replace(stage, weights={**stage.weights, **extra})
        if stage.init_pose:
            initial_pose(layer, data, params)
        report.append(_run_stage(layer, params, data, consts, stage, options, iteration_scale))
    with torch.no_grad():
        R = rotations(params)
        joints, kp, _ = keypoints_forward(layer, params.betas, R, params.transl)
        root = root_rotvec(params)

    def np64(t):
        return t.detach().cpu().double().numpy()

    return FitResult(betas=np64(params.betas), global_orient=np64(root),
                     body_pose=np64(rotmat_to_rotvec(R[:, 1:])), transl=np64(params.transl),
                     rotations=np64(R), joints=np64(joints), keypoints=np64(kp),
                     observed=np64((data.weight > 0).any(1)).astype(bool), report=report)
