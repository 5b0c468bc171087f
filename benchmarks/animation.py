"""Foot contact and foot locking on the studio's takes, measured on the BVH as Blender imports it.

Run:  .venv/bin/python benchmarks/animation.py      (Blender: .venv-blender, scripts/setup_blender.sh)

Takes: one person in the 4-camera studio (body25, the simulated detector's noise), through
``mocap run`` without body fitting: a walk whose feet do not slide (``walk_planted``, three
actors) and two in-place motions (``squat``, ``stand``). True contacts come from the true
motion (:func:`mocap.simulate.footfalls.true_contacts`: a heel or toe point under 2.5 cm and
under 0.15 m/s).

Each take is exported twice as BVH (canonical names, Y up, metres): ``foot_lock`` and
``floor_snap`` off (before) and the defaults (after). Blender 5.0 imports both with default
options; its bone heads at every frame are measured (:func:`mocap.simulate.footfalls.foot_metrics`):
slide of a heel or toe point per true contact (median, max), the foot's lowest joint's distance
to the floor during true contacts, the lowest any foot joint goes, and how far any joint is from
the unlocked motion outside contact (each leg away from its foot's contacts and the 0.15 s
blend around them). Contact detection: precision and recall of foot contact frames (both feet).
Without Blender the same is measured on our own forward kinematics of the BVH files read back.

Retargeting (with Blender): each take's FBX with each naming preset (rest pose ``auto``) is
retargeted in Blender onto that preset's character (``tests/exporters/blender_retarget.py``:
the preset's names and rest pose, 10 % taller, Blender's bone axes; rotations copied relative
to rest). Printed: the character's largest distance from our exported joints (scaled back),
its feet (as above) and the largest turn of any of its bones between two frames.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests" / "mocap" / "export"), str(REPO / "tests" / "exporters")]
BLENDER_PYTHON = REPO / ".venv-blender" / "bin" / "python"
JUDGE = REPO / "tests" / "exporters" / "blender_judge.py"
TAKES = (("walk_planted", 1, 75), ("walk_planted", 4, 75), ("walk_planted", 7, 75), ("squat", 3, 90),
         ("stand", 5, 90))


def _export(xyz, names, fps, folder: Path, **changes) -> Path:
    """Write one BVH (and with a ``naming`` change, FBX) with ``[export]`` changes; return the
    BVH's path."""
    from mocap.export import export_person
    from mocap.settings import ExportSettings
    from mocap.types import Points3D

    points = Points3D(xyz=xyz[:, None], conf=np.ones((len(xyz), 1, xyz.shape[1]), np.float32),
                      joint_names=names, fps=fps, format="body25")
    folder.mkdir(parents=True, exist_ok=True)
    formats = ("bvh", "fbx") if "naming" in changes else ("bvh",)
    export_person(xyz, points, 0, folder, ExportSettings(formats=formats, **changes))
    return folder / "person0.bvh"


def _read_back(path: Path, names) -> np.ndarray:
    """(F, J, 3) our FK of a BVH file, joints in ``names`` order."""
    from exporters import forward_kinematics, read_bvh

    skeleton, motion = read_bvh(path)
    positions = forward_kinematics(skeleton, motion.rotations, motion.root_translation)[0]
    return positions[:, [skeleton.index(n) for n in names]]


def _blender(jobs: list, folder: Path) -> dict:
    (folder / "jobs.json").write_text(json.dumps(jobs))
    subprocess.run([str(BLENDER_PYTHON), str(JUDGE), str(folder / "jobs.json"), str(folder / "out.npz")],
                   check=True, capture_output=True)
    return dict(np.load(folder / "out.npz"))


def _heads(report: dict, name: str, joints) -> np.ndarray:
    bones = [str(b) for b in report[f"{name}/bones"]]
    return report[f"{name}/heads"][:, [bones.index(j) for j in joints]]


def _takes(folder: Path) -> list[dict]:
    from anim_scenes import studio_keypoints

    from mocap.export.contacts import CONTACT_COLUMNS, detect_contacts
    from mocap.export.skeleton import keypoint_skeleton
    from mocap.simulate.footfalls import true_contacts

    takes = []
    for motion, seed, frames in TAKES:
        xyz, gt, names, fps = studio_keypoints(motion, seed, frames, folder)
        label = f"{motion}:{seed}"
        before = _export(xyz, names, fps, folder / label / "before", foot_lock=False, floor_snap=False)
        after = _export(xyz, names, fps, folder / label / "after")
        truth = true_contacts(gt, names, fps)
        found = detect_contacts(xyz, names, fps).flags
        feet = [CONTACT_COLUMNS.index("left_foot"), CONTACT_COLUMNS.index("right_foot")]
        hit = (truth[:, feet] & found[:, feet]).sum()
        skeleton = keypoint_skeleton(xyz, "body25", fps)[0]
        takes.append(dict(label=label, before=before, after=after, truth=truth, fps=fps, frames=frames,
                          joints=skeleton.joint_names, skeleton=skeleton, xyz=xyz, names=names,
                          precision=hit / max(found[:, feet].sum(), 1), recall=hit / max(truth[:, feet].sum(), 1)))
    return takes


def _retarget_table(takes: list[dict], folder: Path) -> None:
    from retarget_cases import PRESETS, character_bones, rotation_steps, run_retarget, target_joints

    from exporters import forward_kinematics
    from exporters.fbx import read_fbx
    from mocap.export.animation import rest_pose_of
    from mocap.settings import ExportSettings
    from mocap.simulate.footfalls import foot_metrics

    jobs, cases = [], []
    for t in takes:
        for preset in PRESETS:
            settings = ExportSettings(formats=("fbx",), naming=preset)
            path = _export(t["xyz"], t["names"], t["fps"], folder / t["label"] / preset, **{"naming": preset})
            name = f"{t['label']}:{preset}"
            jobs.append({"name": name, "fbx": str(path.with_suffix(".fbx")), "frames": list(range(1, t["frames"] + 1)),
                         "bones": character_bones(t["skeleton"], preset, rest_pose_of(settings))})
            cases.append((t, preset, name))
    start = time.perf_counter()
    out = run_retarget(jobs, folder)
    print(f"\nBlender retargeted {len(jobs)} FBX files onto the presets' characters in "
          f"{time.perf_counter() - start:.1f} s")
    print(f"{'take':<16}{'preset':<11}{'rest':>5}{'vs ours max mm':>15}{'slide med mm':>13}{'slide max mm':>13}"
          f"{'floor max mm':>13}{'lowest mm':>10}{'max step deg':>13}")
    for t, preset, name in cases:
        scene = read_fbx(Path(jobs[cases.index((t, preset, name))]["fbx"]))
        ours = forward_kinematics(scene.skeleton, scene.motion.rotations, scene.motion.root_translation)[0]
        joints = target_joints(out, name, t["skeleton"], preset)
        m = foot_metrics(joints, ours, t["joints"], t["truth"], t["fps"])
        print(f"{t['label']:<16}{preset:<11}{rest_pose_of(ExportSettings(naming=preset)):>5}"
              f"{np.abs(joints - ours).max() * 1000:>15.4f}{m.slide_median_mm:>13.2f}{m.slide_max_mm:>13.2f}"
              f"{m.floor_max_mm:>13.2f}{m.lowest_mm:>10.2f}{rotation_steps(out, name).max():>13.1f}")


def main() -> int:
    from mocap.simulate.footfalls import foot_metrics

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        takes = _takes(folder)
        judge = BLENDER_PYTHON.exists()
        if judge:
            start = time.perf_counter()
            jobs = [{"name": f"{t['label']}:{k}", "path": str(t[k]), "importer": "bvh",
                     "frames": list(range(1, t["frames"] + 1))} for t in takes for k in ("before", "after")]
            report = _blender(jobs, folder)
            print(f"Blender 5.0 imported {len(jobs)} BVH files in {time.perf_counter() - start:.1f} s; "
                  f"measured on Blender's bone heads")
        else:
            print("no .venv-blender: measured on our forward kinematics of the BVH files read back")
        print(f"{'take':<16}{'contact P/R':>12}{'':>3}{'BVH':<8}{'slide med mm':>13}{'slide max mm':>13}"
              f"{'floor max mm':>13}{'lowest mm':>10}{'outside max mm':>15}{'contacts':>9}")
        for t in takes:
            heads = {k: _heads(report, f"{t['label']}:{k}", t["joints"]) if judge else _read_back(t[k], t["joints"])
                     for k in ("before", "after")}
            for k in ("before", "after"):
                m = foot_metrics(heads[k], heads["before"], t["joints"], t["truth"], t["fps"])
                pr = f"{t['precision']:.2f}/{t['recall']:.2f}" if k == "before" else ""
                print(f"{t['label']:<16}{pr:>12}{'':>3}{k:<8}{m.slide_median_mm:>13.2f}{m.slide_max_mm:>13.2f}"
                      f"{m.floor_max_mm:>13.2f}{m.lowest_mm:>10.2f}{m.outside_max_mm:>15.2f}{m.contacts:>9}")
        if judge:
            _retarget_table([t for t in takes if t["label"].startswith("walk")], folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
