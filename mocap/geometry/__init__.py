"""Pure geometry shared by the stages: bone lengths of skeletons, the rays of cameras.

Conventions: world frame right-handed, Z up, metres; camera frame OpenCV, ``X_cam = R X + t``.
"""
from .bones import bone_length_stats, bone_lengths, robust_bone_lengths
from .rays import ray_directions, ray_spread_deg

__all__ = ["bone_lengths", "robust_bone_lengths", "bone_length_stats", "ray_directions",
           "ray_spread_deg"]
