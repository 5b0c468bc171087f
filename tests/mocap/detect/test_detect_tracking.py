"""Everyone in view: the BlazePose tracker's regions, schedule and slots, on a scripted scene.

The scene is people as moving 2D bodies (a centre and a height, image pixels). The fake person
detector finds everyone fully in the frame; the fake landmark model answers with the body
nearest the middle of the region it is given (as the real one locks onto whoever fills the
crop), present when that body's centre lies inside the region. So a region that slides onto
another person's body yields that person's landmarks: the drift the tracker must stop.
"""
from __future__ import annotations

import numpy as np

from mocap.detect.blazepose import NUM_BODY, LandmarkResult, PersonDetection
from mocap.detect.tracking import BlazePoseTracker
from mocap.detect.geometry import Roi
from tiny_video import grey_video

W, H = 1920, 1080


class Scene:
    def __init__(self, tracks):
        self.tracks = tracks            # person -> function frame -> (x, y) centre or None
        self.frame = 0
        self.height = 400.0

    def bodies(self):
        out = {}
        for who, path in self.tracks.items():
            c = path(self.frame)
            if c is not None:
                out[who] = np.asarray(c, float)
        return out


class FakeDetector:
    """Finds everyone fully in the frame whose centre pixel is not painted black; with
    ``prominent_only``, only the first of them (the real detector, trained on one person per
    image, scores the most prominent person and hardly anyone else)."""

    def __init__(self, scene, prominent_only=False):
        self.scene, self.calls, self.prominent_only = scene, [], prominent_only

    def __call__(self, rgb):
        self.calls.append(self.scene.frame)
        out = []
        for c in self.scene.bodies().values():
            if 0 <= c[0] < W and 0 <= c[1] < H and rgb[int(c[1]), int(c[0])].any():
                if self.prominent_only and out:
                    break
                up = c + [0.0, -0.5 * self.scene.height]
                kp = np.stack([c, up, c, c])
                out.append(PersonDetection(0.9, np.r_[c - 100, c + 100], kp))
        return out


class FakeLandmarker:
    """Answers with the body nearest the region's centre; records whom it saw (``who``)."""

    def __init__(self, scene):
        self.scene = scene

    def __call__(self, rgb, roi: Roi) -> LandmarkResult:
        bodies = self.scene.bodies()
        centre = np.asarray(roi.center_xy)
        who, c = min(bodies.items(), key=lambda kv: np.linalg.norm(kv[1] - centre),
                     default=(None, centre))
        inside = who is not None and np.linalg.norm(c - centre) < 0.5 * roi.size_px and \
            0 <= c[0] < W and 0 <= c[1] < H
        xy = np.tile(c, (39, 1)) + np.arange(39)[:, None] * [0.0, 1.0]
        xy[NUM_BODY] = c
        xy[NUM_BODY + 1] = c + [0.0, -0.5 * self.scene.height]
        res = LandmarkResult(xy=xy, visibility=np.ones(39, np.float32),
                             presence=1.0 if inside else 0.0,
                             heatmaps=np.zeros((39, 2, 2), np.float32),
                             image_from_heatmap=np.eye(2, 3), roi=roi)
        object.__setattr__(res, "who", who if inside else None)
        return res


def run(scene, frames, prominent_only=False, **kw):
    det, lm = FakeDetector(scene, prominent_only), FakeLandmarker(scene)
    tracker = BlazePoseTracker(det, lm, **kw)
    seen = []                                          # per frame: {slot: person}
    grey = np.full((H, W, 3), 128, np.uint8)
    for f in range(frames):
        scene.frame = f
        seen.append({slot: r.who for slot, r in tracker.process(grey)})
    return seen, sorted(set(det.calls))                # the frames where the detector looked


def test_everyone_in_view_is_followed_and_the_detector_runs_on_a_schedule():
    scene = Scene({"a": lambda f: (500 + 2 * f, 600), "b": lambda f: (1400 - 2 * f, 600),
                   "c": lambda f: (960, 500 + f)})
    seen, calls = run(scene, 35, max_people=20, detect_interval=10)
    assert all(sorted(s.values()) == ["a", "b", "c"] for s in seen)
    assert calls == [0, 10, 20, 30]                     # nobody lost: the schedule only
    assert seen[0] == seen[-1]                         # everyone kept their slot


def test_the_cap_is_kept():
    scene = Scene({k: (lambda f, x=x: (x, 600)) for k, x in zip("abcd", (300, 700, 1100, 1500))})
    seen, _ = run(scene, 3, max_people=2)
    assert all(len(s) == 2 for s in seen)


def test_people_behind_the_most_prominent_one_are_found_with_the_followed_hidden():
    """The real detector on a frame with two people close together (the rendered studio:
    two actors 50-100 px apart, 160 px tall) returns a box for one of them only: it looks
    again with the followed bodies painted out, so the other one is found at the first look."""
    scene = Scene({"a": lambda f: (900 + f, 600), "b": lambda f: (1000 + f, 620),
                   "c": lambda f: (1100, 580 - f)})
    seen, calls = run(scene, 12, prominent_only=True, max_people=20, detect_interval=10)
    assert all(sorted(s.values()) == ["a", "b", "c"] for s in seen)
    assert calls == [0, 10]
    seen, _ = run(scene, 3, prominent_only=True, max_people=2)
    assert all(len(s) == 2 for s in seen)               # the cap still holds


def test_a_person_who_leaves_and_comes_back_is_found_again_by_the_next_scheduled_look():
    def away(f):
        return None if 10 <= f < 21 else (800, 600)
    scene = Scene({"a": away, "b": lambda f: (1500, 600)})
    seen, calls = run(scene, 30, max_people=20, detect_interval=8)
    assert [("a" in s.values()) for s in seen[9:26]] == [True] + [False] * 14 + [True] * 2
    assert calls == [0, 8, 10, 16, 24]                  # lost at 10: the detector looks at once
    assert seen[0] == seen[-1]                          # the same slot again


def test_crossing_people_never_hand_their_slot_to_the_other():
    """a walks right through b (who stands still): a's region slides onto b's body while a is
    behind; the drifted region is dropped, never reported as a, and a is found again."""
    def walker(f):
        x = 600 + 20 * f
        return None if 1000 <= x <= 1200 else (x, 600)  # hidden behind b while crossing
    scene = Scene({"a": walker, "b": lambda f: (1100, 600)})
    seen, _ = run(scene, 60, max_people=20, detect_interval=10)
    for before, now in zip(seen, seen[1:]):
        assert len(set(now.values())) == len(now), "two slots on one body"
        for slot, who in now.items():        # a slot followed on: the same person
            assert before.get(slot, who) == who, f"slot {slot}: {before[slot]} became {who}"
    assert [("a" in s.values()) for s in seen[19:41]] == [True] + [False] * 20 + [True]
    slots_of = {who: {slot for s in seen for slot, w in s.items() if w == who} for who in "ab"}
    assert len(slots_of["b"]) == 1                     # b followed throughout in one slot
    b_slot = slots_of["b"].pop()
    assert all(s.get(b_slot) == "b" for s in seen)


def test_a_camera_file_holds_the_slots_used_and_no_scratch_is_left(tmp_path, monkeypatch):
    """A cap of 20 people costs nothing for the slots never used: the file holds P = the
    highest slot used + 1, heatmaps per slot, and the scratch files are gone; cameras with
    fewer slots are padded when stacked."""
    
    from mocap.detect import run as run_mod
    from mocap.detect.assemble import assemble_detections
    from mocap.detect.types import BackendSpec, PersonResult
    from mocap.detect.video import probe_source

    video = tmp_path / "cam_a.avi"
    grey_video(video, 4)

    class Fake:
        format, heatmap_hw = "coco17", (4, 4)

        def __init__(self):
            self.f = 0

        def process(self, rgb):
            self.f += 1
            hm = np.full((17, 4, 4), 0.5, np.float32)
            out = [(0, PersonResult(np.full((17, 2), 10.0), np.ones(17), hm, np.eye(2, 3)))]
            if self.f == 3:
                out.append((2, PersonResult(np.full((17, 2), 30.0), np.ones(17), hm,
                                            np.eye(2, 3))))
            return out
    monkeypatch.setattr(run_mod, "make_backend", lambda spec: Fake())
    info = probe_source(video, "cam_a")
    job = run_mod.CameraJob(info, 4, BackendSpec(max_people=20), tmp_path / "out" / "a.npz", "x")
    run_mod.detect_camera(job)
    d = np.load(job.out_path)
    assert d["xy"].shape == (4, 3, 17, 2) and d["heatmaps"].shape == (4, 3, 17, 4, 4)
    assert np.isfinite(d["xy"][2, 2]).all() and np.isnan(d["xy"][:, 1]).all()
    assert (d["heatmaps"][2, 2] == np.float16(0.5)).all() and not d["heatmaps"][:, 1].any()
    assert sorted(p.name for p in job.out_path.parent.iterdir()) == ["a.npz"]
    one = tmp_path / "out" / "b.npz"
    np.savez(one, xy=d["xy"][:, :1], conf=d["conf"][:, :1], format=d["format"],
             heatmaps=d["heatmaps"][:, :1], heatmap_affine=d["heatmap_affine"][:, :1])
    both = assemble_detections([job.out_path, one], ("a", "b"), 30.0)
    assert both.xy.shape == (2, 4, 3, 17, 2) and np.isnan(both.xy[1, :, 1:]).all()
    assert both.heatmaps.shape == (2, 4, 3, 17, 4, 4) and not both.heatmaps[1, :, 1:].any()
