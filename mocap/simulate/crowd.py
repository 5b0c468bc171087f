"""Several people in the virtual studio: crossing paths, hiding each other, coming and going.

A crowd take is an ordinary :func:`~mocap.simulate.studio.simulate_take` (people in actor
order, ground truth per actor) made realistic for association in two ways:

* people hide each other: a joint behind *another* person (the body capsules of
  :mod:`.body`, seen from the camera) is not detected, and a person mostly hidden in a view is
  not detected at all in that view (``min_visible_frac``);
* the detector's people come in no particular order: in every camera and frame the detected
  skeletons are shuffled (detected ones first, then empty slots), as a real detector would
  list them. The permutation is kept as ground truth (``slot_person``).

:func:`score_identities` measures an association against that ground truth (identity
switches, people found, purity), :func:`crowd_actors` builds the named scenes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from calibration import Rig

from ..errors import SimulationError
from ..types import Detections2D
from .observe import ErrorModel, occluded
from .studio import Actor, Take, simulate_take

__all__ = ["CrowdTake", "IdentityScore", "SCENES", "crowd_actors", "simulate_crowd",
           "shuffle_people", "hidden_by_others", "score_identities", "scene_names"]


# ----------------------------------------------------------------------------- scenes

def _crossing(n: int, num_frames: int, fps: float) -> list[Actor]:
    """n people (2 or 3) walking back and forth through the middle, paths crossing."""
    heights = (1.62, 1.78, 1.90)
    routes = (
        ((-2.2, 0.35), (2.2, 0.35), (2.2, -0.45), (-2.2, -0.45), (-2.2, 0.35), (2.2, 0.35)),
        ((0.25, 2.2), (0.25, -2.2), (-0.55, -2.2), (-0.55, 2.2), (0.25, 2.2), (0.25, -2.2)),
        ((-1.7, -1.6), (1.6, 1.7), (1.0, 2.1), (-2.0, -1.1), (-1.7, -1.6), (1.6, 1.7)),
    )
    speeds = (1.25, 1.15, 1.05)
    return [Actor("walk", height_m=heights[i], seed=11 + i, waypoints_m=routes[i],
                  speed_m_per_s=speeds[i]) for i in range(n)]


def _crossing4(num_frames: int, fps: float) -> list[Actor]:
    """Four people walking back and forth through the middle, all present all along."""
    route = ((2.0, 1.7), (-1.7, -1.9), (-2.1, -1.2), (1.5, 2.1), (2.0, 1.7), (-1.7, -1.9))
    return _crossing(3, num_frames, fps) + [Actor("walk", height_m=1.70, seed=14,
                                                  waypoints_m=route, speed_m_per_s=1.2)]


def _crowd4(num_frames: int, fps: float) -> list[Actor]:
    """Two people crossing all along, one entering late, one leaving and coming back."""
    a, b, _ = _crossing(3, num_frames, fps)
    third = int(num_frames / 3)
    late = Actor("walk", height_m=1.70, seed=21,
                 waypoints_m=((2.2, 1.8), (-1.8, 1.6), (-1.8, -1.8), (2.0, -1.6), (2.2, 1.8)),
                 speed_m_per_s=1.2, active_frames=((third, num_frames),))
    away = Actor("walk", height_m=1.84, seed=22,
                 waypoints_m=((-2.0, 1.9), (1.9, -2.0), (1.9, 1.2), (-2.0, -1.4), (-2.0, 1.9)),
                 speed_m_per_s=1.0,
                 active_frames=((0, third), (2 * third, num_frames)))
    return [a, b, late, away]


def _bystander(num_frames: int, fps: float) -> list[Actor]:
    """An actor performing in the middle and a bystander standing close to one camera."""
    actor = Actor("bend_and_reach", height_m=1.72, seed=31, xy_offset_m=(0.2, -0.1))
    watcher = Actor("stand", height_m=1.85, seed=32, xy_offset_m=(1.55, 1.45))
    return [actor, watcher]


SCENES = {
    "crossing2": lambda F, fps: _crossing(2, F, fps),
    "crossing3": lambda F, fps: _crossing(3, F, fps),
    "crossing4": _crossing4,
    "crowd4": _crowd4,
    "bystander": _bystander,
}


def scene_names() -> tuple[str, ...]:
    return tuple(SCENES)


def crowd_actors(scene: str, num_frames: int, fps: float = 30.0) -> list[Actor]:
    """The actors of a named scene (for the studio4 rig's 6 x 6 m room).

    ``crossing2``/``crossing3``: 2 or 3 people of different heights walking back and forth
    through the middle, their paths crossing; ``crossing4`` adds a fourth. ``crowd4``: 2
    people crossing all along, a third entering a third of the way in, a fourth leaving at a
    third and coming back at two thirds.
    ``bystander``: one actor moving in the middle, a second person standing close to a camera
    (the first actor is the main subject).
    """
    if scene not in SCENES:
        raise SimulationError(f"unknown crowd scene {scene!r}; expected one of "
                              f"{', '.join(SCENES)}")
    return SCENES[scene](num_frames, fps)


# ----------------------------------------------------------------------------- the take

@dataclass
class CrowdTake:
    """A multi-person take as a detector reports it, with the ground truth.

    Attributes:
        take: the studio take (people in actor order; its detections are *not* shuffled, but
            carry the occlusion by other people).
        detections: (C, F, P, J) the same detections, people shuffled per camera and frame.
        slot_person: (C, F, P) int: the actor shown in each slot of ``detections``, -1 empty.
        seen: (C, F, P) bool indexed by *actor*: the actor was detected in that camera.
        rig: the cameras.
    """

    take: Take
    detections: Detections2D
    slot_person: np.ndarray
    seen: np.ndarray
    rig: Rig

    @property
    def gt_xyz(self) -> np.ndarray:
        """(F, P, J, 3) true keypoints in actor order, metres; NaN while absent."""
        return self.take.gt_xyz

    @property
    def views_seen(self) -> np.ndarray:
        """(F, P) int: how many cameras detected each actor."""
        return self.seen.sum(0)


def hidden_by_others(rig: Rig, take: Take) -> np.ndarray:
    """Which keypoints are hidden behind *another* person, per camera.

    Args:
        take: a studio take without camera offsets.
    Returns:
        (C, F, P, J) bool.
    """
    F, P, J = take.gt_xyz.shape[:3]
    hidden = np.zeros((len(rig), F, P, J), bool)
    if P < 2:
        return hidden
    frames = np.arange(F)
    caps = [a.body.capsules() for a in take.actors]
    gone = ~np.stack([a.present(frames) for a in take.actors], 1)           # (F, P)
    joints = np.where(gone[..., None, None], np.nan, take.gt_joints)        # (F, P, Jb, 3)
    for c, cam in enumerate(rig):
        for p in range(P):
            others = [q for q in range(P) if q != p]
            ca = np.concatenate([joints[:, q][:, caps[q][0]] for q in others], 1)
            cb = np.concatenate([joints[:, q][:, caps[q][1]] for q in others], 1)
            r = np.concatenate([caps[q][2] for q in others])
            hidden[c, :, p] = occluded(cam.center, take.gt_xyz[:, p], ca, cb, r)
    return hidden


def shuffle_people(det: Detections2D, rng: np.random.Generator,
                   ) -> tuple[Detections2D, np.ndarray]:
    """Shuffle the people of every camera and frame, detected ones first.

    Returns:
        the shuffled detections and slot_person (C, F, P) int: which input person each new
        slot holds (-1 for an empty slot).
    """
    C, F, P, J = det.shape
    present = (det.conf > 0).any(-1)                                        # (C, F, P)
    key = rng.random((C, F, P)) + 2.0 * ~present                            # absent last
    order = np.argsort(key, axis=-1)
    xy = np.take_along_axis(det.xy, order[..., None, None], 2)
    conf = np.take_along_axis(det.conf, order[..., None], 2)
    slot_person = np.where(np.take_along_axis(present, order, 2), order, -1)
    hm = aff = None
    if det.heatmaps is not None:
        hm = np.take_along_axis(det.heatmaps, order[..., None, None, None], 2)
        aff = np.take_along_axis(det.heatmap_affine, order[..., None, None], 2)
    return det.replace(xy=xy, conf=conf, heatmaps=hm, heatmap_affine=aff), slot_person


def simulate_crowd(rig: Rig, actors: "list[Actor]", num_frames: int, fps: float = 30.0,
                   fmt: str = "body25", error_model: ErrorModel = ErrorModel(), seed: int = 0,
                   min_visible_frac: float = 0.4, heatmaps: bool = False) -> CrowdTake:
    """Simulate several people and detect them as a multi-person detector would.

    Args:
        rig, actors, num_frames, fps, fmt, error_model, seed: as for
            :func:`~mocap.simulate.studio.simulate_take` (no camera offsets).
        min_visible_frac: a person with fewer than this fraction of their joints detected in
            a view (hidden by others, outside the image) is not detected there at all.
        heatmaps: also render heatmaps (shuffled with the people).
    """
    if not 0.0 <= min_visible_frac <= 1.0:
        raise SimulationError(f"min_visible_frac must be in [0, 1], found {min_visible_frac}")
    take = simulate_take(rig, actors, num_frames, fps, fmt, error_model, seed=seed,
                         heatmaps=heatmaps)
    det = take.detections
    hidden = hidden_by_others(rig, take)
    conf = np.where(hidden, 0.0, det.conf).astype(np.float32)
    J = det.shape[-1]
    drop = (conf > 0).sum(-1) < min_visible_frac * J                        # (C, F, P)
    conf = np.where(drop[..., None], 0.0, conf).astype(np.float32)
    xy = np.where((conf > 0)[..., None], det.xy, np.nan)
    hm = None if det.heatmaps is None else np.where(
        (conf > 0)[..., None, None], det.heatmaps, 0).astype(det.heatmaps.dtype)
    det = det.replace(xy=xy, conf=conf, heatmaps=hm)
    take.detections = det
    seen = (conf > 0).any(-1)
    shuffled, slot_person = shuffle_people(det, np.random.default_rng([seed, 7]))
    return CrowdTake(take=take, detections=shuffled, slot_person=slot_person, seen=seen,
                     rig=rig)


# ----------------------------------------------------------------------------- scoring

@dataclass(frozen=True)
class IdentityScore:
    """An association scored against the ground truth.

    Attributes:
        identity_switches: CLEAR-MOT style: times an actor's identity changed between two
            frames in which it was found (summed over actors).
        identity_swaps: times an identity moved from one actor to another (summed).
        recall: (P,) per actor: fraction of the frames in which 2+ cameras detected the actor
            where an identity holds 2+ of its skeletons.
        purity: fraction of assigned skeletons that belong to their identity's actor.
        ids_per_actor: (P,) number of distinct identities each actor received.
        identity_of: (F, P) int: the identity holding each actor, -1 where none.
    """

    identity_switches: int
    identity_swaps: int
    recall: np.ndarray
    purity: float
    ids_per_actor: np.ndarray
    identity_of: np.ndarray


def score_identities(slot_identity: np.ndarray, crowd: CrowdTake) -> IdentityScore:
    """Compare identities given to detection slots with who is really there.

    Args:
        slot_identity: (C, F, K) int identity assigned to each slot of ``crowd.detections``,
            -1 = not assigned.
    """
    gt = crowd.slot_person
    if slot_identity.shape != gt.shape:
        raise SimulationError(f"slot_identity has shape {slot_identity.shape}, expected "
                              f"{gt.shape} (the crowd's detection slots)")
    C, F, K = gt.shape
    P = crowd.seen.shape[2]
    T = int(slot_identity.max()) + 1 if (slot_identity >= 0).any() else 0
    # votes[f, t, p]: skeletons of actor p that identity t holds in frame f.
    votes = np.zeros((F, T + 1, P + 1), int)
    f_idx = np.broadcast_to(np.arange(F)[None, :, None], gt.shape)
    np.add.at(votes, (f_idx, slot_identity, gt), 1)
    votes = votes[:, :T, :P]                                     # drop unassigned / empty
    assigned = votes.sum()
    purity = float(votes.max(-1).sum() / assigned) if assigned else float("nan")
    owner = np.where(votes.sum(-1) > 0, votes.argmax(-1), -1)    # (F, T) actor of identity
    # The identity holding actor p: the one with most of p's skeletons (2+ needed).
    hold = np.where(owner[..., None] == np.arange(P), votes, 0)  # (F, T, P)
    best = hold.argmax(1) if T else np.zeros((F, P), int)
    found = (hold.max(1) >= 2) if T else np.zeros((F, P), bool)
    identity_of = np.where(found, best, -1)
    visible = crowd.views_seen >= 2
    recall = np.array([(found[:, p] & visible[:, p]).sum() / max(visible[:, p].sum(), 1)
                       for p in range(P)])
    switches = 0
    ids = np.zeros(P, int)
    for p in range(P):
        seq = identity_of[:, p][identity_of[:, p] >= 0]
        switches += int((np.diff(seq) != 0).sum())
        ids[p] = len(np.unique(seq))
    swaps = 0
    for t in range(T):
        seq = owner[:, t][owner[:, t] >= 0]
        swaps += int((np.diff(seq) != 0).sum())
    return IdentityScore(identity_switches=switches, identity_swaps=swaps, recall=recall,
                         purity=purity, ids_per_actor=ids, identity_of=identity_of)
