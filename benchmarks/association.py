"""Several people at once: cross-view association and tracking, measured in the virtual studio.

Run:  .venv/bin/python benchmarks/association.py [--frames 300] [--speed-frames 200]

Scenes (seeded, :mod:`mocap.simulate.crowd`; detections shuffled per camera and frame):

* ``crossing3`` in ``studio4``: 3 people of different heights walking back and forth through
  the middle, passing within 0.2-0.7 m of each other, hiding each other's joints;
* ``crossing4`` in ``lab8``: 4 people, 8 cameras (the speed measurement);
* ``bystander`` in ``studio4``: an actor in the middle, a taller person standing next to a
  camera (main-subject mode).

Measured, ours against a peer in the same run:

* identity switches (CLEAR-MOT, per actor) and swaps (an identity moving to another actor);
* recall: per actor, the share of frames in which 2+ cameras detected the actor where an
  identity holds 2+ of its skeletons (the worst actor is reported);
* MPJPE of the triangulated people (raw, algebraic) against the same people captured alone
  (each actor simulated by itself with the same detector model);
* frames/s of association (and of association + tracking) of 4 people across 8 cameras on one
  core: ``torch.set_num_threads(1)`` and BLAS/OpenMP limited to one thread before numpy loads;
* main subject: frames in which the actor (not the bystander) is the one reconstructed.

The peer for association is *greedy view by view* (the approach of most open-source
pipelines): cameras are added one at a time, each camera's skeletons matched (Hungarian) to
the people built from the cameras before it by the same ray-to-ray distance; it feeds the same
tracker. The peer for main subject is the largest 2D skeleton in each view
(:func:`mocap.triangulate.select_main_person`).
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from scipy.optimize import linear_sum_assignment  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mocap.associate import (Association, _chunk, _distance_matrix, _group_xyz,  # noqa: E402
                             associate_take, detection_rays)
from mocap.settings import AssociateSettings  # noqa: E402
from mocap.simulate import ErrorModel, load_rig_template, simulate_take  # noqa: E402
from mocap.simulate.crowd import crowd_actors, score_identities, simulate_crowd  # noqa: E402
from mocap.track import (_association_bones, detections_by_identity,  # noqa: E402
                         identify_people, slot_identities, track_people)
from mocap.triangulate import select_main_person, triangulate  # noqa: E402

FPS = 30.0
FMT = "body25"


# ----------------------------------------------------------------------------- the peer

def greedy_view_by_view(det, rig, settings: AssociateSettings) -> Association:
    """Associate camera after camera: each camera's skeletons are matched (Hungarian) to the
    people built so far by the mean ray-to-ray distance to their members; unmatched skeletons
    start new people. No joint solution, no refinement."""
    rays = detection_rays(rig, det, settings.min_conf, settings.min_joints)
    C, F, K, Jp = rays.shape
    thr = settings.max_ray_distance_m
    groups_all = []
    for s in range(0, F, 64):
        frames = slice(s, min(F, s + 64))
        ch = _chunk(rays, frames)
        D = _distance_matrix(ch, 3.0 * thr)
        for i in range(D.shape[0]):
            usable = ch.usable[i]
            people: list[dict] = []
            for c in range(C):
                ks = np.flatnonzero(usable[c])
                if len(ks) == 0:
                    continue
                if people:
                    cost = np.full((len(people), len(ks)), 1e6)
                    for p, members in enumerate(people):
                        d = np.array([[D[i, cm * K + km, c * K + k] for cm, km in members.items()]
                                      for k in ks])                      # (len(ks), members)
                        with np.errstate(invalid="ignore"):
                            m = np.nanmean(np.where(np.isfinite(d), d, np.nan), axis=1)
                        cost[p] = np.where(m <= thr, m, 1e6)
                    r, k = linear_sum_assignment(cost)
                    taken = set()
                    for rr, kk in zip(r, k):
                        if cost[rr, kk] < 1e6:
                            people[rr][c] = ks[kk]
                            taken.add(kk)
                    new = [j for j in range(len(ks)) if j not in taken]
                else:
                    new = range(len(ks))
                people += [{c: ks[j]} for j in new]
            rows = [p for p in people if len(p) >= 2]
            slots = np.full((max(1, len(rows)), C), -1)
            for g, p in enumerate(rows):
                for c, k in p.items():
                    slots[g, c] = k
            groups_all.append(slots)
    G = max(len(g) for g in groups_all)
    slots = np.full((F, G, C), -1)
    for f, g in enumerate(groups_all):
        slots[f, :len(g)] = g
    flipped = np.zeros(slots.shape, bool)
    xyz = np.concatenate([
        _group_xyz(_chunk(rays, slice(s, min(F, s + 64))), slots[s:s + 64], flipped[s:s + 64],
                   0.5 * thr)[0].transpose(3, 2, 1, 0) for s in range(0, F, 64)])
    num_views = (slots >= 0).sum(-1)
    return Association(slots=slots, flipped=flipped, xyz=xyz,
                       residual_m=np.zeros(num_views.shape), num_views=num_views,
                       joints=rays.joints)


def _identities_from(assoc: Association, det, rig, settings):
    bones = _association_bones(det.format, assoc.joints)
    identity, _ = track_people(assoc, det.fps, settings, bones, rig)
    T = int(identity.max(initial=-1)) + 1
    slot = slot_identities(assoc, identity, det.shape[2])
    return slot, detections_by_identity(det, slot, T)


# ----------------------------------------------------------------------------- measurements

def _mpjpe_mm(points_xyz, gt, identity_of) -> np.ndarray:
    """(P,) MPJPE per actor over the frames where an identity holds the actor, mm."""
    out = []
    for p in range(gt.shape[1]):
        f = np.flatnonzero(identity_of[:, p] >= 0)
        e = np.linalg.norm(points_xyz[f, identity_of[f, p]] - gt[f, p], axis=-1)
        out.append(1000.0 * np.nanmean(e) if np.isfinite(e).any() else np.nan)
    return np.array(out)


def _alone_mpjpe_mm(rig, actors, frames: int, seed: int) -> np.ndarray:
    out = []
    for i, actor in enumerate(actors):
        take = simulate_take(rig, [actor], frames, FPS, FMT, ErrorModel(), seed=seed + 100 + i)
        pts = triangulate(take.detections, rig)
        out.append(1000.0 * np.nanmean(np.linalg.norm(pts.xyz - take.gt_xyz, axis=-1)))
    return np.array(out)


def crossing(frames: int, seed: int) -> dict:
    rig = load_rig_template("studio4")
    actors = crowd_actors("crossing3", frames, FPS)
    crowd = simulate_crowd(rig, actors, frames, FPS, FMT, ErrorModel(), seed=seed)
    settings = AssociateSettings()
    res = {}
    det_ours, ids = identify_people(crowd.detections, rig, settings)
    greedy = greedy_view_by_view(crowd.detections, rig, settings)
    slot_peer, det_peer = _identities_from(greedy, crowd.detections, rig, settings)
    for name, slot, det in (("ours", ids.slot_identity, det_ours),
                            ("greedy", slot_peer, det_peer)):
        sc = score_identities(slot, crowd)
        pts = triangulate(det, rig)
        res[name] = dict(switches=sc.identity_switches, swaps=sc.identity_swaps,
                         recall=float(sc.recall.min()), purity=sc.purity,
                         people=int(slot.max()) + 1,
                         mpjpe=_mpjpe_mm(pts.xyz, crowd.gt_xyz, sc.identity_of))
    res["alone"] = _alone_mpjpe_mm(rig, actors, frames, seed)
    res["two_view_frames"] = int((crowd.views_seen == 2).sum())
    return res


def speed(frames: int, seed: int, repeats: int = 3) -> dict:
    rig = load_rig_template("lab8")
    crowd = simulate_crowd(rig, crowd_actors("crossing4", frames, FPS), frames, FPS, FMT,
                           ErrorModel(), seed=seed)
    settings = AssociateSettings()
    det = crowd.detections

    def best(fn):
        fn()                                                            # warm-up
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - t0)
        return frames / min(times), out

    fps_assoc, _ = best(lambda: associate_take(det, rig, settings))
    fps_full, (_, ids) = best(lambda: identify_people(det, rig, settings))
    fps_greedy, _ = best(lambda: greedy_view_by_view(det, rig, settings))
    sc = score_identities(ids.slot_identity, crowd)
    return dict(assoc=fps_assoc, full=fps_full, greedy=fps_greedy,
                switches=sc.identity_switches, recall=float(sc.recall.min()))


def main_subject(frames: int, seed: int) -> dict:
    rig = load_rig_template("studio4")
    crowd = simulate_crowd(rig, crowd_actors("bystander", frames, FPS), frames, FPS, FMT,
                           ErrorModel(), seed=seed)
    actor = crowd.gt_xyz[:, 0]

    def frames_on_actor(det) -> int:
        pts = triangulate(det, rig)
        err = np.nanmedian(np.linalg.norm(pts.xyz[:, 0] - actor, axis=-1), axis=-1)
        return int((err < 0.05).sum())

    ours, _ = identify_people(crowd.detections, rig, AssociateSettings(mode="main_subject"))
    return dict(ours=frames_on_actor(ours), peer=frames_on_actor(
        select_main_person(crowd.detections)), frames=frames)


# ----------------------------------------------------------------------------- table

def table(cross: dict, spd: dict, main: dict) -> str:
    o, g, alone = cross["ours"], cross["greedy"], cross["alone"]
    ratio = lambda m: 100.0 * (m / alone - 1.0)  # noqa: E731
    worst = lambda m: f"{np.nanmax(ratio(m)):+.1f} %"  # noqa: E731
    rows = [
        ("studio4, 3 people crossing", "", "", ""),
        ("  people found (3 actors)", f"{o['people']}", f"{g['people']}", "3"),
        ("  identity switches", f"{o['switches']}", f"{g['switches']}", "0"),
        ("  identity swaps", f"{o['swaps']}", f"{g['swaps']}", "0"),
        ("  recall, worst actor, 2+ views", f"{100 * o['recall']:.1f} %",
         f"{100 * g['recall']:.1f} %", ">= 98 %"),
        ("  skeletons given to the right actor", f"{100 * o['purity']:.2f} %",
         f"{100 * g['purity']:.2f} %", ""),
        ("  MPJPE per actor, mm", " / ".join(f"{v:.1f}" for v in o["mpjpe"]),
         " / ".join(f"{v:.1f}" for v in g["mpjpe"]), ""),
        ("  same actors captured alone, mm", " / ".join(f"{v:.1f}" for v in alone), "", ""),
        ("  MPJPE vs alone, worst actor", worst(o["mpjpe"]), worst(g["mpjpe"]), "<= +10 %"),
        ("lab8, 4 people x 8 cameras, 1 core", "", "", ""),
        ("  association, frames/s", f"{spd['assoc']:.0f}", f"{spd['greedy']:.0f}", ">= 200"),
        ("  association + tracking, frames/s", f"{spd['full']:.0f}", "", ""),
        ("  speed ratio ours / greedy", f"{spd['assoc'] / spd['greedy']:.2f} x", "", ""),
        ("  identity switches / worst recall", f"{spd['switches']} / "
         f"{100 * spd['recall']:.1f} %", "", ""),
        ("studio4, actor + bystander by a camera", "", "", ""),
        ("  frames on the actor (main subject)", f"{main['ours']} / {main['frames']}",
         f"{main['peer']} / {main['frames']}", "all"),
    ]
    w = [max(len(r[i]) for r in rows) for i in range(4)]
    head = ("measurement", "ours", "peer", "target")
    w = [max(w[i], len(head[i])) for i in range(4)]
    fmt = lambda r: "  ".join(c.ljust(w[i]) if i == 0 else c.rjust(w[i])  # noqa: E731
                              for i, c in enumerate(r))
    lines = [fmt(head), "  ".join("-" * x for x in w)] + [fmt(r) for r in rows]
    lines.append("peer: greedy view-by-view association with the same distances and tracker; "
                 "main subject: largest 2D skeleton per view")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=300, help="frames of the crossing take")
    ap.add_argument("--speed-frames", type=int, default=200, help="frames of the speed take")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    try:
        import torch
        torch.set_num_threads(1)
    except ImportError:
        pass
    t0 = time.perf_counter()
    cross = crossing(args.frames, args.seed)
    spd = speed(args.speed_frames, args.seed)
    main_res = main_subject(150, args.seed + 3)
    print(table(cross, spd, main_res))
    print(f"(crossing take: {args.frames} frames, {cross['two_view_frames']} actor-frames seen "
          f"by exactly 2 cameras; benchmark ran {time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
