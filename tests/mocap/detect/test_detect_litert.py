"""A model file of another kind than the runner expects stops with one line naming the file,
what was expected and what was found (the shared check in mocap.detect.litert)."""
import pytest

from mocap.detect.blazepose import PoseDetector, PoseLandmarker
from mocap.detect.hands import HandLandmarker
from mocap.errors import MocapError
from mocap.models import model_path


@pytest.mark.network
@pytest.mark.parametrize("runner, wrong, what", [
    (PoseLandmarker, "hand_landmark_full", "the BlazePose landmark model"),
    (HandLandmarker, "pose_landmark_lite", "the MediaPipe hand landmark model"),
    (PoseDetector, "hand_landmark_full", "the BlazePose detector"),
])
def test_a_model_of_another_kind_is_one_line(runner, wrong, what):
    path = model_path(wrong)
    with pytest.raises(MocapError) as info:
        runner(path)
    msg = str(info.value)
    assert "\n" not in msg and str(path) in msg and f"expected {what}" in msg and "found" in msg


@pytest.mark.network
@pytest.mark.parametrize("runner, right", [
    (PoseLandmarker, "pose_landmark_lite"), (HandLandmarker, "hand_landmark_full"),
    (PoseDetector, "pose_detection")])
def test_the_right_model_loads(runner, right):
    assert runner(model_path(right)).interpreter is not None
