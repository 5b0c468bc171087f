"""Anny (NAVER, Apache-2.0 code, CC0 data, shipped in the ``anny`` wheel) as a :class:`BodyModel`.

Anny stands Z up, metres, facing -Y, in an A-pose; 104 bones, 13,718 vertices; its shape is six
phenotypes in [0, 1] (gender, age, muscle, weight, height, proportions) whose blend shapes are
interpolated piecewise linearly (:func:`mocap.body.model.shape_coefficients`).

Its first construction builds model data from the text targets in the wheel and caches it
(``$ANNY_CACHE_DIR``, default ``<mocap cache>/anny``). Two things make that cheaper here: the
targets are parsed with numpy instead of one ``torch.as_tensor`` per line (the cached files
come out bit-identical; checked for anny 0.6.2), and the build runs in a temporary folder of
which only the final, 51 MB file is kept (instead of about 790 MB of intermediate files). A
file lock keeps parallel processes from building it twice.
"""
from __future__ import annotations

import contextlib
import functools
import gzip
import logging
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

from exporters.atomic import replace_atomically

from ..errors import BodyModelError
from .hand_keypoints import add_hand_landmarks
from .model import BodyModel, KeypointSpec

log = logging.getLogger(__name__)

__all__ = ["anny_cache_dir", "load_anny", "ANNY_FITTED", "ANNY_CANONICAL", "HAND_KNUCKLES"]

#: Anny bones a fit moves (the rest keep their rest pose) and their canonical names.
ANNY_CANONICAL = {
    "root": "pelvis", "upperleg01.L": "left_hip", "lowerleg01.L": "left_knee",
    "foot.L": "left_ankle", "upperleg01.R": "right_hip", "lowerleg01.R": "right_knee",
    "foot.R": "right_ankle", "spine04": "spine1", "spine02": "spine2", "spine01": "spine3",
    "clavicle.L": "left_collar", "upperarm01.L": "left_shoulder",
    "lowerarm01.L": "left_elbow", "wrist.L": "left_wrist", "clavicle.R": "right_collar",
    "upperarm01.R": "right_shoulder", "lowerarm01.R": "right_elbow", "wrist.R": "right_wrist",
    "neck01": "neck", "head": "head"}
ANNY_FITTED = tuple(ANNY_CANONICAL)

#: BlazePose's hand points (``left_pinky``, ``left_index``, ``left_thumb``...) are knuckles,
#: not fingertips: the head of the bone that starts there. Measured on rendered takes
#: (benchmarks/pixels.py): BlazePose's triangulated pinky/index points lie 21-37 mm from the
#: MCP joints (finger5-1, finger2-1) against 85-100 mm from the fingertips, its thumb point
#: 32-40 mm from the thumb's MCP joint (finger1-2) against 53-57 mm from its IP joint and
#: 78-80 mm from its tip; the wrist, for scale, 17-22 mm.
HAND_KNUCKLES = {"thumb": "finger1-2", "index": "finger2-1", "pinky": "finger5-1"}

# Prior over the phenotypes (gender, age, muscle, weight, height, proportions): mean, spread.
# Age 2/3 is Anny's "young" adult anchor (1/3 child, 1 old).
_SHAPE_MEAN = {"gender": 0.5, "age": 0.75, "muscle": 0.5, "weight": 0.5, "height": 0.5,
               "proportions": 0.5}
_SHAPE_STD = {"gender": 0.4, "age": 0.25, "muscle": 0.3, "weight": 0.3, "height": 0.35,
              "proportions": 0.3}


def anny_cache_dir() -> Path:
    """Where Anny's model data is cached: ``$ANNY_CACHE_DIR``, else ``<mocap cache>/anny``."""
    env = os.environ.get("ANNY_CACHE_DIR")
    if env:
        return Path(env)
    from ..datasets import cache_dir
    return cache_dir() / "anny"


def _load_target(filename, vertices_count, world_transformation, dtype):
    """Numpy twin of ``anny.models.full_model.load_blend_shape``: one target file (lines of
    ``index dx dy dz`` in decimetres) as (V, 3) offsets in the model frame; same values."""
    with gzip.open(filename, "rb") as fh:
        rows = np.array(fh.read().split(), dtype=np.float64).reshape(-1, 4)
    ids = rows[:, 0].astype(np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= vertices_count):
        raise BodyModelError(f"{filename}: vertex index out of range [0, {vertices_count})")
    blend_shape = torch.zeros((vertices_count, 3), dtype=dtype)
    blend_shape[torch.from_numpy(ids)] = torch.from_numpy(rows[:, 1:]).to(dtype)
    return world_transformation.apply(blend_shape)


@contextlib.contextmanager
def _fast_targets():
    """Parse Anny's targets with numpy while building (anny 0.6.x, where this was checked to
    give bit-identical cached data); any other version builds the stock way."""
    import anny
    full_model = None
    if str(getattr(anny, "__version__", "")).startswith("0.6."):
        import anny.models.full_model as full_model
    if full_model is None or not hasattr(full_model, "load_blend_shape"):
        yield
        return
    stock = full_model.load_blend_shape
    full_model.load_blend_shape = _load_target
    try:
        yield
    finally:
        full_model.load_blend_shape = stock


@contextlib.contextmanager
def _anny_cache(path: Path):
    import anny.paths
    before = anny.paths.get_anny_cache_path()
    anny.paths.set_anny_cache_path(path)
    try:
        yield
    finally:
        anny.paths.set_anny_cache_path(before)


def _build_anny():
    """``anny.Anny()`` (pure-torch skinning), building its cache once if needed."""
    try:
        import anny
        from filelock import FileLock
    except ImportError as exc:
        raise BodyModelError(f"the Anny body model needs the 'anny' package ({exc}); install "
                             f"the body extra: pip install 'mocap-studio[body]'") from None
    target = anny_cache_dir()
    target.mkdir(parents=True, exist_ok=True)
    from anny.models.model_data import CURRENT_DATA_VERSION
    pattern = f"v{CURRENT_DATA_VERSION}/build_compact_model_data_*.safetensors"
    with FileLock(str(target / ".mocap-build.lock")):
        if any(target.glob(pattern)):
            with _anny_cache(target), _fast_targets():
                return anny.Anny(skinning_method="lbs")
        log.info("building Anny's model data once into %s (about a minute)", target)
        tmp = Path(tempfile.mkdtemp(prefix="build-", dir=target))
        try:
            with _anny_cache(tmp), _fast_targets():
                model = anny.Anny(skinning_method="lbs")
            for f in tmp.glob(pattern):
                dest = target / f.parent.name / f.name
                dest.parent.mkdir(parents=True, exist_ok=True)
                replace_atomically(f, dest)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return model


def _sparse(weights: np.ndarray) -> KeypointSpec:
    nz = np.flatnonzero(weights)
    return KeypointSpec(nz.astype(np.int64), weights[nz].astype(np.float64))


def _anny_keypoints(model, labels: list[str], coco: np.ndarray) -> dict:
    """Canonical keypoint name -> spec: Anny's COCO regressor (17 points, toes and heels)
    plus the points other formats need, built from its joints and vertices."""
    kp = {name: _sparse(coco[i]) for i, name in enumerate(labels)}
    names = list(model.bone_labels)
    V = model.template_vertices.numpy()
    W = model.dense_vertex_bone_weights.numpy()
    kp["neck"] = KeypointSpec.mean(kp["left_shoulder"], kp["right_shoulder"])
    kp["pelvis"] = KeypointSpec.mean(kp["left_hip"], kp["right_hip"])
    kp["upper_neck"] = KeypointSpec.mean(KeypointSpec.joint("neck01"), KeypointSpec.joint("head"))
    kp["head"] = KeypointSpec.joint("head")
    for canon, bone in (("spine1", "spine04"), ("spine2", "spine02"), ("spine3", "spine01")):
        kp[canon] = KeypointSpec.joint(bone)
    for side, s in (("left", "L"), ("right", "R")):
        kp[f"{side}_collar"] = KeypointSpec.joint(f"clavicle.{s}")
        kp[f"{side}_hand"] = KeypointSpec.joint(f"finger3-1.{s}")
        kp[f"{side}_foot"] = KeypointSpec.joint(f"toe3-1.{s}")
        for canon, bone in HAND_KNUCKLES.items():
            kp[f"{side}_{canon}"] = KeypointSpec.joint(f"{bone}.{s}")
    head = names.index("head")
    own = np.flatnonzero(W.argmax(1) == head)
    kp["head_top"] = KeypointSpec.vertex(int(own[np.argmax(V[own, 2])]))
    return kp


@functools.lru_cache(maxsize=1)
def load_anny() -> BodyModel:
    """The Anny body model (cached per process; the first call in a fresh cache builds Anny's
    data, later calls take well under a second)."""
    from .regressors import add_face_landmarks
    model = _build_anny()
    from anny import KeypointsRegressor
    reg = KeypointsRegressor.coco(model)
    coco = reg.regression_weights.detach().numpy()
    names = list(model.bone_labels)
    missing = [b for b in ANNY_FITTED if b not in names]
    if missing:
        raise BodyModelError(f"this anny version lacks bones {missing}; expected anny 0.6")
    fitted = tuple(sorted(ANNY_FITTED, key=names.index))
    labels = list(model.phenotype_labels)
    anchors = {k: model.anchors[k].detach().clone() for k in
               ("age", "gender", "muscle", "weight", "height", "proportions", "cupsize",
                "firmness")}
    body = BodyModel(
        kind="anny", gender="neutral", joint_names=tuple(names),
        parents=np.asarray(model.bone_parents, np.int64), fitted=fitted,
        canonical={b: ANNY_CANONICAL[b] for b in fitted},
        template=model.template_vertices.detach(), shapedirs=model.blendshapes.detach(),
        joint_template=model.template_bone_heads.detach(),
        joint_shapedirs=model.bone_heads_blendshapes.detach(),
        weights=model.dense_vertex_bone_weights.detach(),
        faces=model.faces.detach().numpy().astype(np.int64),
        shape_names=tuple(labels),
        shape_mean=np.array([_SHAPE_MEAN[n] for n in labels]),
        shape_std=np.array([_SHAPE_STD[n] for n in labels]),
        shape_lower=np.zeros(len(labels)), shape_upper=np.ones(len(labels)),
        keypoints=_anny_keypoints(model, reg.labels, coco),
        phenotype={"mask": model.stacked_phenotype_blend_shapes_mask.detach(),
                   "projection": model.phenotype_blendshape_projection.detach(),
                   "anchors": anchors})
    return add_hand_landmarks(add_face_landmarks(body))
