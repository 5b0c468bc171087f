"""SMPL through smplx, on a small synthetic SMPL-format model the tests generate (never the
licensed files): loading without chumpy, exact agreement with smplx, keypoint regressors,
clear errors for missing or wrong files."""
from __future__ import annotations

import pickle
import sys

import numpy as np
import pytest
import torch

from body_scenes import synthetic_smpl, write_smpl_folder
from calibration.rotations import rotvec_to_rotmat
from mocap.body import (BodyModelError, keypoint_layer, keypoints_forward, load_body_model,
                        posed_vertices)
from mocap.body.model import forward_kinematics, rest_joints
from mocap.body.smpl_model import find_model_file, read_model_file
from mocap.keypoints import FORMATS


@pytest.fixture(scope="module")
def smpl_dir(tmp_path_factory):
    return write_smpl_folder(tmp_path_factory.mktemp("models"), vertex_ids=False)


@pytest.fixture(scope="module")
def smpl(smpl_dir):
    return load_body_model("smpl", smpl_dir, vertex_ids=synthetic_smpl()[1])


@pytest.fixture(scope="module")
def smplx_module(smpl_dir):
    import smplx
    from smplx.utils import Struct
    path = smpl_dir / "smpl" / "SMPL_NEUTRAL.pkl"
    return smplx.SMPL(model_path=str(path), data_struct=Struct(**read_model_file(path)),
                      vertex_ids=synthetic_smpl()[1], dtype=torch.float64)


def _random_pose(F=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    betas = torch.randn(10, generator=g, dtype=torch.float64)
    orient = 0.6 * torch.randn(F, 3, generator=g, dtype=torch.float64)
    body = 0.4 * torch.randn(F, 23, 3, generator=g, dtype=torch.float64)
    body[:, 21:] = 0.0                      # the hands are not fitted
    transl = torch.randn(F, 3, generator=g, dtype=torch.float64)
    return betas, orient, body, transl


def test_official_pickle_loads_without_chumpy(smpl_dir):
    assert "chumpy" not in sys.modules
    data = read_model_file(smpl_dir / "smpl" / "SMPL_NEUTRAL.pkl")
    ref, _ = synthetic_smpl()
    assert "chumpy" not in sys.modules
    for key in ("v_template", "shapedirs", "weights", "posedirs"):
        assert isinstance(data[key], np.ndarray)
        np.testing.assert_array_equal(data[key], np.asarray(ref[key]))
    np.testing.assert_array_equal(data["J_regressor"], ref["J_regressor"].toarray())


def test_plain_pickle_and_npz_load_alike(tmp_path):
    data, _ = synthetic_smpl()
    plain = {k: (v.toarray() if hasattr(v, "toarray") else v) for k, v in data.items()}
    (tmp_path / "SMPL_MALE.pkl").write_bytes(pickle.dumps(plain))
    np.savez(tmp_path / "SMPL_FEMALE.npz", **{k: v for k, v in plain.items()
                                                if isinstance(v, np.ndarray)})
    a = read_model_file(find_model_file(tmp_path, "smpl", "male"))
    b = read_model_file(find_model_file(tmp_path, "smpl", "female"))
    np.testing.assert_array_equal(a["v_template"], b["v_template"])


def test_layer_matches_smplx_exactly(smpl, smplx_module):
    betas, orient, body, transl = _random_pose()
    F = len(orient)
    out = smplx_module(betas=betas[None].expand(F, -1), global_orient=orient,
                       body_pose=body.reshape(F, -1), transl=transl)
    R = rotvec_to_rotmat(torch.cat([orient[:, None], body[:, :21]], 1))
    verts = posed_vertices(smpl, betas, R, transl)
    assert torch.allclose(verts, out.vertices, atol=1e-7)
    joints, _ = forward_kinematics(smpl.fitted_parents, rest_joints(smpl, betas)[:22], R, transl)
    assert torch.allclose(joints, out.joints[:, :22], atol=1e-7)


@pytest.mark.parametrize("fmt", ["body25", "coco17", "smpl24", "blazepose33"])
def test_keypoints_equal_the_regressed_skinned_mesh(smpl, smplx_module, fmt):
    betas, orient, body, transl = _random_pose(F=3, seed=1)
    F = len(orient)
    out = smplx_module(betas=betas[None].expand(F, -1), global_orient=orient,
                       body_pose=body.reshape(F, -1), transl=transl)
    R = rotvec_to_rotmat(torch.cat([orient[:, None], body[:, :21]], 1))
    layer = keypoint_layer(smpl, fmt, dtype=torch.float64)
    _, kp, _ = keypoints_forward(layer, betas, R, transl)
    for k, name in enumerate(FORMATS[fmt].joint_names):
        spec = smpl.keypoints[name]
        ref = (torch.as_tensor(spec.vertex_weights)[None, :, None]
               * out.vertices[:, torch.as_tensor(spec.vertex_ids)]).sum(1)
        for jn, w in zip(spec.joint_names, spec.joint_weights):
            ref = ref + w * out.joints[:, smpl.joint_names.index(jn)]
        assert torch.allclose(kp[:, k], ref, atol=1e-7), name


def test_missing_model_says_where_smpl_comes_from(tmp_path):
    with pytest.raises(BodyModelError, match="smpl.is.tue.mpg.de"):
        load_body_model("smpl", tmp_path)
    with pytest.raises(BodyModelError, match="--model-path"):
        load_body_model("smpl", None)
    with pytest.raises(BodyModelError, match="unknown body model"):
        load_body_model("mano", tmp_path)


def test_wrong_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "SMPL_NEUTRAL.pkl"
    bad.write_bytes(b"not a pickle")
    with pytest.raises(BodyModelError, match="cannot read"):
        load_body_model("smpl", tmp_path)
    bad.write_bytes(pickle.dumps({"v_template": np.zeros((3, 3))}))
    with pytest.raises(BodyModelError, match="lacks"):
        load_body_model("smpl", tmp_path)


def test_default_vertex_ids_need_the_real_mesh(smpl_dir):
    with pytest.raises(BodyModelError, match="vertex id .* outside"):
        load_body_model("smpl", smpl_dir)
