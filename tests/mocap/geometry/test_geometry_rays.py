"""mocap.geometry.rays: ray directions and the spread of a bundle of camera rays."""
import numpy as np
import torch

from mocap.geometry import ray_directions, ray_spread_deg


def _columns(R):
    """(C, 3, 3) rotations -> the nested (C, 1) columns ``R[k][i]``."""
    return tuple(tuple(R[:, k, i][:, None] for i in range(3)) for k in range(3))


def test_ray_spread_of_two_rays_is_half_their_angle():
    """Two cameras looking along +z and along a direction 40 degrees off: each ray is 20
    degrees from the mean; numpy and torch agree; a single view spreads 0."""
    a = np.deg2rad(40.0)
    R = np.stack([np.eye(3), [[np.cos(a), 0, -np.sin(a)], [0, 1, 0], [np.sin(a), 0, np.cos(a)]]])
    x = np.zeros((2, 3))
    y = np.zeros((2, 3))
    used = np.array([[True, True, True], [True, True, False]])
    d = ray_directions(_columns(R), x, y)
    np.testing.assert_allclose(np.stack(d)[:, 1, 0], R[1].T @ [0, 0, 1], atol=1e-12)
    spread = ray_spread_deg(np, _columns(R), x, y, used)
    np.testing.assert_allclose(spread, [20.0, 20.0, 0.0], atol=1e-9)
    Rt = torch.as_tensor(R)
    st = ray_spread_deg(torch, _columns(Rt), torch.as_tensor(x), torch.as_tensor(y),
                        torch.as_tensor(used))
    np.testing.assert_allclose(st.numpy(), spread, atol=1e-9)
