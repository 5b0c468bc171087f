"""Calibration from people: ``mocap calibrate SESSION --level-from-person`` and
``--refine-from-people`` on virtual-studio sessions whose true cameras and floor are known, and
the refinement on the real Pose2Sim demo.

Run:  .venv/bin/python benchmarks/calibration_people.py [--frames 60] [--only-from-people]

Studio scenes (rig ``studio4``, the default detector error model, seeded): the session's
calibration is the true rig put in a tilted world (6 deg, 1.1 m up, turned and shifted) and/or
made poor (cameras 2-4 off by ~0.6 deg and ~3 cm, as poor board views leave them). The command
runs as a user would run it (through the CLI); then, against the truth:

* tilt (deg) of the recovered Z from the true up, and the recovered height (cm) of the true
  floor under the person (levelling);
* per-camera RMS reprojection error before / after (px, from the command's report), the largest
  camera-centre error after the best similarity (cm: 2D keypoints cannot tell the world frame or
  the scale) before / after, and the change of the rig's scale (%) (refinement).

Real data: the Pose2Sim 0.4.15 demo (OpenPose BODY_25B of 4 cameras, Qualisys calibration),
fetched pinned by hash: median reprojection error of the triangulated main person with the
shipped calibration and after refining it from that person.

No board (``mocap calibrate SESSION --from-people``, intrinsics known, the session's
calibration file giving only them): a 30 s walk (rigs ``studio4`` and ``lab8``, the default
detector error model) through the CLI, the person's height given; against the truth: the
largest camera-centre error (cm) and rotation error (deg) after the best similarity, the
scale error (%, mean distance between cameras) and the scale uncertainty the command reports
(%), the tilt of the recovered Z (deg) and the per-camera RMS reprojection error (px, largest).
The same with nothing known of the lenses (no calibration file, ``--image-size``): the largest
focal-length error (%) and the largest standard deviation reported for a focal (%).

On the Pose2Sim demo, each calibration's leave-one-camera-out agreement with the detections
(the person triangulated by three cameras, projected into the fourth): the Qualisys file is
off by one-sided offsets of 25-30 px in two cameras where the calibration from people is
unbiased, which bounds how close the 3D keypoints through any calibration that fits the
detections can come to those through the Qualisys file.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from calibration import Rig  # noqa: E402
from calibration.extrinsics import rotation_angle_deg  # noqa: E402
from calibration.world import camera_centers, similarity_from_points, transform_rig  # noqa: E402
from mocap.app.cli import main as cli  # noqa: E402
from mocap.app.studio import write_session  # noqa: E402
from mocap.simulate import Actor, load_rig_template, simulate_take  # noqa: E402
from mocap.simulate.calib_truth import (T_TILTED_FROM_TRUE, floor_errors,  # noqa: E402
                                        mean_baseline_m, poor_rig, relative_centre_error_m)

STUDIO = load_rig_template("studio4")
TURNER = Actor("turn", 1.72, seed=2, xy_offset_m=(0.4, -0.3))
SCENES = (
    # label, keypoint format, actors, tilted world, poor cameras, flags
    ("level: turning on the spot, BODY_25", "body25", (TURNER,), True, False, ("--level-from-person",)),
    ("level: standing still, COCO-17", "coco17", (Actor("stand", 1.72, seed=2, xy_offset_m=(0.4, -0.3)),),
     True, False, ("--level-from-person",)),
    ("refine: a walker, poor cameras", "body25", (Actor("walk", 1.75, seed=1),), False, True,
     ("--refine-from-people",)),
    ("refine + level: turner and walker", "body25", (TURNER, Actor("walk", 1.75, seed=1)), True, True,
     ("--refine-from-people", "--level-from-person")),
)


def studio_row(label, fmt, actors, tilted, poor, flags, frames: int, root: Path) -> dict:
    """Run one scene through the CLI; its errors against the truth."""
    start = poor_rig(STUDIO) if poor else STUDIO
    if tilted:
        start = transform_rig(start, T_TILTED_FROM_TRUE)
    take = simulate_take(STUDIO, list(actors), frames, 30.0, fmt, seed=3 if poor and not tilted else 1)
    write_session(root, start, take)
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        rc = cli(["calibrate", str(root), *flags, "-q"])
    seconds = time.perf_counter() - t0
    if rc != 0:
        raise RuntimeError(f"{label}: mocap calibrate exited {rc}")
    rig = Rig.load(root / "calibration.toml")
    row = {"scene": label, "seconds": seconds}
    if "--level-from-person" in flags:
        tilt, floor_z, _, _ = floor_errors(rig, STUDIO, take.gt_xyz, fmt)
        row.update(tilt=tilt, floor_cm=100 * floor_z)
    if "--refine-from-people" in flags:
        report = json.loads((root / "out/calibration/adjust_report.json").read_text())
        cams = report["refine_from_people"]["cameras"]
        rms = lambda k: float(np.sqrt(np.mean([c[k] ** 2 for c in cams])))  # noqa: E731
        row.update(px_before=rms("reprojection_error_before_px"),
                   px_after=rms("reprojection_error_after_px"),
                   centre_before=100 * relative_centre_error_m(start, STUDIO),
                   centre_after=100 * relative_centre_error_m(rig, STUDIO),
                   scale=100 * (mean_baseline_m(rig) / mean_baseline_m(start) - 1))
    return row


def pose2sim_row() -> dict:
    """The refinement on the Pose2Sim 0.4.15 demo (main person, OpenPose BODY_25B)."""
    from calibration.people import refine_from_keypoints
    from mocap.datasets import pose2sim_demo_capture
    from mocap.triangulate import select_main_person, triangulate

    rig, det = pose2sim_demo_capture()
    main = select_main_person(det)

    def median_px(r: Rig) -> float:
        X = triangulate(main, r).xyz[:, 0]                                  # (F, J, 3)
        seen = main.conf[:, :, 0] >= 0.2
        err = np.stack([np.linalg.norm(cam.project(X) - main.xy[c, :, 0], axis=-1)
                        for c, cam in enumerate(r)])
        return float(np.nanmedian(np.where(seen, err, np.nan)))

    t0 = time.perf_counter()
    res = refine_from_keypoints(rig, main.xy[:, :, 0], main.conf[:, :, 0])
    seconds = time.perf_counter() - t0
    return {"scene": "refine: Pose2Sim demo (real)", "seconds": seconds,
            "px_before": median_px(rig), "px_after": median_px(res.rig),
            "scale": 100 * (mean_baseline_m(res.rig) / mean_baseline_m(rig) - 1)}


FROM_PEOPLE = (("studio4", 900, False), ("lab8", 900, False), ("studio4", 900, True),
               ("lab8", 900, True))


def aligned_errors(rig: Rig, truth: Rig) -> tuple[float, float]:
    """Largest camera-centre error (m) and rotation error (deg) after the best similarity."""
    c, t = camera_centers(rig.cameras), camera_centers(truth.cameras)
    T, s = similarity_from_points(c, t)
    al = transform_rig(rig, T, s)
    rot = [float(rotation_angle_deg(a.R_cam_from_world, b.R_cam_from_world)) for a, b in zip(al, truth)]
    return float(np.max(np.linalg.norm(camera_centers(al.cameras) - t, axis=1))), max(rot)


def from_people_row(rig_name: str, frames: int, estimate: bool, root: Path) -> dict:
    """``mocap calibrate --from-people`` on a studio walk (poses in the file: wrong); with
    ``estimate``, no calibration file at all (``--image-size``: focal lengths and k1
    estimated)."""
    truth = load_rig_template(rig_name)
    take = simulate_take(truth, [Actor("walk", 1.75, seed=1)], frames, 30.0, "body25", seed=1)
    write_session(root, transform_rig(poor_rig(truth, rot_deg=20, shift_m=1.0), T_TILTED_FROM_TRUE),
                  take)
    extra = []
    if estimate:
        (root / "calibration.toml").unlink()
        extra = ["--image-size", "{}x{}".format(*truth[0].size_wh)]
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        rc = cli(["calibrate", str(root), "--from-people", "--height-m", "1.75", "-q", *extra])
    seconds = time.perf_counter() - t0
    if rc != 0:
        raise RuntimeError(f"{rig_name}: mocap calibrate --from-people exited {rc}")
    rig = Rig.load(root / "calibration.toml")
    report = json.loads((root / "out/calibration/adjust_report.json").read_text())["from_people"]
    centre, rot = aligned_errors(rig, truth)
    tilt, _, _, _ = floor_errors(rig, truth, take.gt_xyz, "body25")
    row = {"scene": f"{rig_name}, {frames / 30:.0f} s walk, K {'unknown' if estimate else 'known'}",
           "centre_cm": 100 * centre,
            "rot_deg": rot, "scale": 100 * (mean_baseline_m(rig) / mean_baseline_m(truth) - 1),
            "scale_unc": report["scale_uncertainty_percent"], "tilt": tilt,
            "px": max(c["reprojection_error_px"] for c in report["cameras"]), "seconds": seconds}
    if estimate:
        f = np.array([c.K[0, 0] for c in rig])
        row["focal"] = 100 * float(np.max(np.abs(f / np.array([c.K[0, 0] for c in truth]) - 1)))
        row["focal_sd"] = 100 * max(c["focal_sd_px"] / c["focal_px"]
                                    for c in report["intrinsics"]["cameras"])
    return row


def pose2sim_from_people_row(estimate: bool = False) -> dict:
    """``--from-people``'s steps on the Pose2Sim demo (main person, the Qualisys file's
    intrinsics), against its Qualisys calibration after the similarity of the camera centres:
    centres, rotations, and the main person's 3D keypoints triangulated through each (median
    distance); the same for the Qualisys calibration refined from that person (a reference:
    where the bundle adjustment on this take goes from the Qualisys start). With ``estimate``
    the Qualisys file gives only the image sizes (focal lengths and k1 estimated)."""
    from calibration.people import refine_from_keypoints
    from mocap.datasets import pose2sim_demo_capture
    from mocap.people_bootstrap import calibrate_from_people
    from mocap.triangulate import select_main_person, triangulate

    qualisys, det = pose2sim_demo_capture()
    main = select_main_person(det)
    t0 = time.perf_counter()
    cal = calibrate_from_people(qualisys.cameras, main, 1.72, estimate_intrinsics=estimate)
    seconds = time.perf_counter() - t0
    X_q = triangulate(main, qualisys).xyz

    def keypoints_mm(rig: Rig) -> float:
        c, t = camera_centers(rig.cameras), camera_centers(qualisys.cameras)
        T, s = similarity_from_points(c, t)
        X = triangulate(main, transform_rig(rig, T, s)).xyz
        return 1000 * float(np.nanmedian(np.linalg.norm(X - X_q, axis=-1)))

    ref = refine_from_keypoints(qualisys, main.xy[:, :, 0], main.conf[:, :, 0]).rig
    centre, rot = aligned_errors(cal.rig, qualisys)
    if not estimate:
        ours = leave_one_out(cal.rig)
        theirs = leave_one_out()
        print("\nPose2Sim demo, each calibration against the detections: each camera's keypoints "
              "vs the person triangulated by the other three (median px; median signed offset px)")
        for (name, px, off), (_, px2, off2) in zip(theirs, ours):
            print(f"  {name:<8} Qualisys {px:6.1f} px ({off[0]:+6.1f}, {off[1]:+6.1f})   "
                  f"from people {px2:6.1f} px ({off2[0]:+6.1f}, {off2[1]:+6.1f})")
    row = {"scene": f"Pose2Sim demo (real), K {'unknown' if estimate else 'Qualisys'}",
           "centre_cm": 100 * centre,
           "rot_deg": rot, "kp_mm": keypoints_mm(cal.rig), "kp_ref_mm": keypoints_mm(ref),
           "px": float(np.max(cal.refined.error_after_px)), "seconds": seconds}
    if estimate:
        f = np.array([c.K[0, 0] for c in cal.rig]) / np.array([c.K[0, 0] for c in qualisys])
        row["focal"] = 100 * float(np.max(np.abs(f - 1)))
        row["focal_sd"] = 100 * float(np.max(cal.refined.focal_sd_px
                                             / [c.K[0, 0] for c in cal.rig]))
    return row


def leave_one_out(rig=None) -> list:
    """How well the Qualisys file fits the demo's detections, camera by camera: the main
    person triangulated by the other three cameras and projected into each (median distance to
    its keypoints, pixels, and the median signed offset): a camera whose calibration the take
    does not support shows a large, one-sided error that no calibration from the keypoints can
    follow (the limit of the 3D keypoints' agreement with the Qualisys file). ``rig``: another
    calibration of the demo (None: the Qualisys file)."""
    from dataclasses import replace

    from mocap.datasets import pose2sim_demo_capture
    from mocap.triangulate import select_main_person, triangulate

    qualisys, det = pose2sim_demo_capture()
    main = select_main_person(det)
    rig = qualisys if rig is None else rig
    rows = []
    for c, cam in enumerate(rig):
        conf = np.array(main.conf)
        conf[c] = 0
        X = triangulate(replace(main, conf=conf), rig).xyz[:, 0]
        e = cam.project(X.reshape(-1, 3)).reshape(X.shape[:2] + (2,)) - main.xy[c, :, 0]
        e = np.where((main.conf[c, :, 0] >= 0.2)[..., None], e, np.nan).reshape(-1, 2)
        rows.append((cam.name, float(np.nanmedian(np.linalg.norm(e, axis=-1))),
                     np.nanmedian(e, axis=0)))
    return rows


def print_from_people(rows: list) -> None:
    head = (f"{'no board (--from-people)':<34} {'centre cm':>9} {'rot deg':>8} {'focal %':>7} "
            f"{'f sd %':>6} {'scale %':>8} "
            f"{'+- %':>6} {'tilt deg':>8} {'px max':>7} {'kp mm':>6} {'ref mm':>6} {'time s':>7}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['scene']:<34} {r['centre_cm']:9.2f} {r['rot_deg']:8.3f} "
              f"{fmt(r.get('focal'), '7.2f'):>7} {fmt(r.get('focal_sd'), '6.2f'):>6} "
              f"{fmt(r.get('scale'), '8.3f'):>8} {fmt(r.get('scale_unc'), '6.2f'):>6} "
              f"{fmt(r.get('tilt'), '8.2f'):>8} {fmt(r.get('px'), '7.2f'):>7} "
              f"{fmt(r.get('kp_mm'), '6.1f'):>6} {fmt(r.get('kp_ref_mm'), '6.1f'):>6} "
              f"{r['seconds']:7.1f}")
    print("\ncentre, rot: largest camera-centre and rotation error after the best similarity; "
          "focal: largest focal-length error (K unknown: no calibration file) and f sd: the "
          "largest standard deviation the command reports for one; "
          "scale: error of the mean distance between cameras; +-: the scale uncertainty the "
          "command reports; px: largest per-camera RMS reprojection error (the command's report); "
          "kp: median distance of the 3D keypoints through our calibration (similarity-aligned "
          "on the camera centres) from those through the Qualisys one; ref: the same for the "
          "Qualisys calibration refined from the person (--refine-from-people's adjustment).")


def fmt(v, spec: str) -> str:
    return format(v, spec) if v is not None else ""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=60, help="frames per studio take")
    ap.add_argument("--only-from-people", action="store_true",
                    help="only the rows of the calibration with no board")
    args = ap.parse_args()
    people = []
    for rig_name, frames, estimate in FROM_PEOPLE:
        with tempfile.TemporaryDirectory() as tmp:
            people.append(from_people_row(rig_name, frames, estimate, Path(tmp) / "s"))
        print(f"  from people, {rig_name}: done", file=sys.stderr)
    people.append(pose2sim_from_people_row())
    people.append(pose2sim_from_people_row(estimate=True))
    print_from_people(people)
    if args.only_from_people:
        return
    print()
    rows = []
    for scene in SCENES:
        with tempfile.TemporaryDirectory() as tmp:
            rows.append(studio_row(*scene, args.frames, Path(tmp) / "s"))
        print(f"  {scene[0]}: done", file=sys.stderr)
    rows.append(pose2sim_row())
    head = (f"{'scene':<38} {'tilt deg':>8} {'floor cm':>8} {'px before':>9} {'px after':>8} "
            f"{'centre cm before':>16} {'after':>6} {'scale %':>8} {'time s':>7}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['scene']:<38} {fmt(r.get('tilt'), '8.2f'):>8} {fmt(r.get('floor_cm'), '8.2f'):>8} "
              f"{fmt(r.get('px_before'), '9.2f'):>9} {fmt(r.get('px_after'), '8.2f'):>8} "
              f"{fmt(r.get('centre_before'), '16.2f'):>16} {fmt(r.get('centre_after'), '6.2f'):>6} "
              f"{fmt(r.get('scale'), '8.3f'):>8} {r['seconds']:7.1f}")
    print("\npx: RMS over cameras of each camera's RMS reprojection error (studio, the command's "
          "report), median over detections (Pose2Sim demo); centre: largest camera-centre error "
          "after the best similarity; floor: recovered height of the true floor under the person.")


if __name__ == "__main__":
    main()
