"""Two people close together in one camera: the landmark model, given a crop that holds both,
answers with a body pulled toward the other one (on the rendered studio's crossing, cam2's
region of the actor in front slid over three frames onto the actor behind, 3 -> 9 -> 18 px,
and the other actor's own region was then dropped). The tracker notices a region whose
landmarks jump toward another followed body and looks again with the others painted out,
keeping the answer that fits the person's own track."""
from __future__ import annotations

import numpy as np
from test_detect_tracking import FakeDetector, FakeLandmarker, H, Scene, W

from mocap.detect.blazepose import NUM_BODY, LandmarkResult
from mocap.detect.tracking import BlazePoseTracker, TrackedRegion, sliding_toward
from mocap.detect.geometry import Roi


#: a body's 33 points about its centre, px: a figure 80 px wide and 400 px tall (its hull,
#: painted out, covers the centre a few frames later too)
BODY = np.stack([40 * np.sin(np.arange(NUM_BODY)), np.linspace(-200, 200, NUM_BODY)], 1)


def _unpainted(rgb, c) -> bool:
    return not (0 <= c[0] < W and 0 <= c[1] < H) or bool(rgb[int(c[1]), int(c[0])].any())


class BlendingLandmarker(FakeLandmarker):
    """Answers with the body nearest the region's centre, pulled by ``pull`` times the way to
    every other unpainted body whose centre lies inside the region (a crop holding two
    people); bodies painted out are not seen."""

    def __init__(self, scene, pull=0.3):
        super().__init__(scene)
        self.pull, self.calls = pull, 0

    def __call__(self, rgb, roi: Roi) -> LandmarkResult:
        self.calls += 1
        shown = {k: c for k, c in self.scene.bodies().items() if _unpainted(rgb, c)}
        view = Scene({k: (lambda f, c=c: c) for k, c in shown.items()})
        view.frame, view.height = self.scene.frame, self.scene.height
        res = FakeLandmarker(view)(rgb, roi)
        if res.who is None:
            return res
        own = shown[res.who]
        near = [c - own for k, c in shown.items() if k != res.who and
                np.linalg.norm(c - np.asarray(roi.center_xy)) < 0.5 * roi.size_px]
        shift = self.pull * np.sum(near, axis=0) if near else np.zeros(2)
        xy = res.xy.copy()
        xy[:NUM_BODY] = own + BODY
        out = LandmarkResult(xy=xy + shift, visibility=res.visibility,
                             presence=res.presence, heatmaps=res.heatmaps,
                             image_from_heatmap=res.image_from_heatmap, roi=roi)
        object.__setattr__(out, "who", res.who)
        object.__setattr__(out, "error_px", float(np.linalg.norm(shift)))
        return out


def test_two_people_side_by_side_are_each_reported_where_they_are():
    """b walks up to a and stops 100 px beside them: a crop holding both pulls each answer 30
    px toward the other. Before: both reported 30 px off on every frame they stood close (the
    real model's pull then grows until the region sits on the other body). Now: each is
    reported on their own body, in their own slot, throughout."""
    scene = Scene({"a": lambda f: (1000, 600), "b": lambda f: (max(1100, 1400 - 8 * f), 600)})
    lm = BlendingLandmarker(scene)
    tracker = BlazePoseTracker(FakeDetector(scene), lm, max_people=5, detect_interval=100)
    grey = np.full((H, W, 3), 128, np.uint8)
    seen, errors = [], []
    for f in range(50):
        scene.frame = f
        out = tracker.process(grey)
        seen.append({slot: r.who for slot, r in out})
        errors.append(max(r.error_px for _, r in out))
    assert all(sorted(s.values()) == ["a", "b"] for s in seen), seen
    assert all(s == seen[0] for s in seen)                  # nobody changed slot
    assert max(errors) < 1.0, errors                        # nobody pulled off their body


def _result(xy_centre, size=500.0):
    xy = np.tile(np.asarray(xy_centre, float), (39, 1))
    xy[:NUM_BODY] += BODY
    return LandmarkResult(xy=xy, visibility=np.ones(39, np.float32), presence=1.0,
                          heatmaps=np.zeros((39, 2, 2), np.float32),
                          image_from_heatmap=np.eye(2, 3), roi=Roi(tuple(xy_centre), size, 0.0))


def test_sliding_toward_another_body_is_told_from_walking():
    """The test's three cases: moved far toward the other body (sliding); moved as far but
    away from it, or little (walking); a track with no landmarks yet is never sliding."""
    prev = _result((1000, 600))
    track = TrackedRegion(0, prev.roi, prev.xy[:NUM_BODY])
    other = [_result((1100, 600)).xy[:NUM_BODY]]
    assert sliding_toward(track, _result((1030, 600)), other)        # 0.06 of the region
    assert not sliding_toward(track, _result((970, 600)), other)     # away from the other
    assert not sliding_toward(track, _result((1008, 600)), other)    # a walking step
    assert not sliding_toward(TrackedRegion(0, prev.roi), _result((1030, 600)), other)


class LockingLandmarker(FakeLandmarker):
    """Answers with the body at the region's centre (within a tenth of the region); a region
    holding someone only off-centre answers half-way to them (the model locking onto the
    body in its crop over a few frames). ``off_px`` records each answer's distance from the
    nearest true body."""

    def __call__(self, rgb, roi: Roi) -> LandmarkResult:
        res = FakeLandmarker.__call__(self, rgb, roi)
        centre = np.asarray(roi.center_xy)
        if res.who is None:
            return res
        body = self.scene.bodies()[res.who]
        at = body if np.linalg.norm(body - centre) < 0.1 * roi.size_px else \
            centre + 0.5 * (body - centre)
        xy = res.xy.copy()
        xy[:NUM_BODY] = at + BODY
        xy[NUM_BODY], xy[NUM_BODY + 1] = at, at + [0.0, -0.5 * self.scene.height]
        out = LandmarkResult(xy=xy, visibility=res.visibility, presence=res.presence,
                             heatmaps=res.heatmaps, image_from_heatmap=res.image_from_heatmap,
                             roi=roi)
        object.__setattr__(out, "who", res.who)
        object.__setattr__(out, "off_px", float(min(
            np.linalg.norm(at - c) for c in self.scene.bodies().values())))
        return out


def test_a_region_whose_person_vanished_does_not_report_the_slide_onto_someone_else():
    """a walks (8 px a frame) and is hidden from frame 10; b, who stepped in at frame 9 and
    is not followed yet, stands 150 px ahead. a's region then holds b off-centre and the
    model answers half-way to b. Before: that answer (75 px from anyone) was reported as a,
    then the next ones sliding onto b. Now: a jump beyond a's pace drops the region (a is
    lost), the person detector looks at once and b is followed from their own region."""
    scene = Scene({"a": lambda f: (800 + 8 * f, 600) if f < 10 else None,
                   "b": lambda f: (800 + 8 * 9 + 150, 600) if f >= 9 else None})
    tracker = BlazePoseTracker(FakeDetector(scene), LockingLandmarker(scene), max_people=5,
                               detect_interval=100)
    grey = np.full((H, W, 3), 128, np.uint8)
    seen, off = [], []
    for f in range(16):
        scene.frame = f
        out = tracker.process(grey)
        seen.append(sorted(r.who for _, r in out))
        off.append(max([r.off_px for _, r in out], default=0.0))
    assert seen[:9] == [["a"]] * 9 and seen[10:] == [["b"]] * 6, seen
    assert max(off) < 1.0, off
