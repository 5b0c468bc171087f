"""``mocap triangulate``'s stages in CPU seconds, one checkout against another, on one CPU.

On a shared machine wall seconds swing by a factor of two or three from one minute to the
next; the CPU seconds a process spends do not (much). This runs the stages of
``mocap triangulate`` (the functions ``mocap.app.triangulation.triangulate_session`` calls, in its
order) in a child process pinned to one CPU, so that nothing runs in forked workers and every
stage's CPU time is the process's own, and gives per stage the median CPU seconds of each
checkout (``--code``, run in turn: A, B, A, B, ...) and their ratio (> 1: the second one
spends less). The detection cache (``out/detect/``) is made first, so loading is the cached
path; the files the stages write go to a temporary folder.

The take is ``benchmarks/long_take.py``'s (made there, cached under its ``--cache``).

Run:  nice -n 10 .venv/bin/python benchmarks/triangulate_cpu.py --code /old/checkout . \\
          [--minutes 10] [--runs 3] [--cache DIR]
"""
from __future__ import annotations

import os
import sys

sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
STAGES = ("imports", "loading", "association + tracking", "triangulation", "camera health",
          "filter", "saving points", "TRC")


def child(session: Path, work: Path) -> dict:
    """The stages of ``triangulate_session`` with a CPU clock around each (this process only,
    pinned to one CPU). Returns {stage: CPU seconds}."""
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    cpu, t = {}, time.process_time()

    def lap(name):
        nonlocal t
        now = time.process_time()
        cpu[name] = now - t
        t = now
    import numpy as np

    from exporters.trc import write_trc
    from mocap.app.detections import session_detections
    try:
        from mocap.app.triangulation import save_health
    except ImportError:                     # a checkout from before mocap/app/triangulation.py
        from mocap.app.pipeline import save_health
    from mocap.app.session import Session
    from mocap.associate import identify_people
    from mocap.filter import filter_points
    from mocap.keypoints import get_format
    from mocap.triangulate import triangulate
    from mocap.triangulate.health import triangulation_health
    lap("imports")
    s = Session(session)
    settings, rig = s.settings(), s.rig()
    every = session_detections(s, rig, settings)
    lap("loading")
    det, _ = identify_people(every, rig, settings.associate)
    lap("association + tracking")
    raw = triangulate(det, rig, settings.triangulate)
    lap("triangulation")
    health = triangulation_health(det, rig, raw, settings.triangulate, every)
    lap("camera health")
    points = filter_points(raw, settings.filter, rig)
    lap("filter")
    raw.save(work / "points3d_raw.npz")
    points.save(work / "points3d.npz")
    save_health(work, health)
    lap("saving points")
    names = get_format(points.format).native_names
    for p in range(points.xyz.shape[1]):
        write_trc(work / f"person{p}.trc", names, points.xyz[:, p], points.fps)
    lap("TRC")
    return cpu


def run_child(code: Path, session: Path) -> dict:
    with tempfile.TemporaryDirectory() as work:
        # numpy's huge-page requests off, as the CLI sets them (mocap/app/cli.py): with them
        # on, a long take's fresh arrays cost about a second of page faults more
        env = {"NUMPY_MADVISE_HUGEPAGE": "0", **os.environ, "PYTHONPATH": str(code)}
        out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child",
                              str(session), work], cwd=code, capture_output=True, text=True,
                             env=env)
    if out.returncode:
        raise RuntimeError(f"child failed in {code}:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--code", type=Path, nargs=2, required=False,
                    help="the two checkouts compared (first: before, second: after)")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache/mocap/bench/long_take")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(Path(args.child[0]), Path(args.child[1]))))
        return 0
    sys.path.insert(0, str(REPO / "benchmarks"))
    from long_take import make_session
    session = make_session(args.minutes, args.cache)
    codes = [c.resolve() for c in (args.code or [REPO, REPO])]
    subprocess.run([sys.executable, "-m", "mocap.app.cli", "-q", "triangulate", str(session)],
                   cwd=codes[-1], env={**os.environ, "PYTHONPATH": str(codes[-1])},
                   check=True, capture_output=True)                   # the detection cache
    got = {c: [] for c in codes}
    for _ in range(args.runs):
        for c in codes:
            got[c].append(run_child(c, session))
    med = {c: {s: statistics.median(r[s] for r in got[c]) for s in STAGES} for c in codes}
    a, b = codes
    print(f"\nmocap triangulate's stages, CPU seconds on one CPU, {args.minutes:g}-min take "
          f"({session.name}), median of {args.runs} run(s) each, alternated")
    print(f"A = {a}\nB = {b}")
    print(f"{'stage':<26}{'A cpu s':>9}{'B cpu s':>9}{'A/B':>7}")
    for s in STAGES + ("total",):
        va = sum(med[a].values()) if s == "total" else med[a][s]
        vb = sum(med[b].values()) if s == "total" else med[b][s]
        print(f"{s:<26}{va:>9.2f}{vb:>9.2f}{va / vb if vb > 0 else float('nan'):>7.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
