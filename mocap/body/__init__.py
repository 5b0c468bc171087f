"""Body models behind one interface, and what a fit of one produces.

- :func:`load_body_model`: ``"anny"`` (the default: Apache-2.0 code and CC0 data in the
  ``anny`` wheel, no licence to accept) or ``"smpl"``/``"smplh"``/``"smplx"`` from the user's
  model files through ``smplx`` (official ``.pkl`` files load without chumpy).
- :class:`BodyModel` holds the buffers; :mod:`mocap.body.model` has the pure functions
  (shape, skinning) and states the conventions; :mod:`mocap.body.kinematics` the forward
  kinematics, for numpy arrays and torch tensors alike.
- :func:`keypoint_layer`: for a keypoint format, the reduced model that places just those
  keypoints (:func:`keypoints_forward`), which is what the fitter (:mod:`mocap.fit`) poses.
- :class:`BodyMotion`: a fitted person, saved as ``body.npz`` in the AMASS layout; meshes per
  frame as PLY/OBJ (:func:`write_meshes`).
- For exporters: :func:`skeleton_of` (joint names, parents, rest joint positions) and
  :func:`fitted_rotations` (per-frame local rotations), or :func:`to_exporters` for a ready
  ``exporters.Skeleton`` + ``exporters.Motion``.
"""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import SMPL_SOURCE, BodyModelError, FitError
from ..settings import BodyKind, choices

if TYPE_CHECKING:
    from .model import (BodyModel, BodySkeleton, KeypointSpec, anatomical_frames, body_axes,
                        posed_vertices, rest_height, shape_coefficients, skeleton_of)
    from .motion import (MESH_FORMATS, BodyMotion, fitted_rotations, read_obj, read_ply,
                         to_exporters, write_meshes, write_obj, write_ply)
    from .regressors import KeypointLayer, keypoint_layer, keypoints_forward

__all__ = ["BODY_KINDS", "BodyModel", "BodyModelError", "BodyMotion", "BodySkeleton",
           "FitError", "KeypointLayer", "KeypointSpec", "MESH_FORMATS", "SMPL_SOURCE",
           "anatomical_frames", "body_axes", "fitted_rotations", "keypoint_layer",
           "keypoints_forward", "load_body_model", "posed_vertices", "read_obj", "read_ply",
           "rest_height", "shape_coefficients", "skeleton_of", "to_exporters", "write_meshes",
           "write_obj", "write_ply"]

#: The names re-exported from the submodules that import torch, by submodule: loaded on first
#: access (module ``__getattr__``), so that importing ``mocap.body`` (or its numpy-only
#: modules: :mod:`.kinematics`, :mod:`.lumbopelvic`) stays free of torch.
_LAZY = {
    "model": ("BodyModel", "BodySkeleton", "KeypointSpec", "anatomical_frames", "body_axes",
              "posed_vertices", "rest_height", "shape_coefficients", "skeleton_of"),
    "motion": ("MESH_FORMATS", "BodyMotion", "fitted_rotations", "read_obj", "read_ply",
               "to_exporters", "write_meshes", "write_obj", "write_ply"),
    "regressors": ("KeypointLayer", "keypoint_layer", "keypoints_forward"),
}
_HOME = {name: module for module, names in _LAZY.items() for name in names}


def __getattr__(name: str):
    """``from mocap.body import X`` for the names of :data:`_LAZY`: imports their submodule."""
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOME))


BODY_KINDS = choices(BodyKind)


def load_body_model(kind: str = "anny", model_path: "str | Path | None" = None,
                    gender: str = "neutral", num_betas: int = 10,
                    vertex_ids: "dict | None" = None) -> BodyModel:
    """A body model.

    Args:
        kind: ``anny`` (needs no files), ``smpl``, ``smplh`` or ``smplx`` (need
            ``model_path``: a model file or a folder holding one, see
            :mod:`mocap.body.smpl_model`).
        gender, num_betas, vertex_ids: SMPL family only (see
            :func:`mocap.body.smpl_model.load_smpl`).
    Raises:
        BodyModelError: unknown kind, or SMPL files missing (saying where they come from).
    """
    if kind == "anny":
        from .anny_model import load_anny
        return load_anny()
    if kind not in BODY_KINDS:
        raise BodyModelError(f"unknown body model {kind!r}; expected one of {BODY_KINDS}")
    if model_path is None:
        raise BodyModelError(f"the {kind.upper()} body model needs --model-path (a folder with "
                             f"the model files). {SMPL_SOURCE}")
    from .smpl_model import load_smpl
    return load_smpl(model_path, kind, gender, num_betas, vertex_ids)
