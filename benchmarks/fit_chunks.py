"""The fit of a long take in windows (``[fit] chunk_frames``) against the whole take at once:
seconds, the peak memory the fit adds, keypoint error against the truth, height error, and
the joints' distance between the two fits.

The take: one minute of Anny walking in the studio (``studio4``, the default detector error
model), triangulated and filtered as in ``mocap run``, played forward and back ``--repeats``
times (a continuous motion of any length with known truth). Each fit runs in its own process
(its peak resident memory after the fit minus before it: the memory the fit added).

Run:  nice -n 10 .venv/bin/python benchmarks/fit_chunks.py [--repeats 3] [--chunk 600]
      [--overlap 60]
"""
from __future__ import annotations

import os
import sys

sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402


def make_take(path: Path, repeats: int) -> None:
    from mocap.body import load_body_model
    from mocap.filter import filter_points
    from mocap.settings import Settings
    from mocap.simulate import ErrorModel, load_rig_template
    from mocap.simulate.bodymodel import BodyActor, simulate_body_take
    from mocap.triangulate import triangulate
    anny, rig = load_body_model("anny"), load_rig_template("studio4")
    bt = simulate_body_take(rig, anny, [BodyActor("walk", seed=1)], 1800, 30.0, "body25",
                            ErrorModel(), seed=3)
    s = Settings()
    p = filter_points(triangulate(bt.take.detections, rig, s.triangulate), s.filter, rig)

    def tile(a):
        return np.concatenate([a if i % 2 == 0 else a[::-1] for i in range(repeats)])
    np.savez(path, xyz=tile(p.xyz), conf=tile(p.conf), gt=tile(bt.take.gt_xyz[:, 0]),
             names=np.array(p.joint_names), fmt=p.format, fps=p.fps, height=bt.heights_m[0])


def peak_mb() -> float:
    """This process's peak resident memory, MB (``VmHWM``: unlike ``ru_maxrss``, not
    inherited from the parent across ``exec``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def fit_once(path: Path, chunk: int, overlap: int, out: Path) -> None:
    from mocap.body import load_body_model
    from mocap.body.metrics import keypoint_mpjpe_mm
    from mocap.fit import fit_points3d
    from mocap.settings import Settings
    from mocap.types import Points3D
    d = np.load(path)
    anny = load_body_model("anny")
    pts = Points3D(d["xyz"], d["conf"], tuple(d["names"]), float(d["fps"]), str(d["fmt"]))
    settings = dataclasses.replace(Settings().fit, device="cpu", reprojection_weight=0.0,
                                   chunk_frames=chunk, chunk_overlap_frames=overlap)
    rss0 = peak_mb()
    t0 = time.perf_counter()
    f = fit_points3d(pts, settings, anny)[0]
    seconds = time.perf_counter() - t0
    rss1 = peak_mb()
    np.save(out.with_suffix(".npy"), f.body.joints)
    out.write_text(json.dumps({
        "frames": len(pts.xyz), "seconds": seconds, "fit_mb": rss1 - rss0,
        "mpjpe_mm": keypoint_mpjpe_mm(f.body.keypoints, d["gt"]),
        "height_mm": 1000 * abs(f.height_m - float(d["height"]))}))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--chunk", type=int, default=600)
    ap.add_argument("--overlap", type=int, default=60)
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        fit_once(Path(a.child[0]), int(a.child[1]), int(a.child[2]), Path(a.child[3]))
        return 0
    work = Path(tempfile.mkdtemp(prefix="fit_chunks_"))
    take = work / "take.npz"
    make_take(take, a.repeats)
    rows = {}
    for name, chunk in (("whole take", 0), (f"windows {a.chunk}/{a.overlap}", a.chunk)):
        out = work / f"fit_{chunk}.json"
        subprocess.run([sys.executable, __file__, "--child", str(take), str(chunk),
                        str(a.overlap), str(out)], check=True)
        rows[name] = (json.loads(out.read_text()), np.load(out.with_suffix(".npy")))
    (whole, jw), (_, jc) = rows.values()
    print(f"{whole['frames']} frames, CPU, 1 thread per process (the windows after the first "
          f"forked onto the CPUs the load leaves idle: mocap.parallel.idle_cpus)")
    print(f"{'fit':<18} {'seconds':>8} {'fit MB':>7} {'MPJPE mm':>9} {'height mm':>10}")
    for name, (r, _) in rows.items():
        print(f"{name:<18} {r['seconds']:8.1f} {r['fit_mb']:7.0f} {r['mpjpe_mm']:9.2f} "
              f"{r['height_mm']:10.2f}")
    gap = 1000 * np.linalg.norm(jc - jw, axis=-1)
    print(f"windows vs whole: joints {gap.mean():.2f} mm mean, {gap.max():.2f} mm max")
    return 0


if __name__ == "__main__":
    sys.exit(main())
