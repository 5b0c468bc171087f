"""Every mocap error class lives in mocap/errors.py; VideoError is one class for both packages."""
from __future__ import annotations

import ast
import pickle
from pathlib import Path

import calibration
import mocap
from mocap.app.cli import is_user_error
from mocap.errors import DetectionsError, MocapError, VideoError


def _error_classes_outside_errors_py() -> list[str]:
    root = Path(mocap.__file__).parent
    found = []
    for path in sorted(root.rglob("*.py")):
        if path == root / "errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and any(
                    getattr(b, "id", getattr(b, "attr", "")).endswith(("Error", "Exception"))
                    for b in node.bases):
                found.append(f"{path.relative_to(root)}: {node.name}")
    return found


def test_error_classes_are_only_in_errors_py():
    assert _error_classes_outside_errors_py() == []


def test_video_error_is_a_mocap_and_a_calibration_video_error():
    err = VideoError("camera cam_a: video a.mp4 not found", "a.mp4")
    assert isinstance(err, DetectionsError) and isinstance(err, MocapError)
    assert isinstance(err, calibration.VideoError) and is_user_error(err)
    assert str(err) == "camera cam_a: video a.mp4 not found" and err.path == "a.mp4"
    back = pickle.loads(pickle.dumps(err))       # crosses a process pool unchanged
    assert type(back) is VideoError and str(back) == str(err) and back.path == "a.mp4"
