"""Association and tracking: which 2D skeleton in each camera is which person, frame by frame
(cross-view association), and who is who over the whole take (tracking, re-identification,
the main subject).

* :mod:`.geometry`: detections as world rays, ray-to-ray (epipolar) distances between
  skeletons, points triangulated from rays.
* :mod:`.solve`: the per-frame cross-view matching (clustering with cycle consistency,
  reprojection refinement, a skeleton two people in line explain given to the front one):
  :func:`associate_take`.
* :mod:`.tracklets`: groups linked frame to frame, tracklets joined after a gap.
* :mod:`.identities`: the identities kept (``main_subject``), :class:`Identities`,
  :func:`identify_people` (association and tracking in one call).
* :mod:`.project`: detections reordered onto the P axis of people (by identity, or by
  projecting known 3D keypoints: :func:`detections_for_points`).
"""
from __future__ import annotations

from .geometry import (ASSOCIATION_JOINTS, AssociationError, Rays, association_joints,
                       detection_rays, pair_distances, triangulate_rays, view_distance_matrix)
from .identities import (Identities, association_bones, identify_people, rig_aim_point,
                         track_people)
from .project import detections_by_identity, detections_for_points, slot_identities
from .solve import BODY_DEPTH_M, Association, associate_take, cluster_views
from .tracklets import bone_signature, link_frames, stitch_tracklets

__all__ = ["AssociationError", "ASSOCIATION_JOINTS", "Rays", "Association",
           "association_joints", "detection_rays", "pair_distances", "view_distance_matrix",
           "cluster_views", "triangulate_rays", "associate_take",
           "Identities", "link_frames", "stitch_tracklets", "bone_signature", "rig_aim_point",
           "association_bones", "track_people", "slot_identities", "detections_by_identity",
           "identify_people", "detections_for_points", "BODY_DEPTH_M"]
