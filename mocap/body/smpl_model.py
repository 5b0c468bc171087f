"""SMPL, SMPL-H and SMPL-X (through ``smplx``) as a :class:`BodyModel`, from the user's files.

The official ``.pkl`` files were pickled in Python 2 with chumpy objects inside, and chumpy no
longer imports on current numpy. :func:`read_model_file` unpickles them without it: every
chumpy object becomes the numpy array it holds (its ``x``). ``.npz`` files load as they are.

Where files are looked for, for ``kind`` in smpl/smplh/smplx and ``gender`` in
neutral/male/female, inside the folder given: ``<kind>/<KIND>_<GENDER>.{pkl,npz}``, then
``<KIND>_<GENDER>.{pkl,npz}``, and for SMPL also the official download names
(``basicmodel_neutral_lbs_10_207_0_v1.1.0.pkl``, ``basicModel_f_lbs_10_207_0_v1.0.0.pkl``...).
SMPL files are Y up, facing +Z, metres.

Keypoints on the mesh (nose, eyes, ears, toes, heels, finger tips) are vertices named by
smplx's ``vertex_ids`` tables, which index SMPL's own mesh; a model with another mesh brings a
``vertex_ids.json`` ({"nose": 332, "leye": 2800, ...}) beside its file.
"""
from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import logging
import pickle
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import torch

from ..errors import SMPL_SOURCE, BodyModelError
from .hand_keypoints import add_hand_landmarks
from .model import BodyModel, KeypointSpec, body_axes

log = logging.getLogger(__name__)

__all__ = ["read_model_file", "find_model_file", "load_smpl", "SMPL_KINDS", "SMPL_FITTED"]

SMPL_KINDS = ("smpl", "smplh", "smplx")
GENDERS = ("neutral", "male", "female")
# The 22 body joints every SMPL variant shares (and the fit moves).
SMPL_FITTED = ("pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
               "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck",
               "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
               "left_elbow", "right_elbow", "left_wrist", "right_wrist")
# Vertex keypoints: canonical name -> key of smplx's ``vertex_ids`` tables.
_VERTEX_KEYS = {"nose": "nose", "left_eye": "leye", "right_eye": "reye", "left_ear": "lear",
                "right_ear": "rear", "left_big_toe": "LBigToe", "left_small_toe": "LSmallToe",
                "left_heel": "LHeel", "right_big_toe": "RBigToe", "right_small_toe": "RSmallToe",
                "right_heel": "RHeel", "left_thumb": "lthumb", "left_index": "lindex",
                "left_pinky": "lpinky", "right_thumb": "rthumb", "right_index": "rindex",
                "right_pinky": "rpinky"}
_OFFICIAL = {"neutral": "basicmodel_neutral_lbs_10_207_0_v*.pkl",
             "female": "basicModel_f_lbs_10_207_0_v*.pkl",
             "male": "basicmodel_m_lbs_10_207_0_v*.pkl"}


class _ChumpyObject:
    """Stands in for a chumpy object while unpickling, keeping its state."""

    def __init__(self, *args, **kwargs) -> None:
        self.state = None

    def __setstate__(self, state) -> None:
        self.state = state


class _NoChumpyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if module.split(".")[0] == "chumpy":
            return _ChumpyObject
        if module.startswith("scipy.sparse."):  # Python 2 era module paths
            import scipy.sparse
            if hasattr(scipy.sparse, name):
                return getattr(scipy.sparse, name)
        return super().find_class(module, name)


def _plain(value, key: str, path: Path):
    """A chumpy stand-in object as the array it holds; sparse matrices dense; the rest as is."""
    if isinstance(value, _ChumpyObject):
        st = value.state
        if isinstance(st, dict) and "x" in st:
            return np.asarray(st["x"])
        raise BodyModelError(f"{path}: key {key!r} holds a chumpy expression, not an array; "
                             f"expected plain arrays (an official SMPL file)")
    if hasattr(value, "toarray"):
        return value.toarray()
    return value


def read_model_file(path: "str | Path") -> dict:
    """The arrays of an SMPL-family model file (``.pkl`` with or without chumpy, or ``.npz``).

    Raises:
        BodyModelError: the file cannot be read.
    """
    path = Path(path)
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=True) as z:
                data = {k: z[k] for k in z.files}
        else:
            with open(path, "rb") as fh:
                data = _NoChumpyUnpickler(fh, encoding="latin1").load()
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, zipfile.BadZipFile,
            AttributeError, ModuleNotFoundError) as exc:
        raise BodyModelError(f"{path}: cannot read the body model file ({exc})") from None
    if not isinstance(data, dict):
        raise BodyModelError(f"{path}: expected a dict of model arrays, found "
                             f"{type(data).__name__}")
    return {k: _plain(v, k, path) for k, v in data.items()}


def find_model_file(model_path: "str | Path", kind: str = "smpl",
                    gender: str = "neutral") -> Path:
    """The model file of ``kind`` and ``gender`` under ``model_path`` (or ``model_path`` itself
    when it is a file).

    Raises:
        BodyModelError: naming the places looked at and where SMPL files come from.
    """
    if kind not in SMPL_KINDS or gender not in GENDERS:
        raise BodyModelError(f"unknown body model {kind!r} / gender {gender!r}; expected one of "
                             f"{SMPL_KINDS} and {GENDERS}")
    root = Path(model_path)
    if root.is_file():
        return root
    stem = f"{kind.upper()}_{gender.upper()}"
    tried = [root / kind / f"{stem}.{ext}" for ext in ("pkl", "npz")]
    tried += [root / f"{stem}.{ext}" for ext in ("pkl", "npz")]
    for cand in tried:
        if cand.is_file():
            return cand
    if kind == "smpl":
        for folder in (root / "smpl", root):
            found = sorted(folder.glob(_OFFICIAL[gender])) if folder.is_dir() else []
            if found:
                return found[-1]
        tried.append(root / _OFFICIAL[gender])
    what = "folder" if root.is_dir() else "path (not found)"
    raise BodyModelError(f"{root}: no {kind.upper()} {gender} model file in this {what}; looked "
                         f"for {', '.join(str(t) for t in tried)}. {SMPL_SOURCE}")


def _smplx_module(path: Path, data: dict, kind: str, gender: str, num_betas: int,
                  vertex_ids: "dict | None"):
    try:
        import smplx
        from smplx.utils import Struct
    except ImportError as exc:
        raise BodyModelError(f"SMPL models need the 'smplx' package ({exc}); install the body "
                             f"extra: pip install 'mocap-studio[body]'") from None
    common = dict(num_betas=num_betas, gender=gender, dtype=torch.float64)
    with contextlib.redirect_stdout(io.StringIO()) as said:   # smplx prints its warnings
        module = _construct(smplx, Struct, path, data, kind, common, vertex_ids)
    if said.getvalue().strip():
        log.debug("smplx: %s", said.getvalue().strip())
    return module


def _construct(smplx, Struct, path: Path, data: dict, kind: str, common: dict,
               vertex_ids: "dict | None"):
    if kind == "smpl":
        return smplx.SMPL(model_path=str(path), data_struct=Struct(**data),
                          vertex_ids=vertex_ids, **common)
    if kind == "smplh":
        return smplx.SMPLH(model_path=str(path), data_struct=Struct(**data), use_pca=False,
                           flat_hand_mean=True, vertex_ids=vertex_ids, **common)
    with tempfile.TemporaryDirectory() as tmp:  # SMPLX reads its file itself: give it an .npz
        npz = Path(tmp) / f"SMPLX_{common['gender'].upper()}.npz"
        np.savez(npz, **data)
        return smplx.SMPLX(model_path=str(npz), ext="npz", use_pca=False, flat_hand_mean=True,
                           **common)


def _joint_names(kind: str, n: int, path: Path) -> tuple[str, ...]:
    from smplx.joint_names import JOINT_NAMES, SMPLH_JOINT_NAMES
    names = {"smpl": tuple(JOINT_NAMES[:22]) + ("left_hand", "right_hand"),
             "smplh": tuple(SMPLH_JOINT_NAMES[:52]), "smplx": tuple(JOINT_NAMES[:55])}[kind]
    if n != len(names):
        raise BodyModelError(f"{path}: a {kind.upper()} model has {len(names)} joints, this file "
                             f"has {n}")
    return names


def _smpl_keypoints(kind: str, names: tuple, V: int, vertex_ids: dict, path: Path) -> dict:
    kp = {n: KeypointSpec.joint(n) for n in SMPL_FITTED}
    hand = "left_hand" if kind == "smpl" else "left_middle1"
    kp["left_hand"] = KeypointSpec.joint(hand)
    kp["right_hand"] = KeypointSpec.joint(hand.replace("left_", "right_"))
    kp["upper_neck"] = KeypointSpec.mean(KeypointSpec.joint("neck"), KeypointSpec.joint("head"))
    for canon, key in _VERTEX_KEYS.items():
        if key not in vertex_ids:
            raise BodyModelError(f"{path}: vertex_ids lacks {key!r} (for {canon}); expected the "
                                 f"keys {sorted(_VERTEX_KEYS.values())}")
        vid = int(vertex_ids[key])
        if not 0 <= vid < V:
            raise BodyModelError(
                f"{path}: vertex id {vid} for {key!r} is outside this model's {V} vertices; "
                f"a model with other vertices needs its own vertex_ids")
        kp[canon] = KeypointSpec.vertex(vid)
    return kp


def _vertex_ids_file(path: Path, root: Path) -> "dict | None":
    """``vertex_ids.json`` next to the model file (or in the folder given), for a model whose
    mesh is not SMPL's: {"nose": 332, "leye": 2800, ...} (smplx's keys)."""
    for folder in (path.parent, root):
        f = folder / "vertex_ids.json"
        if f.is_file():
            try:
                data = json.loads(f.read_text())
            except (OSError, ValueError) as exc:
                raise BodyModelError(f"{f}: not a JSON object of vertex indices ({exc})") from None
            if not isinstance(data, dict):
                raise BodyModelError(f"{f}: expected a JSON object of vertex indices, found "
                                     f"{type(data).__name__}")
            return data
    return None


def load_smpl(model_path: "str | Path", kind: str = "smpl", gender: str = "neutral",
              num_betas: int = 10, vertex_ids: "dict | None" = None) -> BodyModel:
    """An SMPL-family body model from the user's files, through ``smplx``.

    Args:
        model_path: a model file, or a folder holding one (see the module docstring).
        kind: ``smpl``, ``smplh`` or ``smplx``. gender: ``neutral``, ``male`` or ``female``.
        num_betas: shape components used (at most what the file has).
        vertex_ids: keypoint vertex indices (smplx's ``vertex_ids`` keys: ``nose``, ``leye``,
            ``LBigToe``...); default: ``vertex_ids.json`` beside the model file or in
            ``model_path`` when there is one, else smplx's table for the kind. A model with
            another mesh (such as a test model) must bring its own.
    Raises:
        BodyModelError: missing or malformed files, with where SMPL files come from.
    """
    from .regressors import add_face_landmarks
    path = find_model_file(model_path, kind, gender)
    data = read_model_file(path)
    need = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table",
            "f")
    lacking = [k for k in need if k not in data]
    if lacking:
        raise BodyModelError(f"{path}: not an SMPL-family model file: lacks {lacking}; "
                             f"{SMPL_SOURCE}")
    from smplx.vertex_ids import vertex_ids as VERTEX_IDS
    vids = dict(vertex_ids or _vertex_ids_file(path, Path(model_path))
                or VERTEX_IDS["smplx" if kind == "smplx" else "smplh"])
    try:
        module = _smplx_module(path, data, kind, gender, num_betas, vids)
    except (KeyError, AttributeError, AssertionError, ValueError, IndexError,
            RuntimeError) as exc:
        raise BodyModelError(f"{path}: smplx cannot build a {kind.upper()} model from this file "
                             f"({type(exc).__name__}: {exc})") from None
    v = module.v_template.detach().to(torch.float64)
    V = v.shape[0]
    shapedirs = module.shapedirs.detach().to(torch.float64).permute(2, 0, 1).contiguous()
    Jreg = module.J_regressor.detach().to(torch.float64)
    N = Jreg.shape[0]
    posedirs = module.posedirs.detach().to(torch.float64).reshape(-1, V, 3)
    names = _joint_names(kind, N, path)
    parents = module.parents.detach().numpy().astype(np.int64).copy()
    parents[0] = -1
    nb = shapedirs.shape[0]
    body = BodyModel(
        kind=kind, gender=gender, joint_names=names, parents=parents, fitted=SMPL_FITTED,
        canonical={n: n for n in SMPL_FITTED}, template=v, shapedirs=shapedirs,
        joint_template=Jreg @ v, joint_shapedirs=torch.einsum("nv,cvd->cnd", Jreg, shapedirs),
        weights=module.lbs_weights.detach().to(torch.float64),
        faces=np.asarray(module.faces, np.int64), shape_names=tuple(f"beta{i}" for i in range(nb)),
        shape_mean=np.zeros(nb), shape_std=np.ones(nb), shape_lower=np.full(nb, -np.inf),
        shape_upper=np.full(nb, np.inf), keypoints={},
        posedirs=posedirs)
    kp = _smpl_keypoints(kind, names, V, vids, path)
    up = body_axes(body)[:, 2]
    head = names.index("head")
    own = np.flatnonzero(body.weights.numpy().argmax(1) == head)
    if len(own):
        kp["head_top"] = KeypointSpec.vertex(int(own[np.argmax(v.numpy()[own] @ up)]))
    return add_hand_landmarks(add_face_landmarks(dataclasses.replace(body, keypoints=kp)))
