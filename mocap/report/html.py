"""The report page: one self-contained HTML string, section by section.

What it shows: the artifacts of ``out/manifest.json`` (present or not), the calibration (a
table and a plan view of the cameras), the reprojection error of the result per camera, per
joint and over time, how many views saw each joint over time, how stable the bone lengths are,
joint-angle curves (hip, knee, shoulder, elbow flexion, see :mod:`mocap.angles`), trajectories,
and overlays of the result drawn back on every camera (:mod:`mocap.report.overlays`). Anything
absent is named in the page and the sections that need it say what is missing.

The page holds no script and no external address: plots are PNG (matplotlib, Agg) and
overlays JPEG, both inline as base64 ``data:`` URLs, so the file can be mailed or archived.
Pure: everything comes in as :class:`~mocap.report.inputs.ReportInputs` (and the overlay's
video frames, already read).
"""
from __future__ import annotations

import dataclasses
import html

import numpy as np

from ..angles import joint_angles
from ..errors import MocapError
from ..geometry.bones import bone_length_stats, bone_lengths
from ..keypoints import get_format
from .biomech import heel_strikes, is_walk, rom_rows
from .data import (angle_ranges, bone_names, camera_reprojection_stats, match_reprojection,
                   view_shares)
from .figures import (angles_figure, biomech_figure, bones_figure, contacts_figure, camera_plan, reprojection_figures,
                      trajectory_figure, views_figure)
from .inputs import ReportInputs
from .overlays import contact_sheet

__all__ = ["SECTIONS", "render_page"]

_CSS = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 24px;
       color: #222; max-width: 1320px; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc;
       padding-bottom: 4px; margin-top: 1.8em; } h3 { font-size: 1.05em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 8px 0; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
th { background: #f3f3f3; } td.l, th.l { text-align: left; }
.missing { color: #8a4b00; background: #fff4e0; padding: 6px 10px; border-left: 4px solid
       #e0a040; } .ok { color: #176b2c; } .bad { color: #a00; }
img.plot { max-width: 100%; display: block; margin: 8px 0; }
.sheet-row { display: flex; flex-wrap: wrap; gap: 4px; margin-bottom: 10px; }
img.thumb { display: block; }
.small { font-size: 0.85em; color: #555; } nav a { margin-right: 12px; }
"""

SECTIONS = (("summary", "Summary"), ("calibration", "Calibration"),
            ("reprojection", "Reprojection error"), ("views", "Views per joint"),
            ("bones", "Bone-length stability"), ("angles", "Joint angles"),
            ("trajectories", "Trajectories"), ("biomechanics", "Biomechanics"),
            ("overlays", "Overlays on every camera"), ("contacts", "Foot contacts"))


def _missing(text: str) -> str:
    return f'<p class="missing">Not available: {html.escape(text)}.</p>'


def _table(header: "list | None", rows: list, left_cols: int = 1) -> str:
    def cell(tag, i, v):
        cls = ' class="l"' if i < left_cols else ""
        return f"<{tag}{cls}>{html.escape(str(v))}</{tag}>"
    head = "" if header is None else \
        "<tr>" + "".join(cell("th", i, h) for i, h in enumerate(header)) + "</tr>"
    body = "".join("<tr>" + "".join(cell("td", i, v) for i, v in enumerate(r)) + "</tr>"
                   for r in rows)
    return f"<table>{head}{body}</table>"


def _fmt(x: float, digits: int = 1) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def _artifacts_table(inp: ReportInputs) -> tuple[str, list[str]]:
    """The manifest's files, present or MISSING, and a note per missing one."""
    def state(rel) -> str:
        return "present" if inp.files_present.get(str(rel), False) else "MISSING"
    arows = [(k, v, state(v)) for k, v in inp.manifest.artifacts.items()]
    for person in inp.manifest.people:
        for f in person.get("files", []):
            arows.append((f"person {person.get('id', '?')}", f, state(f)))
    notes = [f"{k}: {v} is listed in the manifest but is not in {inp.files_dir}"
             for k, v, st in arows if st == "MISSING"]
    return ("<h3>Artifacts (out/manifest.json)</h3>"
            + _table(["artifact", "file", "state"], arows, left_cols=3)), notes


def _summary_section(inp: ReportInputs) -> tuple[str, list[str]]:
    rows = [("session", inp.location)]
    if inp.rig is not None:
        rows.append(("cameras", f"{len(inp.rig)} ({', '.join(inp.rig.names)})"))
    p = inp.points
    if p is not None:
        rows += [("frames", f"{p.num_frames} at {p.fps:g} fps ({p.num_frames / p.fps:.1f} s)"),
                 ("people", str(p.xyz.shape[1])),
                 ("keypoints", f"{len(p.joint_names)} ({p.format or 'format not recorded'})"),
                 ("3D joints present", f"{100 * np.isfinite(p.xyz).all(-1).mean():.1f} %")]
    if inp.detections is not None:
        rows.append(("2D detections", inp.detections_source))
    out, notes = [_table(None, rows, left_cols=2)], []
    if inp.manifest is not None:
        table, notes = _artifacts_table(inp)
        out.append(table)
    stages = dataclasses.asdict(inp.settings)
    srows = [(t, k, v) for t, table in stages.items() for k, v in table.items()]
    out.append(f"<details><summary>Settings ({len(srows)} values, click to show)</summary>"
               + _table(["stage", "key", "value"], srows, left_cols=3) + "</details>")
    return "".join(out), notes


def _calibration_section(inp: ReportInputs) -> str:
    rig = inp.rig
    if rig is None:
        return _missing("no calibration could be read")
    centres = np.array([c.center for c in rig])
    mid = centres.mean(0)
    meta = rig.metadata
    per_cam = meta.error_px_per_camera or (None,) * len(rig)
    rows = []
    for cam, c, e in zip(rig, centres, per_cam):
        W, H = cam.size_wh
        fx, fy, cx, cy = cam.K[0, 0], cam.K[1, 1], cam.K[0, 2], cam.K[1, 2]
        hfov = np.degrees(2 * np.arctan(W / (2 * fx)))
        rows.append((cam.name, cam.model, f"{W}x{H}", _fmt(fx), _fmt(fy), _fmt(cx), _fmt(cy),
                     _fmt(hfov), " ".join(f"{d:.3g}" for d in cam.dist) or "none",
                     " ".join(f"{v:.2f}" for v in c), _fmt(np.linalg.norm(c - mid), 2),
                     _fmt(e, 2) if e is not None else "–"))
    overall = (f"; calibration reprojection error {meta.error_px:.2f} px"
               if meta.error_px is not None else "")
    head = (f'<p class="small">{html.escape(str(inp.calibration_file))}; '
            f'{"bundle adjusted" if meta.adjusted else "not bundle adjusted"}{overall}</p>')
    table = _table(["camera", "model", "size", "fx", "fy", "cx", "cy", "hfov (deg)", "dist",
                    "centre x y z (m)", "to rig centre (m)", "calib. error (px)"], rows,
                   left_cols=2)
    return head + table + _sync_table(inp) + camera_plan(rig, inp.points)


def _sync_table(inp: ReportInputs) -> str:
    if inp.sync is None:
        return "<p class=\"small\">Camera sync: no record (out/sync.json); frames taken as " \
               "simultaneous.</p>"
    doc = inp.sync
    C = len(doc["camera_names"])

    def col(key, fmt):
        vals = doc.get(key) or [None] * C
        return [fmt(v) if v is not None else "–" for v in vals]
    rows = zip(doc["camera_names"], col("offsets", str), col("estimated", str),
               col("correlation", lambda v: f"{v:.2f}"), col("margin", lambda v: f"{v:.2f}"),
               col("trusted", lambda v: "yes" if v else "no"))
    return (f"<h3>Camera sync ({html.escape(str(doc.get('source', '')))})</h3>"
            + _table(["camera", "offset applied (frames)", "estimated", "correlation",
                      "margin", "applied"], list(rows)))


def _reprojection_section(inp: ReportInputs, err: "np.ndarray | None") -> str:
    if err is None:
        return _missing("reprojection needs the calibration, the 2D detections and the 3D "
                        "keypoints")
    thr = inp.settings.triangulate.reproj_threshold_px
    rows = []
    for name, st in zip(inp.rig.names, camera_reprojection_stats(err, thr)):
        if st is None:
            rows.append((name, 0, "–", "–", "–", "–"))
            continue
        count, median, mean, p90, within = st
        rows.append((name, count, _fmt(median), _fmt(mean), _fmt(p90),
                     f"{100 * within:.1f} %"))
    table = _table(["camera", "detections", "median (px)", "mean (px)", "90th pct (px)",
                    f"within {thr:g} px"], rows)
    return table + reprojection_figures(err, inp.rig, inp.points.joint_names, inp.points.fps)


def _views_section(inp: ReportInputs) -> str:
    src = next((p for p in (inp.raw, inp.points) if p is not None and p.views_used is not None),
               None)
    if src is None:
        return _missing("no 3D keypoints with a record of the views used")
    share = view_shares(src)
    rows = [(n, f"{100 * s:.1f} %") for n, s in zip(src.camera_names, share)]
    return (_table(["camera", "share of 3D joints it contributed to"], rows)
            + views_figure(src, src.views_used.shape[-1]))


def _bones_section(inp: ReportInputs) -> str:
    p = inp.points
    if p is None:
        return _missing("no 3D keypoints")
    if not p.format:
        return _missing("the 3D keypoints do not record their format, so their bones are "
                        "unknown")
    fmt = get_format(p.format)
    bones = fmt.bone_indices
    names = bone_names(fmt)
    out = []
    for person in range(p.xyz.shape[1]):
        lengths = bone_lengths(p.xyz[:, person], bones)
        if not np.isfinite(lengths).any():
            continue
        st = bone_length_stats(lengths)
        rows = [(names[b], int(st["count"][b]), _fmt(100 * st["median_m"][b]),
                 _fmt(1000 * st["std_m"][b]), _fmt(100 * st["cv"][b]))
                for b in range(len(bones))]
        out.append(f"<h3>Person {person}</h3>" + _table(
            ["bone", "frames", "median (cm)", "std (mm)", "CV (%)"], rows)
            + bones_figure(lengths, names, p.fps, f"person {person}"))
    return "".join(out) or _missing("no person has a 3D keypoint")


def _angles_section(inp: ReportInputs) -> str:
    p = inp.points
    if p is None:
        return _missing("no 3D keypoints")
    out = []
    for person in range(p.xyz.shape[1]):
        xyz = p.xyz[:, person]
        if not np.isfinite(xyz).any():
            continue
        try:
            angles = joint_angles(xyz, p.joint_names)
        except MocapError as exc:
            return _missing(str(exc))
        rows = [(n, _fmt(lo), _fmt(hi), _fmt(mean)) for n, lo, hi, mean in angle_ranges(angles)]
        out.append(f"<h3>Person {person}</h3>"
                   + angles_figure(angles, p.fps, f"person {person}: joint angles (degrees)")
                   + _table(["angle", "min (deg)", "max (deg)", "mean (deg)"], rows))
    return "".join(out) or _missing("no person has a 3D keypoint")


def _gait_events(inp: ReportInputs, person: int) -> "tuple[dict, str]":
    """Heel strikes {side: frames} of a person whose take is a walk, and their table."""
    p = inp.points
    names = p.joint_names if p is not None else ()
    if p is None or not {"left_heel", "right_heel", "left_hip", "right_hip"} <= set(names):
        return {}, ""
    xyz = p.xyz[:, person]
    strikes = {s: heel_strikes(xyz[:, names.index(f"{s}_heel"), 2]) for s in ("left", "right")}
    pelvis = 0.5 * (xyz[:, names.index("left_hip"), :2] + xyz[:, names.index("right_hip"), :2])
    if not is_walk(pelvis, p.fps, list(strikes.values())):
        return {}, "<p class='small'>Not a walk: no gait events.</p>"
    rows = [(s, len(f), ", ".join(f"{t / p.fps:.2f}" for t in f),
             _fmt(60 * p.fps / np.median(np.diff(f))) if len(f) > 1 else "-")
            for s, f in strikes.items()]
    return strikes, _table(["side", "heel strikes", "times (s)", "strides per minute"], rows)


def _biomech_section(inp: ReportInputs) -> str:
    if not inp.biomech:
        return _missing("no fitted body angles (out/person<N>/angles.csv) nor OpenSim "
                        "inverse kinematics (out/person<N>/ik.mot)")
    fps = inp.points.fps if inp.points is not None else inp.settings.take.fps
    out = []
    for person, sources in sorted(inp.biomech.items()):
        strikes, gait = _gait_events(inp, person)
        rows = [(n, s, _fmt(lo), _fmt(hi), _fmt(rom), _fmt(e), src)
                for src, curves in sources.items() for n, s, lo, hi, rom, e in
                rom_rows(curves, src)]
        out.append(f"<h3>Person {person}</h3>"
                   + biomech_figure(sources, fps, f"person {person}: joint angles (degrees; "
                                    + ", ".join(f"{k} {st}" for k, st in zip(
                                        sources, ("solid", "dashed"))) + ")", strikes)
                   + _table(["angle", "side", "min (deg)", "max (deg)", "range (deg)",
                             "expected RMS error (deg)", "source"], rows, left_cols=2)
                   + gait)
    return "".join(out) + ("<p class='small'>Expected errors: benchmarks/biomechanics.py on "
                           "the virtual studio's body-model takes (walk, jog, squat).</p>")


def _contacts_section(inp: ReportInputs) -> str:
    if not inp.contacts:
        return _missing("no foot contacts (person<N>/contacts.csv, written by the export)")
    fps = inp.points.fps if inp.points is not None else inp.settings.take.fps
    out = []
    for person, columns in sorted(inp.contacts.items()):
        rows = [(name.replace("_", " "), _fmt(100 * float(np.mean(flags))),
                 int(np.sum(np.diff(np.concatenate([[0], np.asarray(flags, np.int8)])) == 1)))
                for name, flags in columns.items()]
        out.append(f"<h3>Person {person}</h3>"
                   + contacts_figure(columns, fps, f"person {person}: on the floor")
                   + _table(["point", "frames in contact (%)", "contacts"], rows))
    return "".join(out)


def _trajectory_section(inp: ReportInputs) -> str:
    if inp.points is None:
        return _missing("no 3D keypoints")
    return trajectory_figure(inp.points)


def _overlay_section(inp: ReportInputs, videos: "list | None", frames: "np.ndarray | None",
                     width_px: int) -> tuple[str, list[str]]:
    if inp.rig is None or inp.points is None:
        return _missing("overlays need the calibration and the 3D keypoints"), []
    return contact_sheet(inp.rig, inp.points, inp.detections, inp.offsets, videos, frames,
                         inp.settings.triangulate.min_conf, width_px)


def render_page(inp: ReportInputs, videos: "list | None" = None,
                frames: "np.ndarray | None" = None,
                overlay_width_px: int = 320) -> tuple[str, list[str]]:
    """The report page as one HTML string (no script, no external address).

    Args:
        inp: e.g. from :func:`mocap.app.report.gather_inputs`.
        videos, frames: the overlay contact sheet's take frames (k,) and, per camera, its
            video and the frames read from it (:func:`mocap.app.report.read_overlay_videos`);
            needed when ``inp`` has a rig and 3D keypoints.
        overlay_width_px: width of each overlay thumbnail.
    Returns:
        the page, and the notes found while drawing it (inputs that do not fit together,
        files the manifest lists that are absent), shown in the page after ``inp.notes``.
    """
    err, notes = match_reprojection(inp.rig, inp.points, inp.detections,
                                    inp.settings.triangulate.min_conf)
    summary, more = _summary_section(inp)
    notes += more
    body = {
        "summary": summary,
        "calibration": _calibration_section(inp),
        "reprojection": _reprojection_section(inp, err),
        "views": _views_section(inp),
        "bones": _bones_section(inp),
        "angles": _angles_section(inp),
        "trajectories": _trajectory_section(inp),
        "biomechanics": _biomech_section(inp),
        "contacts": _contacts_section(inp),
    }
    body["overlays"], more = _overlay_section(inp, videos, frames, overlay_width_px)
    notes += more
    items = "".join(f"<li>{html.escape(n)}</li>" for n in inp.notes + notes)
    notes_html = (f'<div class="missing"><b>Absent or unreadable:</b><ul>{items}</ul></div>'
                  if items else '<p class="ok">Every artifact the report reads was found.</p>')
    nav = "".join(f'<a href="#{k}">{t}</a>' for k, t in SECTIONS)
    parts = "".join(f'<section id="{k}"><h2>{t}</h2>{body[k]}</section>' for k, t in SECTIONS)
    title = f"Motion capture report: {html.escape(inp.name)}"
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{title}</title><style>{_CSS}</style></head><body>"
            f"<h1>{title}</h1><nav>{nav}</nav>{notes_html}{parts}</body></html>"), notes
