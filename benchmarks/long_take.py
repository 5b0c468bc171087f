"""A long take end to end: ``mocap triangulate`` and ``mocap run`` as whole processes on a
10-minute, 6-camera OpenPose JSON take (18,000 frames at 30 fps, 108,000 files, one person),
next to a peer measured in the same run: the JSON loaded with the standard library, then
aniposelib's plain ``CameraGroup.triangulate`` and a Pose2Sim-style Butterworth low-pass
(4th order, 6 Hz, zero phase, gaps interpolated first).

The take comes from the virtual studio (rig ``lab8``'s first six cameras, the ``walk``
motion, the default detector error model) and is cached under ``--cache`` (default
``~/.cache/mocap/bench/long_take``): made once per length, reused after.

For each length (``--growth-minutes`` and ``--minutes``), every command runs ``--runs`` times
in turn (peer, ours, peer, ours...) as a separate process; the table gives the median wall
seconds and the peak resident memory of the largest process (``wait4``'s ``ru_maxrss``), the
ratio peer / ours pair by pair (above 1: ours faster), and per stage the seconds and the
peak memory reached so far, from a child that runs the same stage functions as ``mocap run``
one after the other with a clock around each. ``mocap triangulate`` is timed twice: cold
(``out/`` removed, so no detection cache) and warm (the per-camera detection cache of an
earlier run reused). The last rows give each stage's cost at the long length over its cost
at the short one, against the ratio of lengths (linear: the same number).

Run:  nice -n 10 .venv/bin/python benchmarks/long_take.py [--minutes 10] [--runs 3]
      [--code DIR] (DIR: the checkout whose ``mocap`` is timed; default this one)
      [--video-minutes M] [--no-json]

The video take (``--video-minutes``, default 0.5; 0: none) is ``benchmarks/long_take_video.py``:
4 cameras at 1920x1080, a rendered 2-second clip looped to M minutes (a loop repeats the
motion), ``mocap detect`` and ``mocap triangulate`` as whole processes with the peak memory of
their process trees, detection frames/s per camera next to one camera alone, and a
kill-and-resume row; its table follows the JSON take's (``--no-json``: the video take alone).
"""
from __future__ import annotations

import os
import sys

sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FPS = 30.0
RIG, CAMERAS, MOTION, SEED = "lab8", 6, "walk", 0
PEER_MIN_CONF = 0.2
PEER_CUTOFF_HZ, PEER_ORDER = 6.0, 4
log = logging.getLogger("benchmark")


# ----------------------------------------------------------------------------- the take

def make_session(minutes: float, cache: Path) -> Path:
    """The cached studio session of ``minutes`` (made when missing); returns its folder."""
    frames = int(round(minutes * 60 * FPS))
    root = cache / f"{RIG}{CAMERAS}_{MOTION}_{frames}f_seed{SEED}"
    if (root / ".complete").is_file():
        return root
    from mocap.app.studio import write_session
    from mocap.simulate import Actor, ErrorModel, load_rig_template, simulate_take
    if root.exists():
        shutil.rmtree(root)
    rig = load_rig_template(RIG)
    rig = rig.subset(rig.names[:CAMERAS])
    t0 = time.perf_counter()
    take = simulate_take(rig, [Actor(motion=MOTION, seed=SEED)], frames, FPS, "body25",
                         ErrorModel(), seed=SEED)
    write_session(root, rig, take, info={"rig": RIG, "motion": MOTION, "seed": SEED})
    (root / ".complete").write_text("")
    log.info("made %s (%d frames x %d cameras) in %.0f s", root, frames, CAMERAS,
             time.perf_counter() - t0)
    return root


# ----------------------------------------------------------------------------- the peer

def peer_load(session: Path) -> tuple[list[str], np.ndarray]:
    """Pose2Sim/anipose-style loading: every camera's JSON files with ``json.load``, the first
    person of each frame. Returns the camera folder names and (C, F, J, 3) x, y, confidence."""
    folders = sorted(p for p in (session / "pose").iterdir() if p.is_dir())
    cams = []
    for folder in folders:
        frames = []
        for path in sorted(folder.glob("*.json")):
            with open(path) as fh:
                people = json.load(fh)["people"]
            kp = people[0]["pose_keypoints_2d"] if people else [0.0] * 75
            frames.append(np.array(kp, float).reshape(-1, 3))
        cams.append(np.stack(frames))
    F = min(len(c) for c in cams)
    return [f.name for f in folders], np.stack([c[:F] for c in cams])


def peer_filter(xyz: np.ndarray) -> np.ndarray:
    """Pose2Sim's Butterworth filter: gaps interpolated, then a zero-phase 4th-order 6 Hz
    low-pass per coordinate. xyz: (F, J, 3) metres, NaN where missing."""
    from scipy.signal import butter, filtfilt
    b, a = butter(PEER_ORDER // 2, PEER_CUTOFF_HZ / (FPS / 2), "low")   # filtfilt doubles it
    out = np.full_like(xyz, np.nan)
    t = np.arange(len(xyz))
    for j in range(xyz.shape[1]):
        for k in range(3):
            y = xyz[:, j, k]
            ok = np.isfinite(y)
            if ok.sum() < 20:
                continue
            lo, hi = np.flatnonzero(ok)[[0, -1]]
            filled = np.interp(t[lo:hi + 1], t[ok], y[ok])
            out[lo:hi + 1, j, k] = filtfilt(b, a, filled)
    return out


def stage_clock():
    """A dict of stage name -> (seconds since the previous lap, peak RSS MB) and the function
    that closes a stage: ``lap(name)``."""
    stages, last = {}, [time.perf_counter()]

    def lap(name: str) -> None:
        now = time.perf_counter()
        stages[name] = (now - last[0], peak_rss_mb())
        last[0] = now
    return stages, lap


def run_peer(session: Path, result: Path) -> dict:
    """The peer, in this process: load, triangulate, filter; stage seconds and peak memory."""
    stages, lap = stage_clock()
    from aniposelib.cameras import CameraGroup
    lap("imports")
    names, kp = peer_load(session)
    lap("load JSON")
    group = CameraGroup.load(str(session / "calibration.toml"))
    order = [names.index(n) for n in group.get_names()]
    kp = kp[order]
    C, F, J, _ = kp.shape
    pts = np.where((kp[..., 2:] >= PEER_MIN_CONF) & (kp[..., 2:] > 0), kp[..., :2], np.nan)
    xyz = group.triangulate(pts.reshape(C, F * J, 2), undistort=True, progress=False)
    xyz = xyz.reshape(F, J, 3)
    lap("triangulate")
    filtered = peer_filter(xyz)
    lap("filter")
    np.savez(result, raw=xyz, filtered=filtered)
    lap("save")
    return stages


# ----------------------------------------------------------------------------- our stages

def run_ours(session: Path) -> dict:
    """``mocap run``'s stages one after the other, in this process, with a clock around each
    (the same functions :mod:`mocap.app.pipeline` calls, no stage skipping)."""
    stages, lap = stage_clock()
    from mocap.app.bodies import fit_people
    from mocap.app.detections import session_detections
    from mocap.app.session import Session
    from mocap.associate import identify_people
    from mocap.export import export_people
    from mocap.filter import filter_points
    from mocap.sync import synchronise
    from mocap.triangulate import triangulate
    from mocap.triangulate.health import triangulation_health
    lap("imports")
    s = Session(session)
    settings, rig = s.settings(), s.rig()
    det = session_detections(s, rig, settings)
    lap("load JSON")
    synced, _ = synchronise(det, settings.sync, rig=rig)
    lap("sync")
    det, _ = identify_people(synced, rig, settings.associate)
    lap("associate + track")
    raw = triangulate(det, rig, settings.triangulate)
    lap("triangulate")
    triangulation_health(det, rig, raw, settings.triangulate, synced)
    lap("camera health")
    points = filter_points(raw, settings.filter, rig)
    lap("filter")
    s.out.mkdir(parents=True, exist_ok=True)
    _, bodies = fit_people(points, settings.fit, s.out, s.root, det, rig)
    lap("fit")
    export_people(points, s.out, settings.export, {e: b for e, b in bodies.items()})
    lap("export")
    return stages


def peak_rss_mb() -> float:
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# ----------------------------------------------------------------------------- processes

def timed_process(cmd: list, code: Path, stdout=subprocess.DEVNULL) -> tuple[float, float, str]:
    """Run ``cmd`` with ``code`` first on the path; (wall s, peak RSS MB, stdout). The
    process's CPU seconds (user + system, its reaped workers included: ``wait4``) go to
    :data:`CPU_S` (on a shared machine they swing far less than the wall seconds)."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    with tempfile.TemporaryFile("w+") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=code, env=env, stdout=out, stderr=subprocess.PIPE,
                                text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        err = proc.stderr.read()
        proc.stderr.close()
        out.seek(0)
        text = out.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed:\n{err[-3000:]}")
    CPU_S.append(usage.ru_utime + usage.ru_stime)
    return wall, usage.ru_maxrss / 1024.0, text


#: CPU seconds of every process :func:`timed_process` ran, in order.
CPU_S: list = []


def child(mode: str, session: Path, code: Path, extra: str = "") -> tuple[float, float, dict]:
    """This script as a child process in ``mode`` (``peer`` or ``stages``)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", mode, str(session)]
    if extra:
        cmd.append(extra)
    wall, rss, text = timed_process(cmd, code)
    return wall, rss, json.loads(text.strip().splitlines()[-1])


def mocap(code: Path, *args) -> tuple[float, float]:
    wall, rss, _ = timed_process([sys.executable, "-m", "mocap.app.cli", "-q", *map(str, args)],
                                 code)
    return wall, rss


def clear_out(session: Path, keep_cache: bool) -> None:
    """Remove ``out/`` (keeping ``out/detect/``, the detection cache, when asked)."""
    out = session / "out"
    if not out.is_dir():
        return
    for entry in out.iterdir():
        if keep_cache and entry.name == "detect":
            continue
        shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


# ----------------------------------------------------------------------------- measuring

def measure(session: Path, code: Path, runs: int, with_run: bool, work: Path,
            with_stages: bool = True) -> dict:
    """Every figure of one take length: whole processes (interleaved with the peer) and the
    stage breakdowns."""
    rows: dict = {k: [] for k in ("peer", "tri_cold", "tri_warm", "run")}
    peer_file = work / f"peer_{session.name}.npz"
    def keep(key, figures):
        rows[key].append((*figures[:2], CPU_S[-1]))
        log.info("  %s: %.1f s, %.0f MB, %.1f CPU s", key, figures[0], figures[1], CPU_S[-1])
    for _ in range(runs):
        wall, rss, peer_stages = child("peer", session, code, str(peer_file))
        keep("peer", (wall, rss))
        log.info("  peer stages: %s", peer_stages)
        clear_out(session, keep_cache=False)
        keep("tri_cold", mocap(code, "triangulate", session))
        keep("tri_warm", mocap(code, "triangulate", session))
        if with_run:
            clear_out(session, keep_cache=True)
            keep("run", mocap(code, "run", "--force", session))
    accuracy = accuracy_rows(session, peer_file)
    log.info("  accuracy: %s", accuracy)
    stages = None
    if with_stages:
        clear_out(session, keep_cache=False)
        stages = child("stages", session, code)[2]
        log.info("  our stages: %s", stages)
    return {"rows": rows, "peer_stages": peer_stages, "stages": stages, "accuracy": accuracy}


def accuracy_rows(session: Path, peer_file: Path) -> dict:
    """MPJPE (mm) against the ground truth of ours (raw, filtered) and the peer's."""
    from mocap.evaluate import coverage, mpjpe_mm
    from mocap.types import Points3D
    gt = np.load(session / "gt.npz")["xyz"][:, 0]
    peer = np.load(peer_file)
    ours_raw = Points3D.load(session / "out" / "points3d_raw.npz").xyz[:, 0]
    ours = Points3D.load(session / "out" / "points3d.npz").xyz[:, 0]
    F = min(len(gt), len(peer["raw"]))
    return {name: (mpjpe_mm(x[:F], gt[:F]), coverage(x[:F], gt[:F]))
            for name, x in (("ours raw", ours_raw), ("ours filtered", ours),
                            ("peer raw", peer["raw"]), ("peer filtered", peer["filtered"]))}


def med(pairs, i):
    return statistics.median(p[i] for p in pairs)


def print_table(results: dict, minutes: list, runs: int) -> None:
    long_m = minutes[-1]
    r = results[long_m]
    rows = r["rows"]
    peer_w = [p[0] for p in rows["peer"]]
    print(f"\nlong take: {long_m:g} min, {CAMERAS} cameras x {int(long_m * 60 * FPS)} frames "
          f"of OpenPose JSON, one person; {runs} run(s) each, medians; ratio = peer wall / "
          f"ours wall, pair by pair (> 1: ours faster); cpu: the process's user + system "
          f"seconds, its workers included")
    print(f"{'whole process':<34}{'wall s':>9}{'peak MB':>9}{'peer/ours':>11}{'cpu s':>8}"
          f"{'peer/ours cpu':>15}")
    print(f"{'peer: json + aniposelib + Butterworth':<34}{med(rows['peer'], 0):>9.1f}"
          f"{med(rows['peer'], 1):>9.0f}{'1.00':>11}{med(rows['peer'], 2):>8.1f}{'1.00':>15}")
    peer_c = [p[2] for p in rows["peer"]]
    for key, label in (("tri_cold", "mocap triangulate (cold)"),
                       ("tri_warm", "mocap triangulate (cached)"), ("run", "mocap run --force")):
        if not rows[key]:
            continue
        ratio = statistics.median(p / o[0] for p, o in zip(peer_w, rows[key]))
        cpu = statistics.median(p / o[2] for p, o in zip(peer_c, rows[key]))
        print(f"{label:<34}{med(rows[key], 0):>9.1f}{med(rows[key], 1):>9.0f}{ratio:>11.2f}"
              f"{med(rows[key], 2):>8.1f}{cpu:>15.2f}")
    print(f"\n{'accuracy (MPJPE vs truth)':<34}{'mm':>9}{'cover':>9}")
    for name, (mm, cov) in r["accuracy"].items():
        print(f"{name:<34}{mm:>9.1f}{cov:>9.3f}")
    for who, key in (("peer", "peer_stages"), ("ours (mocap run's stages)", "stages")):
        if not r[key]:
            continue
        print(f"\n{'stages of ' + who:<34}" + "".join(f"{m:>7g}m s" for m in minutes)
              + f"{'peak MB':>9}{'growth':>8}")
        for name, (sec, rss) in r[key].items():
            cells = "".join(f"{results[m][key][name][0]:>9.2f}" for m in minutes)
            short = results[minutes[0]][key][name][0]
            growth = sec / short if short > 0 and len(minutes) > 1 else float("nan")
            print(f"{name:<34}{cells}{rss:>9.0f}{growth:>8.1f}")
    if len(minutes) > 1:
        print(f"(growth: the stage's seconds at {minutes[-1]:g} min over those at "
              f"{minutes[0]:g} min; linear = {minutes[-1] / minutes[0]:.1f})")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0, help="the long take's length")
    ap.add_argument("--growth-minutes", type=float, default=1.0,
                    help="the short take's length, for the growth column (0: none)")
    ap.add_argument("--runs", type=int, default=1, help="runs of each whole process")
    ap.add_argument("--no-run", action="store_true", help="skip `mocap run` and the stages")
    ap.add_argument("--no-stages", action="store_true", help="skip our stage breakdown")
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache/mocap/bench/long_take")
    ap.add_argument("--code", type=Path, default=REPO, help="the checkout whose mocap is timed")
    ap.add_argument("--video-minutes", type=float, default=0.5,
                    help="the video take's length (0: no video take)")
    ap.add_argument("--no-json", action="store_true", help="the video take alone")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO if not args.child else logging.WARNING,
                        format="%(message)s")
    if args.child:
        mode, session = args.child[0], Path(args.child[1])
        stages = run_peer(session, Path(args.child[2])) if mode == "peer" else run_ours(session)
        print(json.dumps(stages))
        return 0
    minutes = sorted({m for m in (args.growth_minutes, args.minutes) if m > 0})
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for m in minutes if not args.no_json else []:
            session = make_session(m, args.cache)
            log.info("measuring %g min (%s) with %s", m, session, args.code)
            results[m] = measure(session, args.code.resolve(), args.runs, not args.no_run,
                                 Path(tmp), not (args.no_run or args.no_stages))
    if results:
        print_table(results, minutes, args.runs)
    if args.video_minutes > 0:
        video_take().main(["--minutes", str(args.video_minutes), "--code", str(args.code)])
    return 0


def video_take():
    """``benchmarks/long_take_video.py`` as a module (this folder is not on the path)."""
    import importlib.util
    path = Path(__file__).with_name("long_take_video.py")
    spec = importlib.util.spec_from_file_location("long_take_video", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


if __name__ == "__main__":
    sys.exit(main())
