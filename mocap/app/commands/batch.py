"""``mocap batch``: run the pipeline on every session folder under a root."""
from __future__ import annotations

import os

HELP = "run the pipeline on every session under a folder"


def run(args) -> int:
    from ..batch import find_sessions, run_batch, summary_table, write_summary
    sessions = find_sessions(args.root)
    if not sessions:
        print(f"no session folders under {args.root} (a session has calibration.toml and "
              f"pose/ or videos/)")
        return 1
    where = f"Ray cluster {args.ray}" if args.ray else f"{args.workers} local worker(s)"
    print(f"{len(sessions)} sessions under {args.root}, on {where}")
    if args.list:
        for s in sessions:
            print(f"  {s}")
        return 0

    def progress(res) -> None:
        if not args.quiet:
            print(f"  {'done  ' if res.ok else 'FAILED'} {res.session} ({res.seconds:.1f} s)",
                  flush=True)

    results = run_batch(sessions, workers=args.workers, ray_address=args.ray,
                        on_result=progress)
    print(summary_table(results, root=args.root))
    if args.summary:
        print(f"summary written to {write_summary(results, args.summary)}")
    return 0 if all(r.ok for r in results) else 1


def register(sub) -> None:
    p = sub.add_parser("batch", help=HELP,
                       description="Find the session folders under ROOT (a calibration file "
                                   "and pose/ or videos/) and run the pipeline on each, in a "
                                   "local process pool or on a Ray cluster. A failed session "
                                   "is reported at the end and does not stop the others; the "
                                   "exit status is 1 if any failed.")
    p.add_argument("root", help="folder holding the session folders (searched recursively)")
    p.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) // 2),
                   help="local worker processes (default: half the CPU cores)")
    p.add_argument("--ray", metavar="ADDRESS", default=None,
                   help="run on a Ray cluster: its address, or 'auto' for the one running here "
                        "(needs the extra 'ray'; sessions on storage every node sees)")
    p.add_argument("--list", action="store_true", help="only list the sessions found")
    p.add_argument("--summary", metavar="FILE", default=None,
                   help="also write the results as JSON")
    p.set_defaults(func=run)
