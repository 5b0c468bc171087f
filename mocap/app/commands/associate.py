"""``mocap associate``: who is who across the cameras and over time, alone."""
from __future__ import annotations

HELP = "match people across cameras and follow them"


def summary_table(identities, num_frames: int) -> str:
    """A text table: one row per identity (frames seen, share of the take, mean views)."""
    slot = identities.slot_identity                                    # (C, F, K)
    rows = [f"{'person':>6}  {'frames':>6}  {'of take':>7}  {'views':>5}  {'evidence':>8}"]
    for t in range(identities.num_people):
        views = (slot == t).any(-1).sum(0)                             # (F,)
        seen = views > 0
        mean_views = float(views[seen].mean()) if seen.any() else 0.0
        rows.append(f"{t:>6}  {int(identities.frames_seen[t]):>6}  "
                    f"{100.0 * identities.frames_seen[t] / max(num_frames, 1):>6.1f}%  "
                    f"{mean_views:>5.1f}  {float(identities.score[t]):>8.1f}")
    return "\n".join(rows)


def run(args) -> int:
    from ..steps import associate_session
    done = associate_session(args.session, args.mode)
    ids = done.identities
    print(f"mode {ids.mode}: {ids.num_people} people in {done.num_frames} frames "
          f"of {done.num_cameras} cameras")
    print(summary_table(ids, done.num_frames))
    print(f"wrote {done.identities_path} and {done.people_path} (P axis = person)")
    return 0


def register(sub) -> None:
    p = sub.add_parser("associate", help=HELP,
                       description="Match every camera's 2D skeletons into people (jointly over "
                                   "all cameras), follow them over time with stable identities, "
                                   "print one row per person and write "
                                   "SESSION/out/identities.npz and "
                                   "SESSION/out/detections_people.npz ([associate] in "
                                   "session.toml).")
    p.add_argument("session", help="session folder")
    p.add_argument("--mode", choices=("multi", "main_subject", "off"), default=None,
                   help="multi: every person; main_subject: only the actor the cameras are "
                        "aimed at; off: keep the detector's order (default: [associate] mode)")
    p.set_defaults(func=run)
