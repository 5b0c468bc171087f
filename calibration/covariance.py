"""How well a bundle adjustment determines the cameras: the standard deviation of each camera
parameter from the Jacobian at the solution (Gauss-Newton covariance), the structure
marginalised through its Schur complement (a pure function: a sparse Jacobian in, (n,) out).

With the residuals ``r`` (2M,) and the Jacobian ``J = [J_c | J_s]`` (cameras, then S structure
items of ``block`` parameters each, item-major), the normal matrix is
``[[A, B], [B^T, D]]`` with ``D`` block diagonal; the cameras' covariance is
``sigma^2 (A - B D^-1 B^T)^-1`` with ``sigma^2 = |r|^2 / (2M - n)`` (the residual variance
per unit weight). It holds for the inliers of a converged solve whose errors are independent
and alike; a robust loss's down-weighting is not counted.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse

__all__ = ["camera_parameter_sd"]


def _structure_blocks(Js: scipy.sparse.csr_matrix, block: int) -> np.ndarray:
    """(S, block, block) diagonal blocks of ``Js^T Js`` (the structure's normal matrix)."""
    N = (Js.T @ Js).tocsr()
    S = Js.shape[1] // block
    out = np.empty((S, block, block))
    base = np.arange(S) * block
    for i in range(block):
        for j in range(block):
            out[:, i, j] = np.asarray(N[base + i, base + j]).ravel()
    return out


def camera_parameter_sd(J: scipy.sparse.spmatrix, r: np.ndarray, n_cam: int,
                        block: int) -> np.ndarray:
    """(n_cam,) standard deviations of the camera parameters (the first ``n_cam`` columns of
    ``J``), in their units.

    Args:
        J: (2M, n) Jacobian of the residuals at the solution (cameras first, then the
            structure in items of ``block`` columns).
        r: (2M,) residuals at the solution (weighted, pixels).
        n_cam: free camera parameters. block: parameters per structure item (3 for points,
            6 for board poses).
    """
    J = scipy.sparse.csr_matrix(J)
    Jc, Js = J[:, :n_cam], J[:, n_cam:]
    A = (Jc.T @ Jc).toarray()
    if Js.shape[1]:
        blocks = _structure_blocks(Js, block)
        # A point seen along one ray only is not determined: a tiny ridge keeps it invertible.
        ridge = 1e-12 * np.maximum(np.trace(blocks, axis1=1, axis2=2), 1e-12)
        Dinv = np.linalg.inv(blocks + ridge[:, None, None] * np.eye(block))
        S = Dinv.shape[0]
        Dinv_sp = scipy.sparse.bsr_matrix((Dinv, np.arange(S), np.arange(S + 1)),
                                          shape=(S * block, S * block))
        B = (Jc.T @ Js).tocsr()
        A = A - (B @ Dinv_sp @ B.T).toarray()
    dof = max(r.size - J.shape[1], 1)
    sigma2 = float(r @ r) / dof
    cov = np.linalg.pinv(A, hermitian=True) * sigma2
    return np.sqrt(np.clip(np.diag(cov), 0.0, None))
