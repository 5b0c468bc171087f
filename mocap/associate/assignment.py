"""The global assignment (Hungarian) the association and tracking steps share.

``scipy.optimize`` is imported on the first call, not with the package: a take with one
person never needs an assignment, and the import costs a fifth of a second of every command
that associates (most of ``scipy.optimize`` is unrelated solvers).
"""
from __future__ import annotations

import numpy as np

__all__ = ["assignment"]


def assignment(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``scipy.optimize.linear_sum_assignment(cost)``: rows and columns (K,) of the pairs that
    minimise the total cost of the (R, S) matrix, every row or every column used once."""
    from scipy.optimize import linear_sum_assignment   # lazy: see the module docstring
    return linear_sum_assignment(cost)
