"""Blender as the judge of our BVH and FBX files: how far Blender's bones and skin are from our joints.

Run:  .venv/bin/python benchmarks/export_blender.py      (needs .venv-blender: scripts/setup_blender.sh)

The files are those of tests/exporters/test_export_blender.py (built by its functions, so the
numbers here are what the tests assert on): a synthetic actor with large joint rotations and a
full turn about the vertical (BVH; FBX Y-up metres 7.4; FBX Z-up centimetres 7.5), a simulated
walk through the whole pipeline and ``mocap export`` (BVH; FBX with Mixamo names and a box
mesh), and a fitted body (a synthetic SMPL-like model in its Y-up rest frame) with its skinned
mesh. Each is imported by Blender 5.0 with default options (BVH: plus scene rate and range
updates), FBX by both of Blender's importers (the Python add-on ``fbx`` and the C++ ``ufbx``).

Printed per file and importer: frames and rate Blender reports, the largest and the mean
distance between Blender's bone heads and our forward kinematics over every frame and joint,
and for skinned meshes the largest distance between Blender's deformed vertices and our
linear-blend skinning.
"""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
# The repository first: run as a script, this folder would come first on sys.path, and
# benchmarks/calibration.py would hide the calibration package.
sys.path[:0] = [str(REPO), str(REPO / "tests" / "exporters")]


def _test_module():
    path = REPO / "tests" / "exporters" / "test_export_blender.py"
    spec = importlib.util.spec_from_file_location("blender_cases", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def main() -> int:
    cases_module = _test_module()
    if not cases_module.BLENDER_PYTHON.exists():
        print(f"no {cases_module.BLENDER_PYTHON}: run scripts/setup_blender.sh first")
        return 1
    from exporters import forward_kinematics
    from exporters.mesh import linear_blend_skinning

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cases = cases_module._synthetic_cases(folder) + cases_module._pipeline_cases(folder) + \
            cases_module._body_cases(folder)
        jobs = [{"name": c.name, "path": str(c.path), "importer": c.importer,
                 "frames": list(range(1, c.motion.num_frames + 1))} for c in cases]
        (folder / "jobs.json").write_text(json.dumps(jobs))
        start = time.perf_counter()
        subprocess.run([str(cases_module.BLENDER_PYTHON), str(cases_module.JUDGE), str(folder / "jobs.json"),
                        str(folder / "out.npz")], check=True, capture_output=True)
        seconds = time.perf_counter() - start
        report = dict(np.load(folder / "out.npz"))
    print(f"Blender judge: {len(cases)} imports in one Blender process, {seconds:.1f} s")
    print(f"{'file:importer':<26}{'frames':>7}{'fps':>7}{'joints':>8}{'max mm':>10}{'mean mm':>10}{'skin max mm':>13}")
    worst = 0.0
    for case in cases:
        info = json.loads(str(report[f"{case.name}/info"]))
        bones = [str(b) for b in report[f"{case.name}/bones"]]
        order = [bones.index(j) for j in case.skeleton.joint_names]
        ours = forward_kinematics(case.skeleton, case.motion.rotations, case.motion.root_translation)[0]
        error = np.linalg.norm(report[f"{case.name}/heads"][:, order] - ours, axis=-1) * 1000
        skin = ""
        meshes = [k for k in report if k.startswith(f"{case.name}/mesh/") and k.endswith("/vertices")]
        if meshes and case.mesh is not None:
            lbs = linear_blend_skinning(case.mesh, case.skeleton, case.motion)
            skin = f"{np.linalg.norm(report[meshes[0]] - lbs, axis=-1).max() * 1000:.4f}"
        worst = max(worst, error.max())
        print(f"{case.name:<26}{int(info['frame_range'][1]):>7}{info['fps']:>7.3g}{len(bones):>8}"
              f"{error.max():>10.4f}{error.mean():>10.4f}{skin:>13}")
    print(f"largest bone-head error over all files, frames and joints: {worst:.4f} mm (tests require < 1 mm)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
