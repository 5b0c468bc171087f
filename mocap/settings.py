"""Settings of a session: one frozen dataclass per stage, read from ``session.toml``.

Defaults live in the dataclasses only. Units are in the field names. Every value is checked
here, once, when the file is read (:func:`load_settings`, before any stage runs): unknown
tables and keys are rejected with the closest valid name suggested, values are checked for
type, a choice is a ``typing.Literal`` of the values allowed, and a number's allowed range is
declared in its annotation (``Annotated[float, POSITIVE]``, see :mod:`mocap.schema`), and
values that contradict each other are caught by the rules between keys of a table (its
``RULES``) or of the whole file (:class:`Settings`' ``RULES``: a low-pass cut-off below the
Nyquist frequency of ``[take] fps``). A bad value raises :class:`~mocap.errors.SettingsError`
naming the file, table and key (both keys for a rule between them), what was expected and
what was found.

A rule on the frame rate uses ``[take] fps``; when the detections give their own frame rate
(videos), the stage that uses it checks again with that one.
"""
from __future__ import annotations

import dataclasses
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, ClassVar, Literal

from .errors import KeypointFormatError, SettingsError
from .keypoints import format_names, get_format
from .schema import (NON_NEGATIVE, POSITIVE, UNIT_INTERVAL, CheckedTable, Range, Rule, at_least,
                     build_table, check_rules, suggest)
from .settings_calibration import BoardSettings, CalibrationSettings
from .settings_outputs import (BoneNaming, C3dUnit, ExportFormat, ExportMesh, ExportSettings,
                              LengthUnit, OpenSimMarkers, OpenSimSettings, RestPose, UpAxis)
from .settings_rules import (below_nyquist, blazepose_model, hands_need_blazepose,
                             opensim_body_needs_fit, spike_window)

__all__ = ["TakeSettings", "DetectSettings", "SyncSettings", "AssociateSettings",
           "TriangulateSettings", "FilterSettings", "FitSettings", "ExportSettings",
           "BoardSettings", "CalibrationSettings", "Settings", "load_settings",
           "settings_from_dict", "choices", "OpenSimSettings"]

# The values a choice allows (``typing.get_args`` gives them as a tuple, see :func:`choices`).
DetectBackend = Literal["blazepose", "onnx"]
PersonBoxes = Literal["detector", "full"]
AssociationMode = Literal["multi", "main_subject", "off"]
TriangulationMethod = Literal["algebraic", "volumetric"]
ViewSelection = Literal["robust", "all"]
ArrayBackend = Literal["numpy", "torch"]
VolumeAggregation = Literal["product", "softmax", "mean"]
Smoother = Literal["butterworth", "one_euro", "none"]
BodyKind = Literal["anny", "smpl", "smplh", "smplx"]
Gender = Literal["neutral", "male", "female"]
MeshFiles = Literal["", "ply", "obj"]


def choices(alias) -> tuple:
    """The values a choice alias allows, e.g. ``choices(Smoother)``."""
    return typing.get_args(alias)


def _is_keypoint_format(name) -> bool:
    try:
        get_format(name)
    except KeypointFormatError:
        return False
    return True


KEYPOINT_FORMAT = Rule(_is_keypoint_format, "a keypoint format (" + ", ".join(format_names())
                       + ", or an alias of one)")
"""A keypoint format's name (:func:`mocap.keypoints.get_format` knows it)."""
CORRELATION = Range(-1, 1)
RGB = Rule(lambda v: len(v) == 3, "3 numbers (red, green, blue)")


@dataclass(frozen=True)
class TakeSettings(CheckedTable):
    """The take as a whole."""

    TABLE: ClassVar[str] = "take"

    fps: Annotated[float, POSITIVE] = 30.0
    """Frame rate of the cameras, frames per second (used when the detections do not say)."""


@dataclass(frozen=True)
class DetectSettings(CheckedTable):
    """2D detections."""

    TABLE: ClassVar[str] = "detect"
    RULES: ClassVar[tuple] = (blazepose_model, hands_need_blazepose)

    format: Annotated[str, KEYPOINT_FORMAT] = "body25"
    """Keypoint layout of imported 2D detections (coco17, coco18, body25, body25b, halpe26,
    blazepose33, h36m17, smpl24)."""
    backend: DetectBackend = "blazepose"
    """Detector run on ``videos/<cam>.<ext>`` when the session has no ``pose/`` folder:
    ``blazepose`` (LiteRT; model files fetched once by ``mocap models fetch``) or ``onnx`` (a
    top-down heatmap or SimCC model given by ``model``)."""
    model: str = ""
    """Backend ``blazepose``: the landmark model, ``heavy``, ``full`` or ``lite`` (empty: the
    default, see the README for the measurements behind it); backend ``onnx``: the ONNX model
    file, absolute or relative to the session folder."""
    model_format: Annotated[str, KEYPOINT_FORMAT] = "coco17"
    """Keypoint format of the ONNX model's joints."""
    model_mean_rgb: Annotated[tuple[Annotated[float, Range(0, 255)], ...], RGB] = (
        123.675, 116.28, 103.53)
    """ONNX input normalisation: ``(pixel - mean) / std`` per RGB channel, pixels in 0..255."""
    model_std_rgb: Annotated[tuple[Annotated[float, POSITIVE], ...], RGB] = (
        58.395, 57.12, 57.375)
    """See ``model_mean_rgb``."""
    person_boxes: PersonBoxes = "detector"
    """Crops for the ONNX model: ``detector`` (BlazePose person detector, then the previous
    frame's keypoints) or ``full`` (the whole frame, one person per video)."""
    max_people: Annotated[int, at_least(1)] = 20
    """Most people followed per camera: a cap, everyone in view is followed up to it (for one
    actor among bystanders, ``[associate] mode = "main_subject"``)."""
    detect_interval_frames: Annotated[int, at_least(1)] = 10
    """Frames between runs of the BlazePose person detector looking for people nobody follows
    yet (it also runs on every frame where a followed person is lost)."""
    min_presence: Annotated[float, UNIT_INTERVAL] = 0.5
    """A person whose presence score (ONNX: mean keypoint confidence) falls below this is
    dropped and the person detector looks again."""
    heatmaps: bool = True
    """Keep the detector's per-joint heatmaps in ``out/detections.npz``."""
    flip: bool = True
    """BlazePose: also run the landmark model on each crop mirrored and average the two
    answers where both name the sides alike (twice its time; see the README for what it
    buys)."""
    max_heatmap_gb: Annotated[float, NON_NEGATIVE] = 2.0
    """Heatmaps larger than this (all cameras, gigabytes) are not kept, with a warning."""
    workers: Annotated[int, NON_NEGATIVE] = 0
    """Parallel worker processes, one camera each (0: one per camera, at most the CPU
    count)."""
    hands: bool = False
    """BlazePose: also find 21 points per hand (MediaPipe's hand landmark model on crops from
    the body's wrist, index and pinky points); the keypoints are then ``blazepose75`` (33
    body points, then the left and the right hand's 21), carried through triangulation,
    filtering and the exports (TRC/C3D markers, ``.npz``); the body fit uses the 33. See the
    README for what it costs."""


@dataclass(frozen=True)
class SyncSettings(CheckedTable):
    """Frame offsets between cameras, estimated from keypoint motion (see :mod:`mocap.sync`)."""

    TABLE: ClassVar[str] = "sync"

    enabled: bool = True
    """Estimate the offsets in ``mocap run`` and apply those that are trusted."""
    max_offset_frames: Annotated[int, at_least(1)] = 10
    """Largest offset searched, frames (either direction; ``enabled = false`` skips the
    search). Keep it below half the period of repetitive motion (a gait cycle is about 1 s):
    lags of a half or whole cycle correlate almost as well as the true one."""
    min_correlation: Annotated[float, CORRELATION] = 0.2
    """An offset is applied only if its pooled correlation reaches this (else it is reported
    and left at 0)."""
    min_margin: Annotated[float, Range(0, 2)] = 0.04
    """... and only if it beats the best correlation at any lag more than one frame away by
    this much (a difference of correlations: at most 2)."""
    min_gain_t: Annotated[float, NON_NEGATIVE] = 3.0
    """... and only if it beats no offset clearly: the correlation it gains over lag 0 (on
    the camera pairs whose lag it changes), summed in blocks of a third of a second, must
    reach this t statistic (mean over its standard error). Synchronous cameras are never
    shifted on weak evidence."""
    offsets: tuple[int, ...] = ()
    """Known offsets per camera in the rig's order (frame f of camera c shows the instant of
    frame f + offsets[c] of the take); when given, nothing is estimated."""


@dataclass(frozen=True)
class AssociateSettings(CheckedTable):
    """Who is who: 2D skeletons matched across cameras, people followed over time (see
    :mod:`mocap.associate`)."""

    TABLE: ClassVar[str] = "associate"

    mode: AssociationMode = "multi"
    """``multi`` (every person gets a stable identity), ``main_subject`` (one person: the actor
    the rig is aimed at, even when a bystander stands closer to some cameras) or ``off``
    (keep the detector's per-camera order: one person per camera, as before association)."""
    min_conf: Annotated[float, UNIT_INTERVAL] = 0.2
    """Joints below this confidence (0 to 1) are ignored by association."""
    min_joints: Annotated[int, at_least(2)] = 5
    """2D skeletons with fewer joints above ``min_conf`` are ignored."""
    max_ray_distance_m: Annotated[float, POSITIVE] = 0.15
    """Two skeletons are the same person only if their joints' rays pass within this distance
    of each other (mean over joints, metres); also the largest mean distance of a skeleton's
    rays to the person it is assigned to."""
    track_gate_m: Annotated[float, POSITIVE] = 0.4
    """A person found in a frame continues a track if it lies within this distance of the
    track's constant-velocity prediction (mean over joints, metres), plus
    ``max_speed_m_per_s`` times the time the track was lost beyond one frame."""
    max_speed_m_per_s: Annotated[float, POSITIVE] = 2.5
    """Fastest a lost person is assumed to move, metres per second (widens the gate)."""
    max_gap_s: Annotated[float, NON_NEGATIVE] = 0.5
    """A track lost for up to this long (seconds) is continued by motion prediction."""
    reid_max_gap_s: Annotated[float, NON_NEGATIVE] = 10.0
    """Tracks separated by up to this long (seconds: occlusion, leaving and coming back) are
    joined when position and body proportions agree."""
    reid_bone_tolerance: Annotated[float, POSITIVE] = 0.06
    """Largest relative difference of median bone lengths for two tracks to be one person."""
    min_track_s: Annotated[float, NON_NEGATIVE] = 0.2
    """Tracks shorter than this (seconds, in total after joining) are dropped as spurious."""
    max_people: Annotated[int, NON_NEGATIVE] = 0
    """Keep at most this many people, the best observed ones (0: no limit)."""
    volume_radius_m: Annotated[float, POSITIVE] = 2.0
    """``main_subject``: people are weighted by ``exp(-(d / r)^2 / 2)``, d their distance to
    the point the cameras are aimed at (metres); scores favour central, well-seen people."""


@dataclass(frozen=True)
class TriangulateSettings(CheckedTable):
    """3D reconstruction of keypoints."""

    TABLE: ClassVar[str] = "triangulate"

    method: TriangulationMethod = "algebraic"
    """``algebraic`` (confidence-weighted DLT with robust view selection) or ``volumetric``
    (heatmaps unprojected into a voxel grid around each person, aggregated across views,
    3D soft-argmax, coarse to fine; needs heatmaps)."""
    min_conf: Annotated[float, UNIT_INTERVAL] = 0.2
    """Detections below this confidence (0 to 1) are ignored."""
    min_views: Annotated[int, at_least(2)] = 2
    """Fewest agreeing cameras a joint must be seen by to be triangulated."""
    reproj_threshold_px: Annotated[float, POSITIVE] = 15.0
    """A view whose reprojection error exceeds this (pixels) is an outlier for that joint."""
    reproj_threshold_frac: Annotated[float, NON_NEGATIVE] = 0.025
    """Or this fraction of the person's size in that view where larger (take.view_thresholds)."""
    view_selection: ViewSelection = "robust"
    """``robust`` (view-pair hypotheses scored by confidence-weighted inliers, then iterative
    reweighting) or ``all`` (every detection above ``min_conf``, no rejection)."""
    robust_pair_views: Annotated[int, at_least(2)] = 6
    """Hypotheses come from pairs among this many most confident views of a joint (15 pairs
    for 6), so the cost grows linearly with the number of cameras."""
    robust_iterations: Annotated[int, NON_NEGATIVE] = 3
    """Iteratively reweighted least-squares passes (Tukey weights) after the best hypothesis."""
    refine_iterations: Annotated[int, NON_NEGATIVE] = 1
    """Re-solves weighting each view by confidence x pixels-per-unit / depth, which makes the
    linear solution minimise the weighted reprojection error in pixels (0 = plain DLT)."""
    repair_swaps: bool = True
    """Test each view's left/right labelling against the other views and relabel swapped
    pairs before the final triangulation (robust view selection only)."""
    temporal_radius_m: Annotated[float, NON_NEGATIVE] = 0.15
    """A joint further than this (metres) from the median of its neighbouring frames is
    triangulated again from the view pairs that agree with them (robust view selection only;
    0 disables). Fast limbs move about 5 cm per frame at 30 fps."""
    temporal_half_window: Annotated[int, at_least(1)] = 2
    """Neighbouring frames on each side that give that median."""
    min_ray_angle_deg: Annotated[float, Range(0, 180, high_open=True)] = 2.0
    """Points whose agreeing rays span less than this angle are left missing (depth unknown)."""
    backend: ArrayBackend = "numpy"
    """``numpy`` or ``torch`` (batched on the GPU when present, see ``device``)."""
    device: str = "auto"
    """Torch device for the torch backend and the volumetric method: ``auto`` (GPU when
    present, else CPU), ``cpu``, ``cuda``, ``cuda:1``..."""
    volume_aggregation: VolumeAggregation = "product"
    """How per-view heatmaps are combined in each voxel: ``product`` (of likelihoods, i.e. a
    sum of logs), ``softmax`` (mean weighted by a softmax over views of their peaks) or ``mean``."""
    volume_size_m: Annotated[float, POSITIVE] = 2.4
    """Side of the coarse cube around each person (centred on the algebraic result), metres."""
    volume_grid: Annotated[int, at_least(2)] = 16
    """Voxels per side of the coarse cube."""
    volume_refine_grid: Annotated[int, at_least(2)] = 8
    """Voxels per side of each finer per-joint cube (3 coarse voxels wide)."""
    volume_voxel_mm: Annotated[float, POSITIVE] = 5.0
    """Refinement stops once the voxel is smaller than this, millimetres."""
    volume_floor: Annotated[float, Range(0, 1, low_open=True)] = 0.001
    """Likelihood floor added to heatmaps (0 to 1) before logs: bounds the penalty one view can
    give a voxel, so a view whose heatmap misses the joint cannot veto it (0: log 0)."""
    volume_frames_per_batch: Annotated[int, at_least(1)] = 8
    """Frames processed at once (bounds memory: heatmaps are read chunk by chunk)."""
    v2v_weights: str = ""
    """Optional path to weights of the learned V2V-style 3D refinement (a torch state dict);
    empty = none (no weights are shipped)."""


@dataclass(frozen=True)
class FilterSettings(CheckedTable):
    """Temporal clean-up of the 3D keypoints."""

    TABLE: ClassVar[str] = "filter"

    max_gap_s: Annotated[float, NON_NEGATIVE] = 0.25
    """Gaps up to this long (seconds) are filled by interpolation; longer ones stay NaN."""
    cutoff_hz: Annotated[float, NON_NEGATIVE] = 6.0
    """Zero-phase Butterworth low-pass cut-off frequency in Hz, below the Nyquist frequency
    ``[take] fps`` / 2 (0 disables the filter)."""
    order: Annotated[int, at_least(1)] = 4
    """Order of the Butterworth filter (applied forwards and backwards)."""
    smoother: Smoother = "butterworth"
    """``butterworth`` (zero phase, ``cutoff_hz``), ``one_euro`` (causal, adaptive) or
    ``none``."""
    one_euro_min_cutoff_hz: Annotated[float, POSITIVE] = 2.0
    """One-euro filter: cut-off at rest, Hz (below ``[take] fps`` / 2)."""
    one_euro_beta: Annotated[float, NON_NEGATIVE] = 40.0
    """One-euro filter: cut-off increase per metre/second of speed, Hz s/m (high: a causal
    filter lags, and limbs move at metres per second)."""
    one_euro_d_cutoff_hz: Annotated[float, POSITIVE] = 1.0
    """One-euro filter: cut-off of the speed estimate, Hz (below ``[take] fps`` / 2)."""
    hampel_window_s: Annotated[float, NON_NEGATIVE] = 0.2
    """Spike removal: samples further than ``hampel_n_sigmas`` robust deviations from the
    median of this window (seconds, centred; longer than a frame, ``1 / [take] fps``) become
    missing, then are filled; 0 disables."""
    hampel_n_sigmas: Annotated[float, POSITIVE] = 3.0
    """Spike removal threshold, in robust standard deviations (1.4826 MAD)."""
    hampel_min_deviation_m: Annotated[float, NON_NEGATIVE] = 0.02
    """Spike removal never flags deviations smaller than this, metres."""
    bone_lengths: bool = True
    """Enforce one length per rigid bone and person (median over the take) on the filtered
    points: limbs, feet, skull, pelvis; not the chords across spine, neck or shoulders."""
    bone_length_iterations: Annotated[int, NON_NEGATIVE] = 10
    """Constraint-projection sweeps over the bones when enforcing lengths."""


@dataclass(frozen=True)
class FitSettings(CheckedTable):
    """Body-model fit of each person's filtered keypoints (see :mod:`mocap.fit`); writes
    ``out/person<p>/body.npz``."""

    TABLE: ClassVar[str] = "fit"

    enabled: bool = True
    """Fit a body model in ``mocap run``."""
    body: BodyKind = "anny"
    """``anny`` (needs no files) or ``smpl``, ``smplh``, ``smplx`` (need ``model_path``)."""
    model_path: str = ""
    """Folder (or file) with the SMPL-family model files, absolute or relative to the session."""
    gender: Gender = "neutral"
    """Gender of an SMPL-family model: ``neutral``, ``male`` or ``female``."""
    iteration_scale: Annotated[float, POSITIVE] = 1.0
    """Multiplies every stage's iteration budget (below 1: faster, less converged)."""
    reprojection_weight: Annotated[float, NON_NEGATIVE] = 0.5
    """Weight of the multi-view 2D reprojection term straight against the detections (0:
    off): the fit then sees what triangulation and the low-pass filter smooth away (fast
    limbs: a studio jog's knee flexion error 3.05 -> 2.02 degrees)."""
    floor_weight: Annotated[float, NON_NEGATIVE] = 0.0
    """Weight of the floor-contact term (feet on z = 0 of a world-aligned rig; 0: off)."""
    meshes: MeshFiles = ""
    """One mesh file per frame in ``out/person<p>/meshes/``: ``ply`` or ``obj`` ("": none)."""
    mesh_every: Annotated[int, at_least(1)] = 1
    """Write the mesh of every n-th frame."""
    device: str = "auto"
    """``auto`` (a GPU when torch sees one), ``cpu`` or ``cuda``."""
    threads: Annotated[int, at_least(1)] = 1
    """CPU threads of the fit (1 is fastest for its small tensors, and on a busy machine)."""
    chunk_frames: Annotated[int, at_least(0)] = 600
    """Fit a longer take in windows of this many frames (memory bounded; 0: whole take)."""
    chunk_overlap_frames: Annotated[int, at_least(1)] = 60
    """Frames shared by consecutive windows: fitted in both, then blended."""
    parts_once: bool = False
    """Count each rigid body part once in the keypoint and reprojection terms (the 11
    BlazePose face points together as much as a hip; a hand's wrist and knuckles, a foot's
    ankle, heel and toes likewise: ``KeypointFormat.part_weights``). On the rendered studio
    (``benchmarks/pixels.py``, volumetric + fit) it brings the trunk closer (hips 25 -> 18
    mm, body keypoints 16.3 -> 14.8 mm) but the face, hands and feet further (all 33
    keypoints 18.0 -> 19.3 mm; elbow flexion RMS 2.9 -> 3.7 degrees): off by default."""


@dataclass(frozen=True)
class Settings:
    """All stages' settings. Rules between tables (``RULES``) are checked when built, naming
    ``session.toml`` and both keys (:func:`settings_from_dict` names the file read)."""

    RULES: ClassVar[tuple] = (below_nyquist, spike_window, opensim_body_needs_fit)

    take: TakeSettings = field(default_factory=TakeSettings)
    detect: DetectSettings = field(default_factory=DetectSettings)
    sync: SyncSettings = field(default_factory=SyncSettings)
    associate: AssociateSettings = field(default_factory=AssociateSettings)
    triangulate: TriangulateSettings = field(default_factory=TriangulateSettings)
    filter: FilterSettings = field(default_factory=FilterSettings)
    fit: FitSettings = field(default_factory=FitSettings)
    export: ExportSettings = field(default_factory=ExportSettings)
    calibration: CalibrationSettings = field(default_factory=CalibrationSettings)
    opensim: OpenSimSettings = field(default_factory=OpenSimSettings)

    def __post_init__(self) -> None:
        check_rules(Settings, {f.name: getattr(self, f.name) for f in dataclasses.fields(self)},
                    "session.toml")

    def replace(self, **tables) -> "Settings":
        return dataclasses.replace(self, **tables)


# Tables a session file may hold that are records, not settings of a stage.
FREE_TABLES = ("simulate",)


def settings_from_dict(doc: dict, where: str = "settings") -> Settings:
    """Settings from a parsed TOML document (tables by stage), every value checked.

    Raises:
        SettingsError: an unknown table or key, a wrong type, a value not allowed (see the
            module), naming ``where`` (the file), the table and the key.
    """
    tables = {f.name: f for f in dataclasses.fields(Settings)}
    hints = typing.get_type_hints(Settings)
    built = {}
    for name, table in doc.items():
        if name in FREE_TABLES:
            continue
        if name not in tables:
            raise SettingsError(
                f"{where}: unknown table [{name}]{suggest(name, tables)}; valid tables: "
                f"{', '.join(tables)}")
        if not isinstance(table, dict):
            raise SettingsError(f"{where}: [{name}] must be a table, found {table!r}")
        built[name] = build_table(hints[name], table, f"{where} [{name}]")
    check_rules(Settings, built, where)
    return Settings(**built)


def load_settings(path: "str | Path | None") -> Settings:
    """Read ``session.toml``; a missing file gives the defaults.

    Raises:
        SettingsError: not TOML, or a table, key or value that is not allowed (naming the
            file, table and key), before any stage runs.
    """
    if path is None or not Path(path).is_file():
        return Settings()
    try:
        doc = tomllib.loads(Path(path).read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path}: not valid TOML ({exc})") from None
    return settings_from_dict(doc, str(path))
