"""One forward kinematics for numpy arrays and torch tensors: both backends agree, the
offsets form is the simulator's, and gradients flow through the torch one."""
from __future__ import annotations

import numpy as np
import pytest
import roma
import torch

from mocap.body.kinematics import chain_kinematics, depth_levels, forward_kinematics
from mocap.simulate.body import Body

PARENTS = (-1, 0, 1, 2, 1, 4, 0, 6, 7)


def simulator_fk(parents, offsets, local_R, root_R, root_pos):
    """The simulator's former forward kinematics (one joint at a time), kept here as the
    reference the offsets form must match bitwise: positions (F, J, 3), rotations (F, J, 3, 3)
    from offsets (J, 3), local_R (F, J, 3, 3), root_R (F, 3, 3), root_pos (F, 3)."""
    F, J = local_R.shape[:2]
    pos = np.empty((F, J, 3))
    glob = np.empty((F, J, 3, 3))
    for j in range(J):
        p = parents[j]
        if p < 0:
            glob[:, j] = root_R @ local_R[:, j]
            pos[:, j] = root_pos
        else:
            glob[:, j] = glob[:, p] @ local_R[:, j]
            pos[:, j] = pos[:, p] + np.einsum("fab,b->fa", glob[:, p], offsets[j])
    return pos, glob


def _rotations(rng, *shape):
    return roma.rotvec_to_rotmat(torch.as_tensor(rng.normal(size=(*shape, 3)))).numpy()


def test_depth_levels_group_the_joints_by_depth():
    order, inverse, sizes, parent_pos = depth_levels(PARENTS)
    assert order.tolist() == [0, 1, 6, 2, 4, 7, 3, 5, 8] and sizes == (1, 2, 3, 3)
    assert order[inverse].tolist() == list(range(len(PARENTS)))
    assert [p.tolist() for p in parent_pos] == [[0, 0], [0, 0, 1], [0, 1, 2]]


def test_numpy_and_torch_agree(rng):
    R = _rotations(rng, 5, len(PARENTS))
    J = rng.normal(size=(len(PARENTS), 3))
    t = rng.normal(size=(5, 3))
    pos, glob = forward_kinematics(PARENTS, J, R, t)
    tpos, tglob = forward_kinematics(PARENTS, torch.as_tensor(J), torch.as_tensor(R),
                                     torch.as_tensor(t))
    assert isinstance(pos, np.ndarray) and isinstance(tpos, torch.Tensor)
    assert pos.shape == (5, len(PARENTS), 3) and glob.shape == (5, len(PARENTS), 3, 3)
    np.testing.assert_allclose(pos, tpos.numpy(), atol=1e-12)
    np.testing.assert_allclose(glob, tglob.numpy(), atol=1e-12)
    np.testing.assert_allclose(pos[:, 0], J[0] + t, atol=1e-12)


def test_a_joint_chain_by_hand(rng):
    R = _rotations(rng, len(PARENTS))
    J = rng.normal(size=(len(PARENTS), 3))
    pos, glob = forward_kinematics(PARENTS, J, R, np.zeros(3))
    for j in (2, 3):                                      # 0 -> 1 -> 2 -> 3
        parent = PARENTS[j]
        Gp = glob[parent]
        np.testing.assert_allclose(pos[j], pos[parent] + Gp @ (J[j] - J[parent]), atol=1e-12)
        np.testing.assert_allclose(glob[j], Gp @ R[j], atol=1e-12)
    np.testing.assert_allclose(pos[0], J[0], atol=1e-12)
    np.testing.assert_allclose(glob[0], R[0], atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_the_offsets_form_is_the_simulators_exactly(seed):
    rng = np.random.default_rng(seed)
    body = Body(seed=seed)
    F, J = 7, len(body.parents)
    R, root_R = _rotations(rng, F, J), _rotations(rng, F)
    root_pos = rng.normal(size=(F, 3))
    want = simulator_fk(body.parents, body.offsets, R, root_R, root_pos)
    got = chain_kinematics(body.parents, body.offsets, R, root_pos, root_R)
    assert np.array_equal(want[0], got[0]) and np.array_equal(want[1], got[1])
    tgot = chain_kinematics(body.parents, torch.as_tensor(body.offsets), torch.as_tensor(R),
                            torch.as_tensor(root_pos), torch.as_tensor(root_R))
    np.testing.assert_allclose(tgot[0].numpy(), want[0], atol=1e-12)


def test_torch_gradients_flow(rng):
    R = torch.as_tensor(_rotations(rng, 3, len(PARENTS))).requires_grad_(True)
    J = torch.as_tensor(rng.normal(size=(len(PARENTS), 3))).requires_grad_(True)
    t = torch.zeros(3, 3, dtype=torch.float64, requires_grad=True)
    pos, glob = forward_kinematics(PARENTS, J, R, t)
    (pos.sum() + glob.sum()).backward()
    assert all(x.grad is not None and torch.isfinite(x.grad).all() for x in (R, J, t))
