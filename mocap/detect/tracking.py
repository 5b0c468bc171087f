"""Everyone in view with BlazePose: the regions of the people followed in one camera, frame
to frame (:class:`BlazePoseTracker` over the models of :mod:`.blazepose`).

Each person's region for the next frame comes from their own landmarks; the person detector
finds people nobody follows. Two people close together in one camera are the hard case: the
landmark model, given a crop that holds both, answers with a body pulled toward the other one
(:func:`sliding_toward`), or lands on it (:func:`same_body`); the tracker then looks again with
the other bodies painted out (:func:`.geometry.paint_out`), so one person's detections never
continue on another's body.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .blazepose import NUM_BODY, LandmarkResult, PoseDetector, PoseLandmarker
from .geometry import Roi, body_mask, paint_out, share_inside

__all__ = ["TrackedRegion", "expected_xy", "same_body", "landmark_shift", "sliding_toward",
           "BlazePoseTracker"]


@dataclass
class TrackedRegion:
    """One followed person: their slot, the region for this frame, their body points in the
    last one."""

    slot: int
    roi: Roi
    xy: "np.ndarray | None" = None      # (33, 2) the person's body points last frame, px
    step: "np.ndarray | None" = None    # (2,) their median displacement that frame, px


def expected_xy(track: TrackedRegion) -> np.ndarray:
    """(33, 2) where the track's body points should be this frame, px: last frame's, moved by
    last frame's median displacement (a person keeps their pace from one frame to the next;
    the limbs swing about it)."""
    return track.xy if track.step is None else track.xy + track.step


def same_body(a: LandmarkResult, b: LandmarkResult, tolerance: float = 0.08) -> bool:
    """Whether two answers of the landmark model are one body: the median distance between
    their 33 body points is below ``tolerance`` times the region's side (about 1.25 x the
    body's extent: 0.08 is a tenth of the body); people side by side stay apart."""
    size = min(a.roi.size_px, b.roi.size_px)
    d = np.linalg.norm(a.xy[:NUM_BODY] - b.xy[:NUM_BODY], axis=-1)
    return bool(np.median(d) < tolerance * size)


def _drift(track: TrackedRegion, res: LandmarkResult) -> float:
    """How far a track's region moved this frame, in units of its size."""
    return float(np.linalg.norm(np.subtract(res.next_roi().center_xy, track.roi.center_xy))
                 / max(track.roi.size_px, 1e-6))


def sliding_toward(track: TrackedRegion, res: LandmarkResult, others: list,
                   max_shift: float = 0.03) -> bool:
    """Whether a track's new landmarks slide onto another followed body: they moved more than
    ``max_shift`` (:func:`landmark_shift`; walking moves about 0.01-0.02 of the region a
    frame) and came closer to one of ``others`` ((33, 2) body points of other people, px) by
    at least half that much (a region pulled by the body beside it; two people walking
    towards each other close in by their walking only)."""
    shift = landmark_shift(track, res)
    if track.xy is None or shift <= max_shift:
        return False
    size, expected = max(track.roi.size_px, 1e-6), expected_xy(track)
    for o in others:
        before = np.median(np.linalg.norm(expected - o, axis=-1))
        after = np.median(np.linalg.norm(res.xy[:NUM_BODY] - o, axis=-1))
        if (before - after) / size >= 0.5 * shift:
            return True
    return False


def landmark_shift(track: TrackedRegion, res: LandmarkResult) -> float:
    """How far a track's body points moved this frame beyond their pace: the median over the
    33 body points of their distance from where they should be (:func:`expected_xy`), in
    units of the region's size (the region's drift when the track has no points yet). A
    region sliding onto another body moves every point by about the distance between the
    bodies; the person's own motion moves the trunk at their pace and the limbs in turn
    about it, so the median stays small (walking: 0.01-0.02 of the region)."""
    if track.xy is None:
        return _drift(track, res)
    d = np.linalg.norm(res.xy[:NUM_BODY] - expected_xy(track), axis=-1)
    return float(np.median(d) / max(track.roi.size_px, 1e-6))


def _step(track: "TrackedRegion | None", res: LandmarkResult, same_person: bool
          ) -> "np.ndarray | None":
    """(2,) the median displacement of a followed person's body points this frame, px (None
    for a person found this frame)."""
    if not same_person or track is None or track.xy is None:
        return None
    return np.median(res.xy[:NUM_BODY] - track.xy, axis=0)


class BlazePoseTracker:
    """Per-frame BlazePose with region tracking (state: the regions of the people followed).

    Each frame, the landmark model runs on every tracked region, and each region for the next
    frame comes from that person's own landmarks. A region whose presence falls below
    ``min_presence`` is dropped (the person is lost). When two regions close onto one body
    (:func:`same_body`: one person's region slid onto the other while they crossed), the one
    that moved more drifted: it looks again with the others painted out (for the person
    behind), kept if that finds another body near it, so one person's detections never
    continue on another's body. A region whose landmarks slide toward another followed body
    (:func:`sliding_toward`: more than ``max_shift`` of the region in a frame) looks again
    with the others painted out and keeps the answer that fits the person's own track; one
    whose landmarks jumped more than ``max_jump`` beyond the person's pace
    (:func:`landmark_shift`, once the pace is known: a tenth of the body) holds another
    body, or none, and is dropped (the person is lost). The person detector runs every ``detect_interval`` frames,
    on every frame where somebody was lost or nobody is followed, and only while fewer than
    ``max_people`` are followed (then again with them painted out: :meth:`_find_new`); a
    region it proposes that overlaps a followed person's by more than ``duplicate_iou`` is
    that person (skipped), and a new region whose landmarks are a followed body is dropped.
    People keep their slot (index along P) while followed; a new one takes the lowest free.
    """

    def __init__(self, detector: PoseDetector, landmarker: PoseLandmarker, max_people: int = 1,
                 min_presence: float = 0.5, duplicate_iou: float = 0.8,
                 detect_interval: int = 10, max_shift: float = 0.03, max_jump: float = 0.08):
        self.detector, self.landmarker = detector, landmarker
        self.max_people, self.min_presence = max_people, min_presence
        self.duplicate_iou, self.detect_interval = duplicate_iou, max(1, int(detect_interval))
        self.max_shift, self.max_jump = max_shift, max_jump
        self.tracks: list[TrackedRegion] = []
        self.detector_runs = 0
        self.frame = 0

    @staticmethod
    def _taken(res: LandmarkResult, results: list) -> bool:
        return any(same_body(res, r) for _, r in results)

    def _follow(self, rgb: np.ndarray) -> tuple[list, bool]:
        """The tracked people's landmarks this frame, and whether somebody was lost."""
        found = [(_drift(t, r), t, r) for t in self.tracks
                 for r in [self.landmarker(rgb, t.roi)] if r.presence >= self.min_presence]
        lost = len(found) < len(self.tracks)
        results: list[tuple[int, LandmarkResult]] = []
        for _, t, res in sorted(found, key=lambda x: x[0]):        # the steadiest first
            if self._taken(res, results):                          # drifted onto another:
                res = self._look_past(rgb, t, results)             # look behind them
                if res is None or self._taken(res, results) or _drift(t, res) > 0.25:
                    lost = True
                    continue
            else:
                res = self._unslide(rgb, t, res, results)
            if t.step is not None and landmark_shift(t, res) > self.max_jump:
                lost = True                         # another body, or none: not this person
                continue
            results.append((t.slot, res))
        return results, lost

    def _look_past(self, rgb: np.ndarray, track: TrackedRegion, results: list
                   ) -> "LandmarkResult | None":
        """The track's region again, the other followed bodies painted out (None: nobody)."""
        res = self.landmarker(paint_out(rgb, [r.xy[:NUM_BODY] for _, r in results]), track.roi)
        return res if res.presence >= self.min_presence else None

    def _unslide(self, rgb: np.ndarray, track: TrackedRegion, res: LandmarkResult,
                 results: list) -> LandmarkResult:
        """The track's answer, or, where it slides toward another followed body
        (:func:`sliding_toward`), the answer with the others painted out if that one fits the
        track better (:func:`landmark_shift`). The others: this frame's answers of those
        already followed on, the last frame's points of the rest."""
        done = {s for s, _ in results}
        others = [r.xy[:NUM_BODY] for _, r in results] + \
            [o.xy for o in self.tracks if o.slot != track.slot and o.slot not in done
             and o.xy is not None]
        if not sliding_toward(track, res, others, self.max_shift):
            return res
        alt = self.landmarker(paint_out(rgb, others), track.roi)
        if alt.presence >= self.min_presence and not self._taken(alt, results) and \
                landmark_shift(track, alt) < landmark_shift(track, res):
            return alt
        return res

    def _find_new(self, rgb: np.ndarray, results: list) -> None:
        """Follow the people the person detector finds that nobody follows. It scores the most
        prominent person and hardly the others (trained on one per image), so while anyone is
        followed it looks again with them painted black (hull, then box: ``body_mask``), and
        again while that finds someone (a crowd); a body found under the paint is a ghost."""
        used, passes = {s for s, _ in results}, [(None, 0.0), ("hull", 0.03), ("box", 0.1)]
        while passes:
            hide, margin = passes.pop(0)
            if len(results) >= self.max_people or (hide and not results):
                return
            self.detector_runs, before = self.detector_runs + 1, len(results)
            mask = hide and body_mask(rgb.shape[:2], [r.xy[:NUM_BODY] for _, r in results],
                                      hide, margin)
            for det in self.detector(np.where(mask[..., None], 0, rgb) if hide else rgb):
                if len(results) >= self.max_people:
                    break
                roi = det.roi()
                if any(roi.iou(r.next_roi()) > self.duplicate_iou for _, r in results):
                    continue                        # a followed person's region: not new
                res = self.landmarker(rgb, roi)
                if res.presence < self.min_presence or self._taken(res, results) or \
                        (hide and share_inside(res.xy[:NUM_BODY], mask) > 0.5):
                    continue
                slot = min(set(range(self.max_people)) - used)
                used.add(slot)
                results.append((slot, res))
            if hide and len(results) > before:
                passes.insert(0, (hide, margin))    # someone new: look past them too

    def state(self) -> dict:
        """What the next frame depends on, JSON-able (floats kept exactly, arrays with their
        dtype): the frame count, the detector's runs and each followed person's slot, region,
        last body points and pace."""
        def arr(a):
            return None if a is None else {"dtype": str(a.dtype), "values": a.tolist()}
        return {"frame": self.frame, "detector_runs": self.detector_runs,
                "tracks": [{"slot": t.slot, "roi": [float(t.roi.center_xy[0]),
                                                    float(t.roi.center_xy[1]),
                                                    float(t.roi.size_px), float(t.roi.angle_rad)],
                            "xy": arr(t.xy), "step": arr(t.step)} for t in self.tracks]}

    def restore(self, state: dict) -> None:
        """Continue from a :meth:`state` (as if the frames before had just been processed)."""
        def arr(d):
            return None if d is None else np.asarray(d["values"], dtype=d["dtype"])
        self.frame, self.detector_runs = int(state["frame"]), int(state["detector_runs"])
        self.tracks = [TrackedRegion(int(t["slot"]), Roi((float(t["roi"][0]), float(t["roi"][1])),
                                                         float(t["roi"][2]), float(t["roi"][3])),
                                     arr(t["xy"]), arr(t["step"])) for t in state["tracks"]]

    def process(self, rgb: np.ndarray) -> list[tuple[int, LandmarkResult]]:
        """(slot, result) of every person followed in this frame (an RGB uint8 frame)."""
        results, lost = self._follow(rgb)
        followed = {slot for slot, _ in results}
        previous = {t.slot: t for t in self.tracks}
        due = lost or not results or self.frame % self.detect_interval == 0
        if due and len(results) < self.max_people:
            self._find_new(rgb, results)
        self.tracks = [TrackedRegion(s, r.next_roi(), r.xy[:NUM_BODY],
                                     _step(previous.get(s), r, s in followed))
                       for s, r in results]
        self.frame += 1
        return sorted(results, key=lambda sr: sr[0])
