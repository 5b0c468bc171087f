"""The person behind: when one person passes close behind another, the landmark model run on
the back person's region locks onto the front body (the region drifted); the tracker looks
again with the front body painted out and keeps following the back person, where the person
detector (which misses a person mostly hidden by another) would not find them again."""
from __future__ import annotations

import numpy as np
from test_detect_tracking import FakeDetector, FakeLandmarker, H, Scene, W

from mocap.detect.tracking import BlazePoseTracker


def _unpainted(rgb, c) -> bool:
    return not (0 <= c[0] < W and 0 <= c[1] < H) or bool(rgb[int(c[1]), int(c[0])].any())


class PaintAwareLandmarker(FakeLandmarker):
    """Sees only the bodies whose centre is left unpainted (the real model sees what the crop
    shows)."""

    def __call__(self, rgb, roi):
        shown = {k for k, c in self.scene.bodies().items() if _unpainted(rgb, c)}
        view = Scene({k: p for k, p in self.scene.tracks.items() if k in shown})
        view.frame, view.height = self.scene.frame, self.scene.height
        return FakeLandmarker(view)(rgb, roi)


class OcclusionDetector(FakeDetector):
    """Misses a person whose centre lies within ``hidden_px`` of a person in front (earlier in
    the scene's order), as the real detector misses a person mostly hidden by another."""

    def __init__(self, scene, hidden_px):
        super().__init__(scene)
        self.hidden_px = hidden_px

    def __call__(self, rgb):
        found = super().__call__(rgb)
        bodies = list(self.scene.bodies().values())
        hidden = [c for i, c in enumerate(bodies)
                  if any(np.linalg.norm(c - f) < self.hidden_px for f in bodies[:i])]
        return [d for d in found
                if not any(np.allclose(d.keypoints_xy[0], c) for c in hidden)]


def test_a_person_passing_close_behind_another_is_followed_throughout():
    scene = Scene({"front": lambda f: (1100, 600), "behind": lambda f: (700 + 80 * f, 540)})
    tracker = BlazePoseTracker(OcclusionDetector(scene, 150), PaintAwareLandmarker(scene),
                               max_people=5, detect_interval=100)
    grey = np.full((H, W, 3), 128, np.uint8)
    seen = []
    for f in range(12):
        scene.frame = f
        seen.append({slot: r.who for slot, r in tracker.process(grey)})
    assert all(sorted(s.values()) == ["behind", "front"] for s in seen), seen
    assert all(s == seen[0] for s in seen)                # nobody changed slot


def test_a_crowd_is_found_at_the_first_look():
    """Five people and a detector that reports only the most prominent one per image: it
    looks again past everyone found while that finds someone new, so all five are followed
    from the first frame (before: three, the others only at the next scheduled look)."""
    from test_detect_tracking import run
    scene = Scene({k: (lambda f, x=x: (x, 600)) for k, x in zip("abcde", range(400, 1900, 300))})
    seen, calls = run(scene, 3, prominent_only=True, max_people=20, detect_interval=10)
    assert all(sorted(s.values()) == list("abcde") for s in seen), seen
    assert calls == [0]
