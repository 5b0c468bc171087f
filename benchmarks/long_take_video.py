"""The video take of ``benchmarks/long_take.py``: 4 cameras at 1920x1080, detection to 3D points
run as a user would (``mocap detect``, then ``mocap triangulate``), with per stage the wall
seconds, CPU seconds and the peak memory of the whole process tree (the command and its
detection workers, summed as proportional set sizes, sampled every 0.2 s), next to the
single-camera detection rate measured in the same run on the same clip, and a
kill-and-resume row.

The take: a 60-frame clip per camera (2 s at 30 fps) rendered once with the project's own
renderer (:func:`mocap.app.render_session.cached_render`: the ``studio4`` rig, an Anny body
walking, Blender's Workbench engine, cached under ``--cache``), then looped to ``M`` minutes
with ffmpeg's ``-stream_loop`` and stream copy (cheap: no re-encoding). A loop repeats the
motion: the person walks the same two seconds again and again (the detector does not know, so
its cost per frame is a real take's; its accuracy is not measured here). ffmpeg is the one on
the PATH, else the binary of the ``imageio-ffmpeg`` wheel (``[peers]`` extra).

Rows:

* ``mocap detect``: wall s, peak MB of the process tree, largest process MB; detection
  frames/s per camera (F / wall) and the aggregate over the cameras.
* single camera alone: one camera's first ``--single-frames`` frames detected by one worker
  with the threads each worker of the 4-camera run gets (``max(1, cpus // workers)``), model
  loading and file writing included as in the 4-camera run. ``per worker / single`` compares
  the 4-camera run's rate per worker process (aggregate / workers) with it: 1.00 is perfect
  parallel use (on a machine with fewer cores than workers x threads it cannot be reached:
  the line says how many cores there are).
* ``mocap triangulate`` after detection (the per-camera files reused).
* growth (``--growth-minutes G``): ``mocap detect`` and ``mocap triangulate`` at G minutes
  too, their seconds and peak memory against the take's, next to the ratio of lengths.
* kill and resume (``--no-kill``: skipped): the same command on a copy of the session,
  SIGKILLed (the whole process group: the command and its workers) after ``--kill-after`` s
  (default: 0.7 x the measured detection wall: with fewer workers than cameras, inside the
  cameras that run last), then run again: the frames checkpointed at the kill per camera, the frames
  the rerun detected, and whether every camera's file equals the uninterrupted run's. The
  rerun starts at each camera's last checkpoint, so the frames detected twice are those a
  camera had detected past its last checkpoint at the kill: fewer than one chunk (900 frames)
  per camera by construction (``tests/mocap/detect/test_detect_resume.py`` counts them).

Run:  nice -n 10 .venv/bin/python benchmarks/long_take_video.py [--minutes 1] [--model lite]
      [--no-flip] [--chunk-frames 900] [--growth-minutes G] [--no-kill]
      (or ``benchmarks/long_take.py --video-minutes M``)
"""
from __future__ import annotations

import os
import sys

sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CLIP_FRAMES, FPS, WIDTH_PX, RIG = 60, 30.0, 1920, "studio4"
log = logging.getLogger("benchmark")


# ----------------------------------------------------------------------------- the take

def ffmpeg_exe() -> str:
    found = shutil.which("ffmpeg")
    if found:
        return found
    import imageio_ffmpeg
    return imageio_ffmpeg.get_ffmpeg_exe()


def render_clip(cache: Path) -> tuple[Path, float]:
    """The rendered 60-frame clip session (cached) and its render seconds (NaN if cached)."""
    from mocap.app.render_session import RenderSpec, cached_render
    spec = RenderSpec(rig=RIG, motion="walk", frames=CLIP_FRAMES, fps=FPS, format="blazepose33",
                      width_px=WIDTH_PX, engine="workbench")
    return cached_render(spec, cache / "clip")


def make_video_session(minutes: float, cache: Path, model: str = "", flip: bool = True
                       ) -> tuple[Path, float]:
    """The looped session of ``minutes`` (made when missing) and the clip's render seconds;
    ``model`` and ``flip``: its ``[detect]`` settings (empty, True: the defaults)."""
    clip, render_s = render_clip(cache)
    frames = int(round(minutes * 60 * FPS))
    root = cache / f"{RIG}_{WIDTH_PX}px_walk_loop_{frames}f_{model or 'default'}" \
                   f"{'' if flip else '_noflip'}"
    if (root / ".complete").is_file():
        return root, render_s
    if root.exists():
        shutil.rmtree(root)
    (root / "videos").mkdir(parents=True)
    shutil.copy(clip / "calibration.toml", root / "calibration.toml")
    toml = (clip / "session.toml").read_text()
    keys = (f'model = "{model}"\n' if model else "") + ("" if flip else "flip = false\n")
    (root / "session.toml").write_text(toml.replace("[detect]\n", "[detect]\n" + keys, 1)
                                       if "[detect]\n" in toml else toml + "[detect]\n" + keys)
    for video in sorted((clip / "videos").glob("*.mp4")):
        subprocess.run([ffmpeg_exe(), "-v", "error", "-stream_loop", "-1", "-i", str(video),
                        "-c", "copy", "-frames:v", str(frames), "-y",
                        str(root / "videos" / video.name)], check=True)
    from mocap.detect.video import probe_source
    counts = {v.stem: probe_source(v, v.stem).num_frames for v in (root / "videos").iterdir()}
    if set(counts.values()) != {frames}:
        raise RuntimeError(f"looped videos hold {counts} frames, expected {frames}")
    (root / ".complete").write_text("")
    return root, render_s


def copy_session(src: Path, dst: Path) -> Path:
    """The session's calibration and settings copied, its videos linked (no ``out/``)."""
    (dst / "videos").mkdir(parents=True)
    for name in ("calibration.toml", "session.toml"):
        shutil.copy(src / name, dst / name)
    for v in (src / "videos").iterdir():
        (dst / "videos" / v.name).symlink_to(v.resolve())
    return dst


# ----------------------------------------------------------------------------- processes

def tree_rss_mb(root_pid: int) -> tuple[float, float]:
    """(sum, largest) MB of a process and its descendants: the sum of their proportional set
    sizes (PSS: a page shared by n processes counts 1/n in each, so forked children are not
    counted twice), and the largest resident set (RSS)."""
    import psutil
    try:
        procs = [psutil.Process(root_pid)]
        procs += procs[0].children(recursive=True)
    except psutil.NoSuchProcess:
        return 0.0, 0.0
    pss, rss = [], []
    for p in procs:
        try:
            m = p.memory_full_info()
        except psutil.Error:
            continue
        pss.append(getattr(m, "pss", m.rss) / 2**20)
        rss.append(m.rss / 2**20)
    return (sum(pss), max(rss)) if rss else (0.0, 0.0)


def run_tree(cmd: list, code: Path, kill_after: "float | None" = None) -> dict:
    """Run ``cmd`` in its own process group; wall s, peak tree MB (sum), peak largest MB;
    with ``kill_after``, SIGKILL the group then (``killed``: whether it was still running)."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    peak = [0.0, 0.0]
    cpu0 = children_cpu_s()
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, cwd=code, env=env, stdout=subprocess.DEVNULL, stderr=err,
                                start_new_session=True)
        done = threading.Event()

        def sample():
            while not done.is_set():
                s, m = tree_rss_mb(proc.pid)
                peak[0], peak[1] = max(peak[0], s), max(peak[1], m)
                done.wait(0.2)
        threading.Thread(target=sample, daemon=True).start()
        killed = False
        try:
            proc.wait(timeout=kill_after)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            killed = True
        done.set()
        wall = time.perf_counter() - t0
        err.seek(0)
        text = err.read()
    if not killed and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed:\n{text[-3000:]}")
    return {"wall": wall, "tree_mb": peak[0], "largest_mb": peak[1], "killed": killed,
            "cpu_s": children_cpu_s() - cpu0}


def children_cpu_s() -> float:
    """CPU seconds (user + system) of the waited-for children so far, their own waited-for
    children included (a command's detection workers): the work done, whatever else the
    machine runs at the time."""
    import resource
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def mocap_cmd(*args) -> list:
    return [sys.executable, "-m", "mocap.app.cli", "-q", *map(str, args)]


# ----------------------------------------------------------------------------- one camera

def single_camera(session: Path, frames: int, threads: int, out: Path) -> dict:
    """One camera's first ``frames`` frames detected alone by one worker with ``threads``
    threads (in this process): frames/s, model loading and file writing included."""
    from dataclasses import replace
    from mocap.app.detections import camera_jobs
    from mocap.app.session import Session
    s = Session(session)
    job = camera_jobs(session, s.rig().names, s.settings())[0]
    job = replace(job, num_frames=frames, out_path=out / f"{job.info.camera}.npz",
                  fingerprint="single", spec=replace(job.spec, num_threads=threads))
    from mocap.detect.run import detect_camera
    t0, cpu0 = time.perf_counter(), time.process_time()  # model loading included, as in
    detect_camera(job)                                   # the 4-camera run
    wall = time.perf_counter() - t0
    return {"camera": job.info.camera, "frames": frames, "threads": threads, "wall": wall,
            "fps": frames / wall, "cpu_s": time.process_time() - cpu0}


def single_child(session: Path, frames: int, threads: int, code: Path, work: Path) -> dict:
    """:func:`single_camera` in a child process (its own memory, as a worker's)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(session), str(frames),
           str(threads), str(work)]
    env = {**os.environ, "PYTHONPATH": str(code)}
    text = subprocess.run(cmd, cwd=code, env=env, check=True, capture_output=True,
                          text=True).stdout
    return json.loads(text.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- measuring

def checkpointed(session: Path) -> dict:
    """Per camera, the frames on disk: all of them for a finished camera, else its chunks."""
    from mocap.app.detections import camera_jobs
    from mocap.app.session import Session
    from mocap.detect.run import frames_left
    s = Session(session)
    jobs = camera_jobs(session, s.rig().names, s.settings())
    return {j.info.camera: j.num_frames - frames_left(j) for j in jobs}


def same_cameras(a: Path, b: Path) -> bool:
    """Every camera file of ``a/out/detect`` equals ``b``'s, array by array."""
    for pa in sorted((a / "out" / "detect").glob("*.npz")):
        with np.load(pa) as x, np.load(b / "out" / "detect" / pa.name) as y:
            if set(x.files) != set(y.files):
                return False
            for k in x.files:
                if k == "fingerprint":
                    continue
                if not np.array_equal(x[k], y[k], equal_nan=x[k].dtype.kind == "f"):
                    log.warning("%s: %s differs", pa.name, k)
                    return False
    return True


def measure_video(minutes: float, cache: Path, code: Path, work: Path, opts) -> dict:
    """Every figure of the video take (see the module's docstring); ``opts``: the command
    line's (single_frames, kill_after, chunk_frames, model, flip)."""
    session, render_s = make_video_session(minutes, cache, opts.model, not opts.no_flip)
    F = int(round(minutes * 60 * FPS))
    shutil.rmtree(session / "out", ignore_errors=True)
    log.info("video take %s: %d frames x 4 cameras", session, F)
    cpus = os.cpu_count() or 1
    workers = min(4, cpus)
    threads = max(1, cpus // workers)
    single = single_child(session, min(opts.single_frames, F), threads, code, work)
    log.info("  single camera: %s", single)
    chunk = ["--chunk-frames", opts.chunk_frames]
    detect, tri = stage_rows(session, code, chunk)
    r = {"minutes": minutes, "frames": F, "render_s": render_s, "cpus": cpus,
         "chunk": opts.chunk_frames, "model": opts.model or "default (heavy)",
         "flip": not opts.no_flip, "workers": workers, "threads": threads, "single": single,
         "detect": detect, "triangulate": tri, "growth": None, "killed": None}
    if opts.growth_minutes:
        short, _ = make_video_session(opts.growth_minutes, cache, opts.model, not opts.no_flip)
        shutil.rmtree(short / "out", ignore_errors=True)
        r["growth"] = dict(zip(("detect", "triangulate"), stage_rows(short, code, chunk)),
                           minutes=opts.growth_minutes)
    if opts.no_kill:
        return r
    victim = copy_session(session, work / "victim")
    r["kill_s"] = opts.kill_after or 0.7 * detect["wall"]
    r["killed"] = run_tree(mocap_cmd("detect", victim, *chunk), code, kill_after=r["kill_s"])
    r["at_kill"] = checkpointed(victim)
    r["rerun"] = run_tree(mocap_cmd("detect", victim, *chunk), code)
    r["equal"] = same_cameras(victim, session)
    log.info("  kill after %.0f s: %s; checkpointed %s; rerun %s", r["kill_s"], r["killed"],
             r["at_kill"], r["rerun"])
    return r


def stage_rows(session: Path, code: Path, chunk: list) -> tuple[dict, dict]:
    """``mocap detect`` then ``mocap triangulate`` on a session (figures of :func:`run_tree`)."""
    detect = run_tree(mocap_cmd("detect", session, *chunk), code)
    log.info("  %s: mocap detect: %s", session.name, detect)
    tri = run_tree(mocap_cmd("triangulate", session), code)
    log.info("  %s: mocap triangulate: %s", session.name, tri)
    return detect, tri


def print_video_table(r: dict) -> None:
    F, C, d = r["frames"], 4, r["detect"]
    render = "cached" if np.isnan(r["render_s"]) else f"{r['render_s']:.0f} s"
    print(f"\nvideo take: {r['minutes']:g} min, {C} cameras x {F} frames at 1920x1080 (a "
          f"{CLIP_FRAMES}-frame rendered clip looped; render {render}); "
          f"{r['cpus']} CPUs, {r['workers']} workers x {r['threads']} thread(s); BlazePose "
          f"{r['model']}, mirrored pass {'on' if r['flip'] else 'off'}; checkpoints every "
          f"{r['chunk']} frames")
    print(f"{'stage (whole process)':<40}{'wall s':>9}{'tree MB':>9}{'largest MB':>11}"
          f"{'CPU s':>8}")
    for label, row in (("mocap detect", d), ("mocap triangulate (detections reused)",
                                             r["triangulate"])):
        print(f"{label:<40}{row['wall']:>9.1f}{row['tree_mb']:>9.0f}{row['largest_mb']:>11.0f}"
              f"{row['cpu_s']:>8.0f}")
    per_cam = F / d["wall"]
    per_worker = per_cam * C / r["workers"]
    s = r["single"]
    print(f"\n{'detection frames/s':<40}{'per camera':>11}{'all':>9}{'per worker':>11}")
    print(f"{'4 cameras (mocap detect, whole process)':<40}{per_cam:>11.2f}{per_cam * C:>9.2f}"
          f"{per_worker:>11.2f}")
    print(f"{'one camera alone (' + str(s['frames']) + ' frames)':<40}{s['fps']:>11.2f}"
          f"{s['fps']:>9.2f}{s['fps']:>11.2f}")
    print(f"per camera / single = {per_cam / s['fps']:.2f}; per worker / single = "
          f"{per_worker / s['fps']:.2f} (1.00: no loss from running the cameras together; "
          f"{r['cpus']} cores for {r['workers']} workers x {r['threads']} thread(s))")
    cpu_4, cpu_1 = 1e3 * d["cpu_s"] / (C * F), 1e3 * s["cpu_s"] / s["frames"]
    print(f"CPU ms per frame (user + system, load-independent): 4 cameras {cpu_4:.1f} (whole "
          f"process tree), one camera alone {cpu_1:.1f}; frames/s per camera with a core "
          f"each x threads: {1e3 / cpu_4:.1f} vs {1e3 / cpu_1:.1f} ({cpu_1 / cpu_4:.2f})")
    print(f"10-minute estimate from this run: {C * 18000 / (per_cam * C) / 60:.0f} min of "
          f"detection for {C} x 18,000 frames at this run's rate; "
          f"{cpu_4 * C * 18000 / 6e4:.0f} CPU-minutes, at least "
          f"{cpu_4 * C * 18000 / 6e4 / r['cpus']:.0f} min on {r['cpus']} free cores")
    if r["growth"]:
        g = r["growth"]
        ratio = r["minutes"] / g["minutes"]
        print(f"\ngrowth from {g['minutes']:g} to {r['minutes']:g} min (x {ratio:.1f} frames; "
              f"linear = x {ratio:.1f})")
        for key, label in (("detect", "mocap detect"), ("triangulate", "mocap triangulate")):
            a, b = g[key], r[key]
            print(f"{label:<40}{a['wall']:>7.1f} -> {b['wall']:.1f} s (x "
                  f"{b['wall'] / a['wall']:.1f}); CPU {a['cpu_s']:.0f} -> {b['cpu_s']:.0f} s "
                  f"(x {b['cpu_s'] / max(a['cpu_s'], 1e-9):.1f}); peak tree "
                  f"{a['tree_mb']:.0f} -> {b['tree_mb']:.0f} MB")
    k = r["killed"]
    if k is None:
        return
    redo_bound = sum(min(r["chunk"], F - n) for n in r["at_kill"].values() if n < F)
    print(f"\nkill and resume: SIGKILL after {r['kill_s']:.0f} s ("
          f"{'killed' if k['killed'] else 'had finished'}); frames checkpointed per camera "
          f"{r['at_kill']}; the rerun detected {C * F - sum(r['at_kill'].values())} frames in "
          f"{r['rerun']['wall']:.1f} s (uninterrupted: {C * F} in {d['wall']:.1f} s), peak "
          f"tree {r['rerun']['tree_mb']:.0f} MB; frames detected twice < one chunk per "
          f"unfinished camera (at most {redo_bound}); every camera's file equals the "
          f"uninterrupted run's: {'yes' if r['equal'] else 'NO'}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=1.0, help="the video take's length")
    ap.add_argument("--single-frames", type=int, default=300,
                    help="frames of the single-camera measurement")
    ap.add_argument("--kill-after", type=float, default=0.0,
                    help="seconds before the SIGKILL (0: 0.7 x the detection's wall)")
    ap.add_argument("--growth-minutes", type=float, default=0.0,
                    help="also time detect and triangulate at this length (growth line)")
    ap.add_argument("--no-kill", action="store_true", help="skip the kill-and-resume row")
    ap.add_argument("--chunk-frames", type=int, default=900,
                    help="frames per checkpoint (mocap detect --chunk-frames)")
    ap.add_argument("--model", default="", choices=("", "heavy", "full", "lite"),
                    help="[detect] model of the take (default: the session default, heavy)")
    ap.add_argument("--no-flip", action="store_true",
                    help="[detect] flip = false (no mirrored pass)")
    ap.add_argument("--cache", type=Path,
                    default=Path.home() / ".cache/mocap/bench/long_take_video")
    ap.add_argument("--code", type=Path, default=REPO, help="the checkout whose mocap is timed")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO if not args.child else logging.WARNING,
                        format="%(message)s")
    if args.child:
        session, frames, threads, work = args.child
        print(json.dumps(single_camera(Path(session), int(frames), int(threads), Path(work))))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        r = measure_video(args.minutes, args.cache, args.code.resolve(), Path(tmp), args)
    print_video_table(r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
