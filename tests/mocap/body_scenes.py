"""Synthetic scenes for the body-model and fitting tests.

``synthetic_smpl`` builds a small SMPL-format model (never the licensed files): SMPL's 24-joint
tree in SMPL's frame (Y up, facing +Z, T-pose), a mesh of rings around every joint and along
every bone, a J_regressor that averages each joint's ring (so it regresses the joint exactly),
shape directions (overall scale, leg length, arm length, small random ones), small random
pose correctives, and the vertices smplx's keypoint tables point at (nose, eyes, ears, toes,
heels, finger tips) given as this model's own ``vertex_ids``. ``chumpy_pickle`` writes it the
way the official files are written: v_template, shapedirs and weights as chumpy objects,
J_regressor as a scipy sparse matrix, pickled by protocol 2.
"""
from __future__ import annotations

import functools
import pickle
import sys
import types

import numpy as np
import scipy.sparse

SMPL_PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20,
                21]
# Rest joints (metres, Y up, facing +Z, left = +X), close to SMPL's mean shape.
_LEFT = {0: (0.0, 0.0, 0.0), 1: (0.07, -0.09, -0.01), 3: (0.0, 0.11, -0.02),
         4: (0.11, -0.48, 0.0), 6: (0.0, 0.25, 0.0), 7: (0.09, -0.88, -0.04),
         9: (0.0, 0.31, 0.02), 10: (0.11, -0.94, 0.08), 12: (0.0, 0.52, 0.0),
         13: (0.08, 0.42, 0.0), 15: (0.0, 0.6, 0.04), 16: (0.18, 0.45, -0.01),
         18: (0.44, 0.43, -0.02), 20: (0.69, 0.44, -0.01), 22: (0.77, 0.43, -0.01)}
_RIGHT_OF = {2: 1, 5: 4, 8: 7, 11: 10, 14: 13, 17: 16, 19: 18, 21: 20, 23: 22}


def smpl_joints() -> np.ndarray:
    """(24, 3) rest joints of the synthetic model."""
    J = np.zeros((24, 3))
    for j, p in _LEFT.items():
        J[j] = p
    for r, left in _RIGHT_OF.items():
        J[r] = J[left] * np.array([-1.0, 1.0, 1.0])
    return J


def _ring(centre, axis, radius, n=8):
    axis = axis / np.linalg.norm(axis)
    a = np.cross(axis, [0.0, 0.0, 1.0] if abs(axis[2]) < 0.9 else [1.0, 0.0, 0.0])
    a /= np.linalg.norm(a)
    b = np.cross(axis, a)
    ang = np.arange(n) * 2 * np.pi / n
    return centre + radius * (np.cos(ang)[:, None] * a + np.sin(ang)[:, None] * b)


@functools.lru_cache(maxsize=1)
def synthetic_smpl(seed: int = 0) -> tuple[dict, dict]:
    """(model arrays as in an SMPL .pkl, vertex_ids for smplx's keys)."""
    rng = np.random.default_rng(seed)
    J = smpl_joints()
    children = {j: [c for c, p in enumerate(SMPL_PARENTS) if p == j] for j in range(24)}
    verts, weights, faces, joint_ring = [], [], [], {}

    def add(points, w):
        start = len(verts)
        verts.extend(points)
        weights.extend([w] * len(points))
        return list(range(start, start + len(points)))

    for j in range(24):
        p = SMPL_PARENTS[j]
        axis = (J[children[j][0]] - J[j]) if children[j] else (J[j] - J[p])
        w = np.zeros(24)
        if p < 0:
            w[j] = 1.0
        else:
            w[j], w[p] = 0.5, 0.5
        joint_ring[j] = add(_ring(J[j], axis, 0.04), w)
    for j in range(24):
        for c in children[j]:
            prev = joint_ring[j]
            w = np.zeros(24)
            w[j] = 1.0
            for t in (0.25, 0.5, 0.75):
                ring = add(_ring(J[j] + t * (J[c] - J[j]), J[c] - J[j], 0.05), w)
                for k in range(8):
                    a, b, c2, d = prev[k], prev[(k + 1) % 8], ring[(k + 1) % 8], ring[k]
                    faces += [(a, b, c2), (a, c2, d)]
                prev = ring
    head, hand_l, hand_r, foot_l, foot_r = J[15], J[22], J[23], J[10], J[11]
    spots = {
        "nose": (15, head + (0.0, 0.02, 0.1)), "leye": (15, head + (0.03, 0.05, 0.08)),
        "reye": (15, head + (-0.03, 0.05, 0.08)), "lear": (15, head + (0.075, 0.03, 0.0)),
        "rear": (15, head + (-0.075, 0.03, 0.0)),
        "LBigToe": (10, foot_l + (0.0, -0.03, 0.1)),
        "LSmallToe": (10, foot_l + (0.05, -0.03, 0.08)),
        "LHeel": (7, J[7] + (0.0, -0.07, -0.06)),
        "RBigToe": (11, foot_r + (0.0, -0.03, 0.1)),
        "RSmallToe": (11, foot_r + (-0.05, -0.03, 0.08)),
        "RHeel": (8, J[8] + (0.0, -0.07, -0.06)),
        "lthumb": (20, hand_l + (0.0, 0.0, 0.07)), "lindex": (22, hand_l + (0.08, 0.0, 0.03)),
        "lmiddle": (22, hand_l + (0.09, 0.0, 0.0)), "lring": (22, hand_l + (0.085, 0.0, -0.02)),
        "lpinky": (22, hand_l + (0.07, 0.0, -0.04)),
        "rthumb": (21, hand_r + (0.0, 0.0, 0.07)), "rindex": (23, hand_r + (-0.08, 0.0, 0.03)),
        "rmiddle": (23, hand_r + (-0.09, 0.0, 0.0)), "rring": (23, hand_r + (-0.085, 0.0, -0.02)),
        "rpinky": (23, hand_r + (-0.07, 0.0, -0.04)),
    }
    vertex_ids = {}
    for key, (j, pos) in spots.items():
        w = np.zeros(24)
        w[j] = 1.0
        vertex_ids[key] = add([np.asarray(pos)], w)[0]
    v = np.asarray(verts)
    V = len(v)
    Jreg = np.zeros((24, V))
    for j, ring in joint_ring.items():
        Jreg[j, ring] = 1.0 / len(ring)
    shapedirs = np.zeros((V, 3, 10))
    shapedirs[:, :, 0] = 0.08 * v                                   # overall size
    legs = v[:, 1] < -0.05
    shapedirs[legs, 1, 1] = 0.12 * (v[legs, 1] + 0.05)              # leg length
    arms = np.abs(v[:, 0]) > 0.16
    shapedirs[arms, 0, 2] = 0.12 * (v[arms, 0] - np.sign(v[arms, 0]) * 0.16)   # arm length
    owner = np.asarray(weights).argmax(1)
    for k in range(3, 10):                                          # small smooth extras
        per_joint = rng.normal(0, 0.004, (24, 3))
        shapedirs[:, :, k] = per_joint[owner]
    data = {
        "v_template": v, "shapedirs": shapedirs,
        "posedirs": rng.normal(0, 0.002, (V, 3, 207)),
        "J_regressor": scipy.sparse.csc_matrix(Jreg),
        "weights": np.asarray(weights),
        "kintree_table": np.array([[4294967295] + SMPL_PARENTS[1:], list(range(24))],
                                  dtype=np.int64),
        "f": np.asarray(faces, dtype=np.uint32),
        "J": Jreg @ v, "bs_type": "lrotmin", "bs_style": "lbs",
    }
    return data, vertex_ids


def chumpy_pickle(data: dict, chumpy_keys=("v_template", "shapedirs", "weights", "J")) -> bytes:
    """Pickle model arrays as the official SMPL files are: some as chumpy ``Ch`` objects
    (a fake ``chumpy.ch`` module exists only while pickling, so loading must do without it)."""
    ch_mod = types.ModuleType("chumpy.ch")

    class Ch:  # what chumpy's Ch pickles as: its __dict__, holding the array in "x"
        pass

    Ch.__module__, Ch.__qualname__, Ch.__name__ = "chumpy.ch", "Ch", "Ch"
    ch_mod.Ch = Ch
    saved = {k: sys.modules.get(k) for k in ("chumpy", "chumpy.ch")}
    sys.modules["chumpy"] = types.ModuleType("chumpy")
    sys.modules["chumpy.ch"] = ch_mod
    try:
        out = {}
        for k, v in data.items():
            if k in chumpy_keys:
                obj = Ch.__new__(Ch)
                obj.__dict__.update({"x": np.asarray(v), "_dirty_vars": set()})
                out[k] = obj
            else:
                out[k] = v
        return pickle.dumps(out, protocol=2)
    finally:
        for k, old in saved.items():
            if old is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = old


def write_smpl_folder(root, vertex_ids: bool = True):
    """A model folder as users have it (``root/smpl/SMPL_NEUTRAL.pkl``, the official pickle
    layout) holding the synthetic SMPL-format model, with its ``vertex_ids.json`` unless told
    not to. Returns ``root``."""
    import json
    data, vids = synthetic_smpl()
    (root / "smpl").mkdir()
    (root / "smpl" / "SMPL_NEUTRAL.pkl").write_bytes(chumpy_pickle(data))
    if vertex_ids:
        (root / "smpl" / "vertex_ids.json").write_text(json.dumps(vids))
    return root


def fit_noise_free(model, motion: str, frames: int, seed: int, fmt: str = "body25"):
    """Fit (default stages, one torch thread) the studio's noise-free keypoints of one actor.

    Returns:
        (keypoints (F, K, 3) fitted to, FitResult, flexion RMS dict of the fit vs the truth).
    """
    from mocap.body import keypoint_layer
    from mocap.body.metrics import flexion_rms_deg
    from mocap.fit import fit_sequence, prepare_data, torch_threads
    from mocap.simulate.bodymodel import BodyActor, animate_body, body_keypoints

    layer = keypoint_layer(model, fmt)
    anim = animate_body(model, BodyActor(motion, seed=seed), frames, 30.0)
    kp = body_keypoints(model, anim, fmt)
    with torch_threads(1):
        res = fit_sequence(layer, prepare_data(layer, kp, np.ones(kp.shape[:2]), 30.0))
    flex = flexion_rms_deg(model, res.joints, res.rotations[:, 0], anim["joints"],
                           anim["rotations"][:, 0])
    return kp, res, flex
