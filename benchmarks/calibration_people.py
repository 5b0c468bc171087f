"""Calibration from people: ``mocap calibrate SESSION --level-from-person`` and
``--refine-from-people`` on virtual-studio sessions whose true cameras and floor are known, and
the refinement on the real Pose2Sim demo.

Run:  .venv/bin/python benchmarks/calibration_people.py [--frames 60] [--only-from-people]
      [--only-pose2sim]

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
On the Pose2Sim demo (main person, 100 frames): the same steps with the Qualisys file's
intrinsics ("K Qualisys"), with only its image sizes ("K unknown"), and through the CLI as a
user would run it with no calibration file and each camera's own checkerboard images in
``calibration/<camera>/`` ("K boards": intrinsics from the demo's 6-7 board views per camera),
each against the Qualisys file.

On the Pose2Sim demo, what the gap between the 3D keypoints through our calibration and
through the Qualisys file is made of, per calibration (the Qualisys file, ours, and the
Qualisys file refined from the person), each moved onto the Qualisys camera centres: its
leave-one-camera-out agreement with the detections (the person triangulated by three cameras,
projected into the fourth: the Qualisys file is off by one-sided offsets of 25-30 px in two
cameras where the calibration from people is unbiased); the spread of the person's bone lengths
over the take through it (a calibration that fits the images gives steadier bones); the
distance between our triangulation and Pose2Sim's own (``benchmarks/pose2sim_peer.py``,
15 px camera exclusion) through the same calibration (the Qualisys file's keypoints depend on
which views a triangulator trusts; a consistent calibration's do not); and the distance to the
Qualisys file's keypoints through either triangulator, as aligned and after the best similarity
of the keypoints. Last, the demo's reference ``.trc`` against Pose2Sim's triangulation and
filter through the Qualisys file as we read it (that we read the file as Pose2Sim does, and
that the reference is that file's keypoints). Pose2Sim's columns need its imports (the
``peers`` extra); without them they stay empty.
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
        sweep = report["intrinsics"]["sweep_focal_over_width"] * truth[0].size_wh[0]
        row["sweep"] = 100 * float(np.max(np.abs(sweep / np.array([c.K[0, 0] for c in truth]) - 1)))
    return row


def pose2sim_board_session(root: Path) -> Path:
    """The Pose2Sim demo as a user sets it up for ``--from-people`` with no calibration file:
    ``pose/cam_0N/`` (the 0.4.15 demo's OpenPose JSON), ``calibration/cam_0N/`` (the 0.10.49
    demo's checkerboard images of each camera, never shared between cameras) and
    ``session.toml`` (60 fps, BODY_25B, the 4 x 7 checkerboard, a height of 1.72 m)."""
    from mocap.datasets import pose2sim_demo

    demo = pose2sim_demo("0.4.15") / "Demo" / "pose"
    boards = pose2sim_demo("0.10.49") / "Demo_SinglePerson" / "calibration" / "intrinsics"
    for i in range(1, 5):
        for folder, target in (("pose", demo / f"cam{i}_json"),
                               ("calibration", boards / f"int_cam0{i}_img")):
            (root / folder).mkdir(parents=True, exist_ok=True)
            (root / folder / f"cam_0{i}").symlink_to(target)
    (root / "session.toml").write_text(
        '[take]\nfps = 60.0\n[detect]\nformat = "body25b"\n[calibration]\n'
        'board_file = "pose2sim_checkerboard_4x7"\nperson_height_m = 1.72\n')
    return root


def pose2sim_board_row(root: Path) -> dict:
    """``mocap calibrate SESSION --from-people`` on the Pose2Sim demo with each camera's own
    checkerboard images and no calibration file (:func:`pose2sim_board_session`), through the
    CLI (everyone in the views, as a user runs it), against the Qualisys file."""
    from mocap.datasets import pose2sim_demo_capture
    from mocap.triangulate import select_main_person, triangulate

    qualisys, det = pose2sim_demo_capture()
    main = select_main_person(det)
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        rc = cli(["calibrate", str(pose2sim_board_session(root)), "--from-people", "-q"])
    seconds = time.perf_counter() - t0
    if rc != 0:
        raise RuntimeError(f"Pose2Sim demo with its checkerboards: mocap calibrate exited {rc}")
    rig = Rig.load(root / "calibration.toml")
    report = json.loads((root / "out/calibration/adjust_report.json").read_text())
    centre, rot = aligned_errors(rig, qualisys)
    X_q = triangulate(main, qualisys).xyz
    X = triangulate(main, aligned_to(rig, qualisys)).xyz
    f = np.array([c.K[0, 0] for c in rig]) / np.array([c.K[0, 0] for c in qualisys])
    return {"scene": "Pose2Sim demo (real), K boards", "centre_cm": 100 * centre, "rot_deg": rot,
            "focal": 100 * float(np.max(np.abs(f - 1))),
            "kp_mm": 1000 * float(np.nanmedian(np.linalg.norm(X - X_q, axis=-1))),
            "px": max(c["reprojection_error_px"] for c in report["from_people"]["cameras"]),
            "seconds": seconds, "rig": rig}


def pose2sim_from_people_row(estimate: bool = False, extra: "dict | None" = None) -> dict:
    """``--from-people``'s steps on the Pose2Sim demo (main person, the Qualisys file's
    intrinsics), against its Qualisys calibration after the similarity of the camera centres:
    centres, rotations, and the main person's 3D keypoints triangulated through each (median
    distance); the same for the Qualisys calibration refined from that person (a reference:
    where the bundle adjustment on this take goes from the Qualisys start). With ``estimate``
    the Qualisys file gives only the image sizes (focal lengths and k1 estimated). ``extra``:
    other calibrations of the demo for the table of :func:`gap_rows`."""
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
        print_gap(gap_rows(qualisys, main, {"Qualisys file": qualisys,
                                            "from people (K Qualisys)": cal.rig,
                                            **(extra or {}),
                                            "Qualisys refined from person": ref}))
        print("the demo's reference .trc vs Pose2Sim's triangulation + filter of the detections "
              f"through the Qualisys file as we read it: "
              f"{fmt(reference_reproduced_mm(qualisys, main), '.1f')} mm median")
    row = {"scene": f"Pose2Sim demo (real), K {'unknown' if estimate else 'Qualisys'}",
           "centre_cm": 100 * centre,
           "rot_deg": rot, "kp_mm": keypoints_mm(cal.rig), "kp_ref_mm": keypoints_mm(ref),
           "px": float(np.max(cal.refined.error_after_px)), "seconds": seconds}
    if estimate:
        f = np.array([c.K[0, 0] for c in cal.rig]) / np.array([c.K[0, 0] for c in qualisys])
        row["focal"] = 100 * float(np.max(np.abs(f - 1)))
        row["focal_sd"] = 100 * float(np.max(cal.refined.focal_sd_px
                                             / [c.K[0, 0] for c in cal.rig]))
        sweep = cal.focal_sweep.ratio * qualisys[0].size_wh[0]
        row["sweep"] = 100 * float(np.max(np.abs(sweep / np.array([c.K[0, 0] for c in qualisys]) - 1)))
    return row


def aligned_to(rig: Rig, reference: Rig) -> Rig:
    """``rig`` moved by the similarity that best maps its camera centres onto ``reference``'s."""
    T, s = similarity_from_points(camera_centers(rig.cameras), camera_centers(reference.cameras))
    return transform_rig(rig, T, s)


def keypoint_gap_mm(X: np.ndarray, X_ref: np.ndarray) -> tuple[float, float]:
    """Median distance (mm) of (F, J, 3) keypoints ``X`` to ``X_ref`` as they are, and after the
    similarity that best maps ``X`` onto ``X_ref`` (the keypoints' own shape difference)."""
    ok = np.isfinite(X).all(-1) & np.isfinite(X_ref).all(-1)
    T, s = similarity_from_points(X[ok], X_ref[ok])
    moved = s * X[ok] @ T[:3, :3].T + T[:3, 3]
    return (1000 * float(np.median(np.linalg.norm(X[ok] - X_ref[ok], axis=-1))),
            1000 * float(np.median(np.linalg.norm(moved - X_ref[ok], axis=-1))))


def pose2sim_triangulation(main, rig: Rig, work: Path):
    """(F, J, 3) Pose2Sim's own triangulation (no filter) of ``main`` through ``rig``, or None
    when Pose2Sim's imports (the ``peers`` extra) are missing."""
    try:
        from pose2sim_peer import pose2sim_keypoints  # benchmarks/, on sys.path[0]
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            return pose2sim_keypoints(main, rig, work, filtered=False)
    except ImportError as e:
        print(f"  (Pose2Sim's triangulation skipped: {e})", file=sys.stderr)
        return None


def reference_reproduced_mm(qualisys: Rig, main) -> float | None:
    """Median distance (mm) of the demo's reference ``Balancing_for_IK.trc`` to Pose2Sim's own
    triangulation and filtering of the main person through the Qualisys file as we read it
    (same frame, no alignment): near zero says the reference is that file through Pose2Sim's
    algorithm, and that we hand Pose2Sim the file it wrote. None without Pose2Sim's imports."""
    from exporters.trc import read_trc
    from mocap.datasets import pose2sim_demo
    from mocap.keypoints import get_format
    from pose2sim_peer import pose2sim_keypoints  # benchmarks/, on sys.path[0]

    try:
        with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            P = pose2sim_keypoints(main, qualisys, Path(tmp) / "p")
    except ImportError:
        return None
    trc = read_trc(pose2sim_demo("0.4.15") / "Demo" / "opensim" / "Balancing_for_IK.trc", up="file")
    ref = trc.xyz[..., [2, 0, 1]]                 # Pose2Sim's TRC axes are (y, z, x)
    idx = [get_format(main.format).native_names.index(n) for n in trc.marker_names]
    F = min(len(ref), len(P))
    return 1000 * float(np.nanmedian(np.linalg.norm(P[:F, idx] - ref[:F], axis=-1)))


def gap_rows(qualisys: Rig, main, rigs: dict) -> list:
    """What the keypoint gap between calibrations of the Pose2Sim demo is made of, one row per
    calibration (each moved onto the Qualisys camera centres first): its leave-one-camera-out
    agreement with the detections (:func:`leave_one_out`), the spread of the person's bone
    lengths over the take through it (a rigid body's bones keep their length: mm, median SD
    over the format's bones), how far two triangulators land through it (ours and Pose2Sim's
    own, 15 px camera exclusion: a calibration that fits the detections leaves little for them
    to disagree about), and its keypoints' distance to the Qualisys file's, through ours and
    through Pose2Sim's triangulation (as aligned on the camera centres; and after the best
    similarity of the keypoints themselves), and to those through the last calibration of
    ``rigs`` (the Qualisys file refined from the person: where a calibration that fits the
    detections lands from the Qualisys start)."""
    from mocap.geometry import bone_length_stats, bone_lengths
    from mocap.keypoints import get_format
    from mocap.triangulate import triangulate

    bones = get_format(main.format).bone_indices
    rows, X_q, P_q, Xs = [], None, None, []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (label, rig) in enumerate(rigs.items()):
            rig = aligned_to(rig, qualisys)
            X = triangulate(main, rig).xyz[:, 0]
            Xs.append(X)
            P = pose2sim_triangulation(main, rig, Path(tmp) / f"p{i}")
            X_q, P_q = (X, P) if X_q is None else (X_q, P_q)
            spread = lambda Y: 1000 * float(np.nanmedian(bone_length_stats(bone_lengths(Y, bones))["std_m"]))  # noqa: E731
            row = {"label": label, "loo": leave_one_out(rig), "bone_sd_mm": spread(X),
                   "vs_qualisys_mm": keypoint_gap_mm(X, X_q),
                   "scale": float(similarity_from_points(camera_centers(rigs[label].cameras),
                                                         camera_centers(qualisys.cameras))[1])}
            if P is not None:
                row["ours_vs_pose2sim_mm"] = keypoint_gap_mm(X, P)[0]
                row["pose2sim_vs_qualisys_mm"] = keypoint_gap_mm(P, P_q)
                row["pose2sim_bone_sd_mm"] = spread(P)
            rows.append(row)
    for row, X in zip(rows, Xs):
        row["vs_refined_mm"] = keypoint_gap_mm(X, Xs[-1])[0]
    return rows


def print_gap(rows: list) -> None:
    print("\nPose2Sim demo: what the keypoint gap is made of (main person; each calibration on the "
          "Qualisys camera centres)")
    names = [name for name, _, _ in rows[0]["loo"]]
    head = (f"{'calibration':<30} " + " ".join(f"{n + ' px (dx, dy)':>22}" for n in names)
            + f" {'bone sd':>7} {'P2S sd':>6} {'ours-P2S':>8} {'vs Q':>6} {'vs Q kp':>7}"
            f" {'P2S vs Q':>8} {'kp':>5} {'vs ref':>6} {'scale':>6}")
    print(head)
    print("-" * len(head))
    for r in rows:
        loo = " ".join(f"{px:6.1f} ({off[0]:+6.1f},{off[1]:+6.1f})" for _, px, off in r["loo"])
        p2s = r.get("pose2sim_vs_qualisys_mm", (None, None))
        print(f"{r['label']:<30} {loo} {r['bone_sd_mm']:7.1f} "
              f"{fmt(r.get('pose2sim_bone_sd_mm'), '6.1f'):>6} "
              f"{fmt(r.get('ours_vs_pose2sim_mm'), '8.1f'):>8} {r['vs_qualisys_mm'][0]:6.1f} "
              f"{r['vs_qualisys_mm'][1]:7.1f} {fmt(p2s[0], '8.1f'):>8} {fmt(p2s[1], '5.1f'):>5} "
              f"{r['vs_refined_mm']:6.1f} "
              f"{r['scale']:6.3f}")
    print("px: each camera's keypoints vs the person triangulated by the other three cameras "
          "(median distance; median signed offset); bone sd: median over bones of each bone "
          "length's SD over the take (mm), through our triangulation, and P2S sd through "
          "Pose2Sim's own; ours-P2S: median distance between the two triangulations through the "
          "same calibration (mm); vs Q: median distance of the keypoints (our triangulation) "
          "to those through the Qualisys file, vs Q kp: the same after the best similarity of "
          "the keypoints; P2S vs Q, kp: the same through Pose2Sim's triangulation; vs ref: "
          "median distance (our triangulation) to the keypoints through the Qualisys file "
          "refined from the person (last row); scale: the "
          "similarity's scale onto the Qualisys camera centres.")


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
            f"{'f sd %':>6} {'sweep %':>7} {'scale %':>8} "
            f"{'+- %':>6} {'tilt deg':>8} {'px max':>7} {'kp mm':>6} {'ref mm':>6} {'time s':>7}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['scene']:<34} {r['centre_cm']:9.2f} {r['rot_deg']:8.3f} "
              f"{fmt(r.get('focal'), '7.2f'):>7} {fmt(r.get('focal_sd'), '6.2f'):>6} "
              f"{fmt(r.get('sweep'), '7.2f'):>7} "
              f"{fmt(r.get('scale'), '8.3f'):>8} {fmt(r.get('scale_unc'), '6.2f'):>6} "
              f"{fmt(r.get('tilt'), '8.2f'):>8} {fmt(r.get('px'), '7.2f'):>7} "
              f"{fmt(r.get('kp_mm'), '6.1f'):>6} {fmt(r.get('kp_ref_mm'), '6.1f'):>6} "
              f"{r['seconds']:7.1f}")
    print("\ncentre, rot: largest camera-centre and rotation error after the best similarity; "
          "focal: largest focal-length error (K unknown: no calibration file) and f sd: the "
          "largest standard deviation the command reports for one; sweep: the largest error "
          "of the one focal length the sweep shares between the cameras (before each camera's "
          "focal and k1 are bundle adjusted); "
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
    ap.add_argument("--only-pose2sim", action="store_true",
                    help="only the Pose2Sim demo's rows of the calibration with no board")
    args = ap.parse_args()
    people = []
    for rig_name, frames, estimate in () if args.only_pose2sim else FROM_PEOPLE:
        with tempfile.TemporaryDirectory() as tmp:
            people.append(from_people_row(rig_name, frames, estimate, Path(tmp) / "s"))
        print(f"  from people, {rig_name}: done", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        boards = pose2sim_board_row(Path(tmp) / "s")
    people.append(pose2sim_from_people_row(extra={"from people (K boards, CLI)": boards["rig"]}))
    people.append(boards)
    people.append(pose2sim_from_people_row(estimate=True))
    print_from_people(people)
    if args.only_from_people or args.only_pose2sim:
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
