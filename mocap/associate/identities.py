"""People over time: the groups found per frame by :mod:`mocap.associate.solve` linked into
stable identities (steps 1 and 2 in :mod:`mocap.associate.tracklets`, step 3 here).

Conventions: world frame (Z up, metres); time in frames of the take (``fps`` given).

Three steps, each a global assignment (Hungarian, ``scipy.optimize.linear_sum_assignment``):

1. **Frame to frame.** Every live track predicts where it is now (constant velocity of its
   joints' common displacement); the cost of a (track, group) pair is the mean joint distance
   between the prediction and the group's 3D pose divided by the track's gate
   (``track_gate_m``, widened by ``max_speed_m_per_s`` for every frame the track has been
   lost). Pairs beyond the gate are never made; groups left over start new tracks; a track
   lost for more than ``max_gap_s`` ends.
2. **Re-identification.** Tracks that ended are joined to tracks that started later (an
   occlusion longer than ``max_gap_s``, a person leaving the volume and coming back) when the
   gap is at most ``reid_max_gap_s``, the person could have walked the distance
   (``max_speed_m_per_s``), and the body proportions agree: the median bone lengths of the two
   tracks differ by at most ``reid_bone_tolerance`` (relative). One assignment over all
   (ending, starting) pairs, so a track is continued by at most one other and the choice is
   global, not first come first served.
3. **Selection.** Identities seen for less than ``min_track_s`` are dropped as spurious; with
   ``max_people`` only the best observed are kept; in ``main_subject`` mode one identity is
   kept: the one with the largest evidence ``sum over frames of views x exp(-(d / r)^2 / 2)``,
   d its distance to the point the cameras are aimed at and r ``volume_radius_m`` — the actor
   is seen by more cameras, for longer, closer to the middle than a bystander, even one who
   looks larger in the camera he stands next to.

:func:`identify_people` runs association and tracking and returns the detections with the P
axis holding the identities, as the triangulation expects them.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import numpy as np

from calibration import Rig

from ..keypoints import get_format
from ..settings import AssociateSettings
from ..types import Detections2D, load_npz, save_npz
from .geometry import AssociationError
from .project import detections_by_identity, slot_identities
from .solve import Association, associate_take
from .tracklets import link_frames, pose_centre, stitch_tracklets, tracklet_summaries

log = logging.getLogger("mocap.associate")      # the stage's logger, for every module

__all__ = ["Identities", "rig_aim_point", "track_people", "association_bones",
           "identify_people"]


# ----------------------------------------------------------------------------- selection

def rig_aim_point(rig: Rig) -> np.ndarray:
    """(3,) the point closest (least squares) to every camera's optical axis, world metres:
    where the rig is aimed, the middle of the capture volume."""
    eye = np.eye(3)
    A = np.zeros((3, 3))
    b = np.zeros(3)
    for cam in rig:
        axis = cam.R_cam_from_world[2]
        P = eye - np.outer(axis, axis)
        A += P
        b += P @ cam.center
    if abs(np.linalg.det(A)) < 1e-9:
        return np.mean([cam.center for cam in rig], axis=0)
    return np.linalg.solve(A, b)


def _evidence(assoc: Association, identity: np.ndarray, T: int, aim: "np.ndarray | None",
              radius_m: float) -> np.ndarray:
    """(T,) sum over frames of views x centrality of every identity."""
    w = assoc.num_views.astype(float)
    if aim is not None:
        d = np.linalg.norm(pose_centre(assoc.xyz) - aim, axis=-1)               # (F, G)
        w = w * np.nan_to_num(np.exp(-0.5 * (d / radius_m) ** 2))
    score = np.zeros(T)
    ok = identity >= 0
    np.add.at(score, identity[ok], w[ok])
    return score


def _renumber(identity: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep the identities flagged in keep (T,), renumbered by first appearance.

    Returns the new identities (F, G) and, per new identity, its old index.
    """
    flat = identity.ravel()                                                 # frame-major
    on = flat >= 0
    kept = on.copy()
    kept[on] = keep[flat[on]]
    old, first_at = np.unique(flat[kept], return_index=True)
    old = old[np.argsort(first_at)]                                         # by appearance
    new_of = np.full(len(keep) + 1, -1)                                     # [-1] -> -1
    new_of[old] = np.arange(len(old))
    return new_of[identity], old


def _frames_seen(identity: np.ndarray, T: int) -> np.ndarray:
    """(T,) number of frames in which each identity holds a group."""
    seen = np.zeros((identity.shape[0], T + 1), bool)
    seen[np.arange(identity.shape[0])[:, None], identity] = True             # -1 -> column T
    return seen[:, :T].sum(0)


def track_people(assoc: Association, fps: float, settings: AssociateSettings,
                 bones: np.ndarray, rig: "Rig | None" = None,
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Give every association group a stable identity.

    Args:
        assoc: the per-frame groups. fps: frames per second.
        bones: (B, 2) bones between association joints (indices into ``assoc.joints``).
        rig: needed in ``main_subject`` mode (where the cameras are aimed).
    Returns:
        identity (F, G) int, -1 for groups not kept, numbered from 0 by first appearance;
        score (T,) evidence of each identity (views summed over frames, weighted by
        centrality in ``main_subject`` mode).
    """
    live = assoc.num_views >= 2
    tracklet = link_frames(assoc.xyz, live, fps, settings)
    summaries = tracklet_summaries(assoc.xyz, tracklet, bones)
    chain = stitch_tracklets(summaries, fps, settings)
    identity = (np.where(tracklet >= 0, chain[np.maximum(tracklet, 0)], -1) if len(chain)
                else np.full(tracklet.shape, -1))
    T = int(identity.max(initial=-1)) + 1
    keep = _frames_seen(identity, T) >= max(1.0, settings.min_track_s * fps)
    main = settings.mode == "main_subject"
    if main and rig is None:
        raise AssociationError("[associate] mode = 'main_subject' needs the rig (where the "
                               "cameras are aimed); none was given")
    score = _evidence(assoc, identity, T, rig_aim_point(rig) if main else None,
                      settings.volume_radius_m)
    score = np.where(keep, score, -np.inf)
    limit = 1 if main else settings.max_people
    if limit and keep.sum() > limit:
        best = np.argsort(-score, kind="stable")[:limit]
        keep = np.zeros(T, bool)
        keep[best] = True
    log.info("tracking: %d tracklets joined into %d identities, %d kept (%s)",
             len(summaries), T, int(keep.sum()), settings.mode)
    identity, old = _renumber(identity, keep)
    return identity, score[old]


# ----------------------------------------------------------------------------- output

@dataclass(frozen=True)
class Identities:
    """Who is who in a take: the result of association and tracking.

    Attributes:
        slot_identity: (C, F, K) int: the identity of every input detection slot, -1 = none.
        num_people: T, the number of identities (the P axis of the output).
        score: (T,) evidence of each identity (views summed over the frames).
        frames_seen: (T,) frames in which each identity was found.
        mode: the association mode that made them.
        camera_names: (C,) in the rig's order.
    """

    slot_identity: np.ndarray
    num_people: int
    score: np.ndarray
    frames_seen: np.ndarray
    mode: str
    camera_names: tuple[str, ...]

    def save(self, path: "str | os.PathLike"):
        return save_npz(path, slot_identity=self.slot_identity,
                        num_people=np.array(self.num_people), score=self.score,
                        frames_seen=self.frames_seen, mode=np.array(self.mode),
                        camera_names=np.array(self.camera_names, dtype=str))

    @classmethod
    def load(cls, path: "str | os.PathLike") -> "Identities":
        d = load_npz(path, ("slot_identity", "num_people", "score", "frames_seen", "mode",
                            "camera_names"), "identities")
        return cls(slot_identity=d["slot_identity"].astype(int),
                   num_people=int(d["num_people"]), score=d["score"].astype(float),
                   frames_seen=d["frames_seen"].astype(int), mode=str(d["mode"]),
                   camera_names=tuple(d["camera_names"].tolist()))


def association_bones(fmt_name: str, joints: np.ndarray) -> np.ndarray:
    """(B, 2) bones of the format between association joints, as indices into ``joints``,
    plus shoulder and hip widths (both are body proportions that do not change with pose)."""
    kf = get_format(fmt_name)
    pos = {int(j): i for i, j in enumerate(joints)}
    pairs = [tuple(b) for b in kf.bone_indices.tolist()]
    for name in ("shoulder", "hip"):
        if f"left_{name}" in kf.joint_names and f"right_{name}" in kf.joint_names:
            pairs.append((kf.index(f"left_{name}"), kf.index(f"right_{name}")))
    out = [(pos[a], pos[b]) for a, b in pairs if a in pos and b in pos]
    return np.array(out, int).reshape(-1, 2)


def _passthrough(det: Detections2D) -> tuple[Detections2D, Identities]:
    C, F, K, J = det.shape
    seen = (det.conf > 0).any(-1)
    slot = np.where(seen, np.arange(K)[None, None, :], -1)
    frames = seen.any(0).sum(0)
    return det, Identities(slot_identity=slot, num_people=K, score=seen.sum((0, 1)).astype(
        float), frames_seen=frames, mode="off", camera_names=det.camera_names)


def identify_people(det: Detections2D, rig: Rig,
                    settings: AssociateSettings = AssociateSettings(),
                    ) -> tuple[Detections2D, Identities]:
    """Association and tracking: the detections with one P slot per person, stable over time.

    Args:
        det: (C, F, K, J) detections, people in the detector's per-camera order.
        rig: the calibrated cameras (order of ``det.camera_names``).
        settings: the ``[associate]`` settings; mode ``off`` returns ``det`` as it is.
    Returns:
        detections (C, F, T, J) with P = identity, and the :class:`Identities`.
    Raises:
        AssociationError: nobody was seen by two cameras at once in any frame.
    """
    if settings.mode == "off":
        return _passthrough(det)
    assoc = associate_take(det, rig, settings)
    bones = association_bones(det.format, assoc.joints)
    identity, score = track_people(assoc, det.fps, settings, bones, rig)
    T = int(identity.max(initial=-1)) + 1
    if T == 0:
        raise AssociationError(
            f"no person was seen by two or more of the cameras {list(det.camera_names)} at "
            f"once in any of the {det.num_frames} frames (or every track was shorter than "
            f"[associate] min_track_s = {settings.min_track_s} s); nothing to triangulate")
    slot = slot_identities(assoc, identity, det.shape[2])
    frames_seen = _frames_seen(identity, T)
    log.info("identities: %d people, seen in %s frames", T, frames_seen.tolist())
    ids = Identities(slot_identity=slot, num_people=T, score=score, frames_seen=frames_seen,
                     mode=settings.mode, camera_names=det.camera_names)
    return detections_by_identity(det, slot, T), ids
