"""Settings of a session: one frozen dataclass per stage, read from ``session.toml``.

Defaults live in the dataclasses only. Unknown tables and keys are rejected with the closest
valid name suggested; values are checked for type. Units are in the field names.
"""
from __future__ import annotations

import dataclasses
import difflib
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path

from .errors import SettingsError

__all__ = ["TakeSettings", "DetectSettings", "TriangulateSettings", "FilterSettings",
           "ExportSettings", "Settings", "load_settings"]


@dataclass(frozen=True)
class TakeSettings:
    """The take as a whole."""

    fps: float = 30.0
    """Frame rate of the cameras, frames per second (used when the detections do not say)."""


@dataclass(frozen=True)
class DetectSettings:
    """2D detections."""

    format: str = "body25"
    """Keypoint layout of imported 2D detections (coco17, body25, body25b, halpe26,
    blazepose33, h36m17, smpl24)."""


@dataclass(frozen=True)
class TriangulateSettings:
    """3D reconstruction of keypoints."""

    method: str = "algebraic"
    """``algebraic`` (confidence-weighted DLT with robust view selection) or ``volumetric``
    (heatmaps unprojected into a voxel grid around each person, aggregated across views,
    3D soft-argmax, coarse to fine; needs heatmaps)."""
    min_conf: float = 0.2
    """Detections below this confidence are ignored."""
    min_views: int = 2
    """Fewest agreeing cameras a joint must be seen by to be triangulated."""
    reproj_threshold_px: float = 15.0
    """A view whose reprojection error exceeds this (pixels) is an outlier for that joint."""
    view_selection: str = "robust"
    """``robust`` (view-pair hypotheses scored by confidence-weighted inliers, then iterative
    reweighting) or ``all`` (every detection above ``min_conf``, no rejection)."""
    robust_pair_views: int = 6
    """Hypotheses come from pairs among this many most confident views of a joint (15 pairs
    for 6), so the cost grows linearly with the number of cameras."""
    robust_iterations: int = 3
    """Iteratively reweighted least-squares passes (Tukey weights) after the best hypothesis."""
    refine_iterations: int = 1
    """Re-solves weighting each view by confidence x pixels-per-unit / depth, which makes the
    linear solution minimise the weighted reprojection error in pixels (0 = plain DLT)."""
    repair_swaps: bool = True
    """Test each view's left/right labelling against the other views and relabel swapped
    pairs before the final triangulation (robust view selection only)."""
    min_ray_angle_deg: float = 2.0
    """Points whose agreeing rays span less than this angle (coincident or collinear cameras)
    are flagged and left missing: their depth is not determined."""
    backend: str = "numpy"
    """``numpy`` or ``torch`` (batched on the GPU when present, see ``device``)."""
    device: str = "auto"
    """Torch device for the torch backend and the volumetric method: ``auto`` (GPU when
    present, else CPU), ``cpu``, ``cuda``, ``cuda:1``..."""
    volume_aggregation: str = "product"
    """How per-view heatmaps are combined in each voxel: ``product`` (of likelihoods, i.e. a
    sum of logs), ``softmax`` (views weighted by a softmax of their values) or ``mean``."""
    volume_size_m: float = 2.4
    """Side of the coarse cube around each person (centred on the algebraic result), metres."""
    volume_grid: int = 16
    """Voxels per side of the coarse cube."""
    volume_refine_grid: int = 8
    """Voxels per side of each finer per-joint cube (3 coarse voxels wide)."""
    volume_voxel_mm: float = 5.0
    """Refinement stops once the voxel is smaller than this, millimetres."""
    volume_floor: float = 0.001
    """Likelihood floor added to heatmaps before logs: bounds the penalty one view can give a
    voxel, so a view whose heatmap misses the joint cannot veto it."""
    volume_frames_per_batch: int = 8
    """Frames processed at once (bounds memory: heatmaps are read chunk by chunk)."""
    v2v_weights: str = ""
    """Optional path to weights of the learned V2V-style 3D refinement (a torch state dict);
    empty = none (no weights are shipped)."""


@dataclass(frozen=True)
class FilterSettings:
    """Temporal clean-up of the 3D keypoints."""

    max_gap_s: float = 0.25
    """Gaps up to this long (seconds) are filled by interpolation; longer ones stay NaN."""
    cutoff_hz: float = 6.0
    """Zero-phase Butterworth low-pass cut-off frequency in Hz (0 disables the filter)."""
    order: int = 4
    """Order of the Butterworth filter (applied forwards and backwards)."""
    smoother: str = "butterworth"
    """``butterworth`` (zero phase, ``cutoff_hz``), ``one_euro`` (causal, adaptive) or
    ``none``."""
    one_euro_min_cutoff_hz: float = 1.5
    """One-euro filter: cut-off at rest, Hz."""
    one_euro_beta: float = 1.0
    """One-euro filter: cut-off increase per metre/second of speed, Hz s/m."""
    one_euro_d_cutoff_hz: float = 1.0
    """One-euro filter: cut-off of the speed estimate, Hz."""
    hampel_window_s: float = 0.2
    """Spike removal: samples further than ``hampel_n_sigmas`` robust deviations from the
    median of this window (seconds, centred) become missing, then are filled; 0 disables."""
    hampel_n_sigmas: float = 3.0
    """Spike removal threshold, in robust standard deviations (1.4826 MAD)."""
    hampel_min_deviation_m: float = 0.02
    """Spike removal never flags deviations smaller than this, metres."""
    bone_lengths: bool = True
    """Enforce one length per bone and person (median over the take) on the filtered points."""
    bone_length_iterations: int = 10
    """Constraint-projection sweeps over the bones when enforcing lengths."""


@dataclass(frozen=True)
class ExportSettings:
    """Files written by ``mocap run``."""

    formats: tuple[str, ...] = ("bvh",)
    """Which files to write (bvh)."""
    up_axis: str = "y"
    """Up axis of BVH files: ``y`` (Blender, most animation tools) or ``z``."""


@dataclass(frozen=True)
class Settings:
    """All stages' settings."""

    take: TakeSettings = field(default_factory=TakeSettings)
    detect: DetectSettings = field(default_factory=DetectSettings)
    triangulate: TriangulateSettings = field(default_factory=TriangulateSettings)
    filter: FilterSettings = field(default_factory=FilterSettings)
    export: ExportSettings = field(default_factory=ExportSettings)

    def replace(self, **tables) -> "Settings":
        return dataclasses.replace(self, **tables)


# Tables a session file may hold that are records, not settings of a stage.
FREE_TABLES = ("simulate",)


def _suggest(name: str, options) -> str:
    close = difflib.get_close_matches(name, list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _coerce(value, hint, where: str):
    origin = typing.get_origin(hint)
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if hint is str and isinstance(value, str):
        return value
    if hint is bool and isinstance(value, bool):
        return value
    if origin is tuple and isinstance(value, (list, tuple)):
        (inner, *_rest) = typing.get_args(hint)
        return tuple(_coerce(v, inner, where) for v in value)
    if origin is tuple and isinstance(value, str):
        return tuple(s.strip() for s in value.split(",") if s.strip())
    name = getattr(hint, "__name__", str(hint))
    raise SettingsError(f"{where}: expected {name}, found {type(value).__name__} {value!r}")


def _build(cls, table: dict, where: str):
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    values = {}
    for key, value in table.items():
        if key not in names:
            raise SettingsError(
                f"{where}: unknown key {key!r}{_suggest(key, names)}; valid keys: "
                f"{', '.join(names)}")
        values[key] = _coerce(value, hints[key], f"{where}.{key}")
    return cls(**values)


def settings_from_dict(doc: dict, where: str = "settings") -> Settings:
    """Settings from a parsed TOML document (tables by stage)."""
    tables = {f.name: f for f in dataclasses.fields(Settings)}
    hints = typing.get_type_hints(Settings)
    built = {}
    for name, table in doc.items():
        if name in FREE_TABLES:
            continue
        if name not in tables:
            raise SettingsError(
                f"{where}: unknown table [{name}]{_suggest(name, tables)}; valid tables: "
                f"{', '.join(tables)}")
        if not isinstance(table, dict):
            raise SettingsError(f"{where}: [{name}] must be a table, found {table!r}")
        built[name] = _build(hints[name], table, f"{where} [{name}]")
    return Settings(**built)


def load_settings(path: "str | Path | None") -> Settings:
    """Read ``session.toml``; a missing file gives the defaults."""
    if path is None or not Path(path).is_file():
        return Settings()
    try:
        doc = tomllib.loads(Path(path).read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path}: not valid TOML ({exc})") from None
    return settings_from_dict(doc, str(path))
