"""Files of a fitted body: body.npz (AMASS layout) and per-frame meshes (PLY, OBJ), round
trips and bad input; the bridge to exporters (Skeleton + Motion)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from body_scenes import chumpy_pickle, synthetic_smpl
from exporters import forward_kinematics as exporters_fk
from mocap.body import (BodyModelError, BodyMotion, fitted_rotations, load_body_model,
                        posed_vertices, read_obj, read_ply, skeleton_of, to_exporters,
                        write_meshes, write_obj, write_ply)
from mocap.body.model import all_joint_positions, forward_kinematics, rest_joints


@pytest.fixture(scope="module")
def smpl(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    (root / "SMPL_NEUTRAL.pkl").write_bytes(chumpy_pickle(synthetic_smpl()[0]))
    return load_body_model("smpl", root, vertex_ids=synthetic_smpl()[1])


def _motion(model, F=6, seed=0) -> BodyMotion:
    rng = np.random.default_rng(seed)
    poses = np.zeros((F, len(model.joint_names), 3))
    poses[:, model.fitted_index] = 0.3 * rng.standard_normal((F, len(model.fitted), 3))
    betas = 0.5 * rng.standard_normal(model.num_betas)
    trans = rng.standard_normal((F, 3))
    R = torch.as_tensor(poses[:, model.fitted_index])
    from calibration.rotations import rotvec_to_rotmat
    J = rest_joints(model, torch.as_tensor(betas))[torch.as_tensor(model.fitted_index)]
    joints, _ = forward_kinematics(model.fitted_parents, J, rotvec_to_rotmat(R),
                                   torch.as_tensor(trans))
    return BodyMotion(surface_model_type=model.kind, gender=model.gender,
                      joint_names=model.joint_names, fitted_joints=model.fitted,
                      shape_names=model.shape_names, betas=betas, poses=poses, trans=trans,
                      fps=30.0, joints=joints.numpy(), keypoints=np.full((F, 2, 3), np.nan),
                      keypoint_format="coco17", keypoint_names=("nose", "left_eye"),
                      observed=np.ones(F, bool))


def test_body_npz_round_trip_in_amass_layout(smpl, tmp_path):
    m = _motion(smpl)
    path = m.save(tmp_path / "person0" / "body.npz")
    with np.load(path) as z:
        for key in ("poses", "trans", "betas", "mocap_framerate", "gender",
                    "surface_model_type", "joints", "keypoints"):
            assert key in z.files
        assert z["poses"].shape == (6, 72)            # SMPL: 24 joints x 3, AMASS-style
        assert str(z["surface_model_type"]) == "smpl"
    back = BodyMotion.load(path)
    np.testing.assert_array_equal(back.poses, m.poses)
    np.testing.assert_array_equal(back.trans, m.trans)
    np.testing.assert_array_equal(back.betas, m.betas)
    assert back.fps == 30.0 and back.joint_names == m.joint_names
    assert np.isnan(back.keypoints).all()


def test_body_npz_bad_input(smpl, tmp_path):
    with pytest.raises(BodyModelError, match="poses must have shape"):
        BodyMotion(**{**_motion(smpl).__dict__, "poses": np.zeros((6, 3, 3))})
    np.savez(tmp_path / "x.npz", poses=np.zeros((2, 72)))
    with pytest.raises(Exception, match="lacks key 'trans'"):
        BodyMotion.load(tmp_path / "x.npz")


def test_exporters_skeleton_reproduces_the_joints(smpl):
    m = _motion(smpl)
    skeleton, motion = to_exporters(smpl, m)
    pos, _ = exporters_fk(skeleton, motion.rotations, motion.root_translation)
    np.testing.assert_allclose(pos, m.joints, atol=1e-9)
    full_skel, full_motion = to_exporters(smpl, m, full=True)
    pos_full, _ = exporters_fk(full_skel, full_motion.rotations, full_motion.root_translation)
    from calibration.rotations import rotvec_to_rotmat
    R = rotvec_to_rotmat(torch.as_tensor(m.poses[:, smpl.fitted_index]))
    c = torch.as_tensor(m.betas)
    J_all = rest_joints(smpl, c)
    p, g = forward_kinematics(smpl.fitted_parents, J_all[torch.as_tensor(smpl.fitted_index)], R,
                              torch.as_tensor(m.trans))
    np.testing.assert_allclose(pos_full, all_joint_positions(smpl, J_all, p, g).numpy(),
                               atol=1e-9)
    sk = skeleton_of(smpl, m.betas)
    assert sk.joint_names == smpl.fitted and sk.parents[0] == -1
    np.testing.assert_allclose(fitted_rotations(m), motion.rotations, atol=1e-12)


@pytest.mark.parametrize("fmt", ["ply", "obj"])
def test_mesh_round_trip(smpl, tmp_path, fmt):
    m = _motion(smpl, F=4)
    paths = write_meshes(tmp_path / "meshes", smpl, m, fmt, every=2)
    assert [p.name for p in paths] == [f"frame_000000.{fmt}", f"frame_000002.{fmt}"]
    v, f = (read_ply if fmt == "ply" else read_obj)(paths[1])
    ref = posed_vertices(smpl, torch.as_tensor(m.betas),
                         torch.as_tensor(fitted_rotations(m)[2:3]),
                         torch.as_tensor(m.trans[2:3]))[0].numpy()
    np.testing.assert_allclose(v, ref, atol=1e-6 if fmt == "obj" else 1e-5)
    np.testing.assert_array_equal(f, smpl.faces)


def test_mesh_readers_reject_bad_files(tmp_path):
    write_ply(tmp_path / "a.ply", np.zeros((3, 3)), np.array([[0, 1, 2]]))
    data = (tmp_path / "a.ply").read_bytes()
    (tmp_path / "b.ply").write_bytes(data[:-4])
    with pytest.raises(BodyModelError, match="bytes of data"):
        read_ply(tmp_path / "b.ply")
    (tmp_path / "c.ply").write_bytes(b"solid nothing")
    with pytest.raises(BodyModelError, match="not a PLY"):
        read_ply(tmp_path / "c.ply")
    (tmp_path / "d.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nv 1 1 0\nf 1 2 3 4\n")
    with pytest.raises(BodyModelError, match="expected a triangle"):
        read_obj(tmp_path / "d.obj")
    write_obj(tmp_path / "e.obj", np.eye(3), np.array([[0, 1, 2]]))
    v, f = read_obj(tmp_path / "e.obj")
    np.testing.assert_allclose(v, np.eye(3))
    np.testing.assert_array_equal(f, [[0, 1, 2]])


def test_unknown_mesh_format(smpl, tmp_path):
    with pytest.raises(BodyModelError, match="mesh format"):
        write_meshes(tmp_path, smpl, _motion(smpl), "stl")
