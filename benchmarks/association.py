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
* MPJPE of the triangulated people (raw, algebraic), all actors' joints pooled and per actor,
  against the same people captured alone (each actor simulated by itself with the same
  detector model) and against the same detections grouped by the true identities (what
  association cannot improve on: the rest is the scene, people hiding each other);
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

from mocap.associate import (Association, associate_take, detection_rays,  # noqa: E402
                             triangulate_rays, view_distance_matrix)
from mocap.settings import AssociateSettings  # noqa: E402
from mocap.simulate import ErrorModel, load_rig_template, simulate_take  # noqa: E402
from mocap.simulate.crowd import crowd_actors, score_identities, simulate_crowd  # noqa: E402
from mocap.associate import (association_bones, detections_by_identity,  # noqa: E402
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
        D = view_distance_matrix(rays, slice(s, min(F, s + 64)), 3.0 * thr)
        for i in range(D.shape[0]):
            usable = rays.usable[:, s + i]
            people: list[dict] = []
            for c in range(C):
                ks = np.flatnonzero(usable[c])
                if len(ks) == 0:
                    continue
                new = list(range(len(ks)))
                if people:
                    cost = np.full((len(people), len(ks)), 1e6)
                    for p, members in enumerate(people):
                        d = np.array([[D[i, cm * K + km, c * K + k] for cm, km in members.items()]
                                      for k in ks])                      # (len(ks), members)
                        with np.errstate(invalid="ignore"):
                            m = np.nanmean(np.where(np.isfinite(d), d, np.nan), axis=1)
                        cost[p] = np.where(m <= thr, m, 1e6)
                    r, k = linear_sum_assignment(cost)
                    for rr, kk in zip(r, k):
                        if cost[rr, kk] < 1e6:
                            people[rr][c] = ks[kk]
                            new.remove(kk)
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
    # The groups' poses, as association computes them (robust least squares on the rays).
    f = np.arange(F)[:, None, None]
    c = np.arange(C)[None, None, :]
    k = np.maximum(slots, 0)
    dirs = rays.dirs[c, f, k]                                           # (F, G, C, Jp, 3)
    w = np.where((slots >= 0)[..., None], rays.conf[c, f, k], 0.0)
    origin = np.broadcast_to(rays.origin, (F, G, C, 3))
    xyz, _ = triangulate_rays(origin, dirs, w, robust_m=0.5 * thr, iterations=3)
    num_views = (slots >= 0).sum(-1)
    return Association(slots=slots, flipped=np.zeros(slots.shape, bool), xyz=xyz,
                       residual_m=np.zeros(num_views.shape), num_views=num_views,
                       joints=rays.joints)


def _identities_from(assoc: Association, det, rig, settings):
    bones = association_bones(det.format, assoc.joints)
    identity, _ = track_people(assoc, det.fps, settings, bones, rig)
    T = int(identity.max(initial=-1)) + 1
    slot = slot_identities(assoc, identity, det.shape[2])
    return slot, detections_by_identity(det, slot, T)


# ----------------------------------------------------------------------------- measurements

def _errors_mm(points_xyz, gt, identity_of) -> list:
    """Per actor, the joint errors (mm) over the frames where an identity holds the actor."""
    out = []
    for p in range(gt.shape[1]):
        f = np.flatnonzero(identity_of[:, p] >= 0)
        e = 1000.0 * np.linalg.norm(points_xyz[f, identity_of[f, p]] - gt[f, p], axis=-1)
        out.append(e[np.isfinite(e)])
    return out


def _mpjpe(errors: list) -> tuple[np.ndarray, float]:
    """(per actor MPJPE, MPJPE of all actors' joints pooled), mm."""
    return np.array([e.mean() for e in errors]), float(np.concatenate(errors).mean())


def _alone_errors_mm(rig, actors, frames: int, seed: int) -> list:
    out = []
    for i, actor in enumerate(actors):
        take = simulate_take(rig, [actor], frames, FPS, FMT, ErrorModel(), seed=seed + 100 + i)
        pts = triangulate(take.detections, rig)
        e = 1000.0 * np.linalg.norm(pts.xyz - take.gt_xyz, axis=-1)
        out.append(e[np.isfinite(e)])
    return out


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
                            ("greedy", slot_peer, det_peer),
                            ("oracle", crowd.slot_person,
                             detections_by_identity(crowd.detections, crowd.slot_person, 3))):
        sc = score_identities(slot, crowd)
        pts = triangulate(det, rig)
        res[name] = dict(switches=sc.identity_switches, swaps=sc.identity_swaps,
                         recall=float(sc.recall.min()), purity=sc.purity,
                         people=int(slot.max()) + 1,
                         mpjpe=_mpjpe(_errors_mm(pts.xyz, crowd.gt_xyz, sc.identity_of)))
    res["alone"] = _mpjpe(_alone_errors_mm(rig, actors, frames, seed))
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
    fps_greedy, greedy = best(lambda: greedy_view_by_view(det, rig, settings))
    sc = score_identities(ids.slot_identity, crowd)
    sg = score_identities(_identities_from(greedy, det, rig, settings)[0], crowd)
    return dict(assoc=fps_assoc, full=fps_full, greedy=fps_greedy, ours_score=sc,
                greedy_score=sg)


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
    o, g, orc = cross["ours"], cross["greedy"], cross["oracle"]
    (alone_each, alone_all) = cross["alone"]
    vs = lambda m: f"{100.0 * (m[1] / alone_all - 1.0):+.1f} %"  # noqa: E731
    worst = lambda m: f"{np.max(100.0 * (m[0] / alone_each - 1.0)):+.1f} %"  # noqa: E731
    each = lambda m: " / ".join(f"{v:.1f}" for v in m[0])  # noqa: E731
    so, sg = spd["ours_score"], spd["greedy_score"]
    rows = [
        ("studio4, 3 people crossing", "", "", ""),
        ("  people found (3 actors)", f"{o['people']}", f"{g['people']}", "3"),
        ("  identity switches", f"{o['switches']}", f"{g['switches']}", "0"),
        ("  identity swaps", f"{o['swaps']}", f"{g['swaps']}", "0"),
        ("  recall, worst actor, 2+ views", f"{100 * o['recall']:.1f} %",
         f"{100 * g['recall']:.1f} %", ">= 98 %"),
        ("  skeletons given to the right actor", f"{100 * o['purity']:.2f} %",
         f"{100 * g['purity']:.2f} %", ""),
        ("  MPJPE, all actors, mm", f"{o['mpjpe'][1]:.2f}", f"{g['mpjpe'][1]:.2f}", ""),
        ("  ... with the true identities, mm", f"{orc['mpjpe'][1]:.2f}", "", ""),
        ("  ... same actors captured alone, mm", f"{alone_all:.2f}", "", ""),
        ("  MPJPE vs alone, all actors", vs(o["mpjpe"]), vs(g["mpjpe"]), "<= +10 %"),
        ("  MPJPE per actor, mm", each(o["mpjpe"]), each(g["mpjpe"]), ""),
        ("  ... alone, mm", " / ".join(f"{v:.1f}" for v in alone_each), "", ""),
        ("  MPJPE vs alone, worst actor", worst(o["mpjpe"]), worst(g["mpjpe"]), ""),
        ("lab8, 4 people x 8 cameras, 1 core", "", "", ""),
        ("  association, frames/s", f"{spd['assoc']:.0f}", f"{spd['greedy']:.0f}", ">= 200"),
        ("  association + tracking, frames/s", f"{spd['full']:.0f}", "", ""),
        ("  speed ratio ours / greedy", f"{spd['assoc'] / spd['greedy']:.2f} x", "", ""),
        ("  identity switches", f"{so.identity_switches}", f"{sg.identity_switches}", "0"),
        ("  recall, worst actor, 2+ views", f"{100 * so.recall.min():.1f} %",
         f"{100 * sg.recall.min():.1f} %", ""),
        ("  skeletons given to the right actor", f"{100 * so.purity:.2f} %",
         f"{100 * sg.purity:.2f} %", ""),
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
