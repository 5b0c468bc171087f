"""The Pose2Sim SinglePerson demo's videos against the pixel frame of its calibration.

The Qualisys calibration (``Calib.qca.txt``, and Pose2Sim's ``Calib_qualisys.toml``) states
1088 x 1920 pixels for every camera; the 0.10.49 wheel's videos are 1080 x 1920 for cam01 and
cam02, 1088 x 1920 for cam03 and cam04. The pipeline takes a frame within 2 % of the
calibration's size "as it is" (a codec's padding). This measures what each video really is:
the background of each video (the per-pixel median of its frames, the person gone) registered
against the extrinsic-calibration image the demo ships for that camera (1088 x 1920, the
calibration's frame, same camera position) by SIFT matches and a RANSAC similarity (scale,
offset; rotation checked to be nil); and the rows of black bars at the top and bottom of the
video's first frame. Then what the pipeline decides for each video of another size
(:mod:`mocap.detect.frame_map`: padded or scaled, from black bars in sampled frames), and how
far its map lies from the registration's.

Then what taking such a video "as it is" costs, measured on the 0.4.15 demo's OpenPose
JSON (in the calibration's frame: :func:`mocap.datasets.pose2sim_demo_capture`): the keypoints
of the cameras whose video is not the calibration's frame moved by the measured mapping (what a
detector on those videos reports), triangulated through the Qualisys file, against the
unmoved ones and against the demo's reference ``Balancing_for_IK.trc`` (median distance after
a similarity alignment, as ``benchmarks/pose2sim.py`` scores).

    .venv/bin/python benchmarks/pose2sim_frames.py
"""
from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from calibration.world import similarity_from_points  # noqa: E402
from exporters.trc import read_trc  # noqa: E402
from mocap.datasets import pose2sim_demo, pose2sim_demo_capture  # noqa: E402
from mocap.detect.frame_map import black_bars, decide_frame_map  # noqa: E402
from mocap.detect.video import probe_source, sample_frames  # noqa: E402
from mocap.keypoints import get_format  # noqa: E402
from mocap.triangulate import select_main_person, triangulate  # noqa: E402

DEMO = "Demo_SinglePerson"


def background(video: Path, frames: int = 100) -> np.ndarray:
    """(H, W) uint8: the per-pixel median of the first ``frames`` grey frames."""
    cap = cv2.VideoCapture(str(video))
    grey = []
    while len(grey) < frames:
        ok, frame = cap.read()
        if not ok:
            break
        grey.append(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
    cap.release()
    return np.median(np.stack(grey), 0).astype(np.uint8)


def register(calib_image: np.ndarray, video_image: np.ndarray) -> dict:
    """The similarity taking calibration pixels to video pixels: ``scale``, ``angle_deg``,
    ``offset`` (2,) px, ``inliers``, ``residual_px`` (median of the inliers)."""
    sift = cv2.SIFT_create(4000)
    k1, d1 = sift.detectAndCompute(calib_image, None)
    k2, d2 = sift.detectAndCompute(video_image, None)
    good = [a for a, b in cv2.BFMatcher().knnMatch(d1, d2, k=2) if a.distance < 0.7 * b.distance]
    p1 = np.float32([k1[m.queryIdx].pt for m in good])
    p2 = np.float32([k2[m.trainIdx].pt for m in good])
    A, inl = cv2.estimateAffinePartial2D(p1, p2, method=cv2.RANSAC, ransacReprojThreshold=2.0)
    inl = inl.ravel().astype(bool)
    res = np.linalg.norm(p1[inl] @ A[:, :2].T + A[:, 2] - p2[inl], axis=1)
    return {"scale": float(np.hypot(*A[:, 0])),
            "angle_deg": float(np.degrees(np.arctan2(A[1, 0], A[0, 0]))),
            "offset": A[:, 2].copy(), "inliers": int(inl.sum()),
            "residual_px": float(np.median(res))}


def black_rows(video: Path, level: float = 20.0) -> tuple[int, int]:
    """Rows at the top and at the bottom of the first frame whose mean is below ``level``."""
    ok, frame = cv2.VideoCapture(str(video)).read()
    rows = frame.mean((1, 2)) < level
    top = int(np.argmin(rows)) if not rows.all() else len(rows)
    bottom = int(np.argmin(rows[::-1])) if not rows.all() else len(rows)
    return top, bottom


def reference_error_mm(X: np.ndarray, fmt: str) -> float:
    """Median distance (mm) of (F, J, 3) keypoints to the reference .trc after a similarity."""
    trc = read_trc(pose2sim_demo("0.4.15") / "Demo" / "opensim" / "Balancing_for_IK.trc", up="file")
    ref = trc.xyz[..., [2, 0, 1]]                      # Pose2Sim's TRC axes are (y, z, x)
    ours = X[:, [get_format(fmt).native_names.index(n) for n in trc.marker_names]]
    F = min(len(ref), len(ours))
    ok = np.isfinite(ours[:F]).all(-1) & np.isfinite(ref[:F]).all(-1)
    T, s = similarity_from_points(ours[:F][ok], ref[:F][ok])
    moved = s * ours[:F][ok] @ T[:3, :3].T + T[:3, 3]
    return 1000 * float(np.median(np.linalg.norm(moved - ref[:F][ok], axis=-1)))


def decided_vs_registered(video: Path, camera, r: dict) -> str:
    """What the pipeline decides for a video of another size than its calibration
    (:mod:`mocap.detect.frame_map`, from sampled frames) against the SIFT registration: the
    largest distance (calibration pixels) between the two maps over the frame."""
    info = probe_source(video, camera.name)
    if tuple(info.size_wh) == tuple(camera.size_wh):
        return f"{camera.name:<8} same size: no map"
    fm = decide_frame_map(camera.name, info.size_wh, camera.size_wh,
                          black_bars(sample_frames(info)))
    w, h = camera.size_wh
    calib = np.stack(np.meshgrid(np.linspace(0, w - 1, 9), np.linspace(0, h - 1, 9)), -1)
    video_px = r["scale"] * calib + r["offset"]           # the registration (angle nil)
    worst = float(np.linalg.norm(fm.apply(video_px) - calib, axis=-1).max())
    return f"{camera.name:<8} {fm.kind:<7} {fm.reason:<60} {worst:8.2f}"


def main() -> None:
    root = pose2sim_demo("0.10.49") / DEMO
    rig, det = pose2sim_demo_capture()
    print(f"{'camera':<8} {'video':>11} {'calib':>11} {'scale':>8} {'angle deg':>9} "
          f"{'offset x, y px':>15} {'inliers':>7} {'resid px':>8} {'black rows top/bottom':>22}")
    maps = []
    for i, cam in enumerate(rig, start=1):
        video = root / "videos" / f"cam0{i}.mp4"
        calib_image = cv2.imread(str(root / "calibration" / "extrinsics" / f"cam0{i}_ext.png"),
                                 cv2.IMREAD_GRAYSCALE)
        bg = background(video)
        r = register(calib_image, bg)
        top, bottom = black_rows(video)
        maps.append(r)
        print(f"{cam.name:<8} {bg.shape[1]:>5}x{bg.shape[0]:<5} {calib_image.shape[1]:>5}x"
              f"{calib_image.shape[0]:<5} {r['scale']:8.4f} {r['angle_deg']:9.3f} "
              f"{r['offset'][0]:7.2f},{r['offset'][1]:7.2f} {r['inliers']:7d} "
              f"{r['residual_px']:8.2f} {top:>11}/{bottom:<10}")
    print(f"\n{'camera':<8} {'decided':<7} {'why':<60} {'vs SIFT px':>8}")
    for i, (cam, r) in enumerate(zip(rig, maps), start=1):
        print(decided_vs_registered(root / "videos" / f"cam0{i}.mp4", cam, r))
    main_person = select_main_person(det)
    xy = np.array(main_person.xy)
    moved = [c for c, r in enumerate(maps) if abs(r["scale"] - 1) > 1e-3 or np.abs(r["offset"]).max() > 0.5]
    for c in moved:
        xy[c] = maps[c]["scale"] * xy[c] + maps[c]["offset"]
    shift = np.linalg.norm(xy - main_person.xy, axis=-1)[moved]
    X0 = triangulate(main_person, rig).xyz[:, 0]
    X1 = triangulate(replace(main_person, xy=xy), rig).xyz[:, 0]
    print(f"\nkeypoints of {', '.join(rig.names[c] for c in moved)} moved as their videos are "
          f"(median {np.nanmedian(shift):.1f} px, max {np.nanmax(shift):.1f} px): 3D keypoints "
          f"through the Qualisys file move {1000 * np.nanmedian(np.linalg.norm(X1 - X0, axis=-1)):.1f}"
          f" mm (median); median distance to the reference .trc after a similarity: "
          f"{reference_error_mm(X0, det.format):.2f} mm in the calibration's frame, "
          f"{reference_error_mm(X1, det.format):.2f} mm in the videos' frames taken as they are")
    print("decided: mocap.detect.frame_map on 8 sampled frames; vs SIFT: the largest distance "
          "between its map and the registration's over the frame (calibration pixels).")
    print("scale, offset: the similarity taking the calibration's pixels (the demo's extrinsic "
          "image of the camera) to the video's (background: median of its frames); black rows: "
          "rows of the first frame darker than 20/255.")


if __name__ == "__main__":
    main()
