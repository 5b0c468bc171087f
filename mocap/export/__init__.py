"""The export stage: each person's 3D keypoints -> the files animation and biomechanics tools read.

Per person ``p`` that was seen, in the output folder it is given (``[export] formats``
chooses which):

=========================  =================================================================
``person<p>.bvh``          keypoint skeleton animation; metres, Y up (``up_axis``), Euler ZXY:
                           Blender's default BVH import gives metres, Z up, our coordinates
``person<p>.fbx``          binary FBX 7.4: armature + baked curves (+ ``mesh``: a proxy box
                           mesh skinned to it), metres and axes stated in the file
``person<p>.trc``          the 3D keypoints as OpenSim markers: metres, Y up
``person<p>.c3d``          the 3D keypoints as C3D points: millimetres (``c3d_units``), Z up
``person<p>_amass.npz``    AMASS-style parameters of the skeleton's motion (axis-angle poses,
                           trans, frame rate, and the skeleton itself)
``person<p>/contacts.csv`` foot contact per frame: heel, toe and foot of each side, 0/1
                           (:mod:`mocap.export.contacts`; always written)
=========================  =================================================================

The BVH and FBX motion has its feet locked during contacts and kept above the floor
(``[export] foot_lock``, ``floor_snap``: :mod:`mocap.export.footlock`); TRC, C3D and the
``.npz`` stay the measured motion.

Bone names follow ``[export] naming`` (``canonical``, ``mixamo``, ``unreal``, ``metahuman``,
``blender``, ``smpl``; see ``exporters.naming``), the BVH and FBX rest pose ``[export]
rest_pose`` and root motion on the hips or on a root bone at the floor ``[export]
root_motion`` (:mod:`.animation`). Every file is written atomically and listed in the
person's ``files`` (the manifest entries :func:`export_people` returns).

A person with a fitted body (given with its body model, :class:`mocap.body.BodyMotion`) is
exported with the body's skeleton instead of the keypoint skeleton (:func:`body_export`): the
FBX then carries the body mesh skinned to it (``[export] mesh = "body"``, the default) and the
``.npz`` the body's parameters (AMASS layout). The app layer gives the bodies it fitted, or
those it reads back from a session (:func:`mocap.app.bodies.stored_bodies`).
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from exporters import Motion, Skeleton, write_bvh
from exporters.amass import AmassMotion, motion_to_amass, write_amass
from exporters.c3d import write_c3d
from exporters.fbx import write_fbx
from exporters.mesh import SkinnedMesh, bone_boxes
from exporters.naming import rename_skeleton
from exporters.trc import write_trc

from ..errors import MocapError
from ..settings import ExportFormat, ExportMesh, ExportSettings, choices
from .animation import animation_motion, animation_rig, check_continuity, root_motion_rig
from .contacts import ContactOptions, Contacts, detect_contacts, write_contacts_csv
from .skeleton import keypoint_skeleton
from ..keypoints import get_format
from ..types import Points3D

log = logging.getLogger(__name__)

__all__ = ["FORMATS", "MESHES", "body_export", "export_person", "export_people", "person_contacts",
           "animation_motion", "animation_rig"]

FORMATS = choices(ExportFormat)
"""Formats ``[export] formats`` may name."""
MESHES = choices(ExportMesh)
"""Values of ``[export] mesh``: no mesh; a box around every bone (skinned) in the FBX; the
fitted body's mesh when the person has one (else none)."""


def body_export(model, body) -> tuple[Skeleton, Motion, SkinnedMesh]:
    """A fitted body as exporters see it.

    Args:
        model: the :class:`mocap.body.BodyModel` the body was fitted with.
        body: the :class:`mocap.body.BodyMotion`.

    Returns:
        the skeleton of the fitted joints and their motion (:func:`mocap.body.to_exporters`;
        joints named by their canonical names where they have one), and the body's mesh in the
        rest pose: the person's rest vertices, the model's triangles and the fitted joints'
        skinning weights (the other joints' folded into their nearest fitted ancestor, exact as
        they never turn). Linear-blend skinning of it reproduces
        :func:`mocap.body.posed_vertices` exactly for models without pose-corrective shapes
        (Anny); SMPL's pose correctives cannot be carried by an FBX skin and are left out.
    """
    import torch

    from ..body import to_exporters
    from ..body.model import merged_weights, rest_vertices, shape_coefficients, skeleton_of

    skeleton, motion = to_exporters(model, body)
    canonical = skeleton_of(model, body.betas).canonical
    names = tuple(c or n for c, n in zip(canonical, skeleton.joint_names))
    if len(set(names)) == len(names):
        skeleton = Skeleton(names, skeleton.parents, skeleton.offsets)
    betas = torch.as_tensor(np.asarray(body.betas, float), dtype=torch.float64)
    vertices = rest_vertices(model, shape_coefficients(model, betas)).detach().numpy()
    weights = merged_weights(model).detach().numpy().astype(np.float64)
    weights = weights / weights.sum(axis=1, keepdims=True)      # float32-born weights: sum exactly 1
    mesh = SkinnedMesh(vertices, np.asarray(model.faces), weights, name=f"{model.kind}_body")
    return skeleton, motion, mesh



def marker_labels(points: Points3D) -> tuple[str, ...]:
    """Marker names of the TRC and C3D files: the keypoint format's own names (``RHip``,
    ``LKnee`` for OpenPose formats, as Pose2Sim and OpenSim models expect), else the
    canonical joint names."""
    if points.format:
        fmt = get_format(points.format)
        if fmt.joint_names == points.joint_names:
            return fmt.native_names
    return points.joint_names


def person_contacts(xyz: np.ndarray, points: Points3D, settings: ExportSettings) -> Contacts:
    """Foot contacts of one person's keypoints (F, J, 3) with the ``[export] contact_*``
    thresholds (:func:`mocap.export.contacts.detect_contacts`)."""
    options = ContactOptions(settings.contact_height_m, settings.contact_speed_m_per_s, settings.contact_min_s)
    return detect_contacts(xyz, points.joint_names, points.fps, options)


def _contacts_or_none(xyz: np.ndarray, points: Points3D, settings: ExportSettings) -> Contacts | None:
    """Contacts of a person whose keypoints name heels or ankles; None (logged) otherwise."""
    try:
        return person_contacts(xyz, points, settings)
    except MocapError as error:
        log.warning("no foot contacts: %s", error)
        return None


def _animation_files(skeleton: Skeleton, motion: Motion, contacts: Contacts | None,
                     body_mesh: SkinnedMesh | None, amass: AmassMotion | None, out: Path, stem: str,
                     settings: ExportSettings) -> dict:
    """Write the BVH, FBX and npz files of one person (:mod:`.animation` for what the BVH and
    FBX motion carries); return {format: file name} and the largest rotation step."""
    written: dict = {}
    if {"bvh", "fbx"} & set(settings.formats):
        animated = animation_motion(skeleton, motion, contacts, settings)
        named, animated, mesh = animation_rig(skeleton, animated, body_mesh, settings)
        mesh = {"boxes": bone_boxes(named), "body": mesh}.get(settings.mesh)
        named, animated, mesh = root_motion_rig(named, animated, mesh, settings)
        written["rotation_step_max_deg"] = round(check_continuity(named, animated, stem), 2)
        if "bvh" in settings.formats:
            write_bvh(out / f"{stem}.bvh", named, animated, up=settings.up_axis, units=settings.units)
            written["bvh"] = f"{stem}.bvh"
        if "fbx" in settings.formats:
            write_fbx(out / f"{stem}.fbx", named, animated, mesh, up=settings.up_axis, units=settings.units,
                      take_name=stem, armature_name=stem)
            written["fbx"] = f"{stem}.fbx"
    if "npz" in settings.formats:
        named = rename_skeleton(skeleton, settings.naming)
        write_amass(out / f"{stem}_amass.npz", amass or motion_to_amass(named, motion))
        written["npz"] = f"{stem}_amass.npz"
    return written


def export_person(xyz: np.ndarray, points: Points3D, person: int, out: Path, settings: ExportSettings,
                  skeleton_motion: tuple[Skeleton, Motion] | None = None, body_mesh: SkinnedMesh | None = None,
                  amass: AmassMotion | None = None) -> dict:
    """Write one person's files.

    Args:
        xyz: (F, J, 3) the person's keypoints, metres, world frame (Z up), NaN where missing.
        points: the take's 3D keypoints (format, joint names, fps).
        person: the person's index (file names ``person<p>.*``).
        out: the output folder.
        settings: ``[export]`` settings.
        skeleton_motion: the skeleton and motion to write; built from ``xyz`` when None.
        body_mesh: the skinned mesh of ``skeleton_motion``'s skeleton (a fitted body's), if any.
        amass: the parameters to write as ``.npz`` (a fitted body's); the skeleton's when None.

    Returns:
        {format: file name} for every format written, ``contacts``: the foot contacts
        (``person<p>/contacts.csv``) where the keypoints name heels or ankles, and with BVH or
        FBX ``rotation_step_max_deg``: the largest turn of a joint between two frames.
    """
    written: dict[str, str] = {}
    stem = f"person{person}"
    contacts = _contacts_or_none(xyz, points, settings)
    if contacts is not None:
        write_contacts_csv(out / stem / "contacts.csv", contacts)
        written["contacts"] = f"{stem}/contacts.csv"
    if {"bvh", "fbx", "npz"} & set(settings.formats):
        skeleton, motion = skeleton_motion or keypoint_skeleton(xyz, points.format, points.fps)
        written.update(_animation_files(skeleton, motion, contacts, body_mesh, amass, out, stem, settings))
    labels = marker_labels(points)
    if "trc" in settings.formats:
        write_trc(out / f"{stem}.trc", labels, xyz, points.fps, units="m", up="y")
        written["trc"] = f"{stem}.trc"
    if "c3d" in settings.formats:
        write_c3d(out / f"{stem}.c3d", xyz, labels, points.fps, units=settings.c3d_units)
        written["c3d"] = f"{stem}.c3d"
    return written


def _body_files(model, body) -> dict:
    """``export_person`` arguments of a fitted body."""
    skeleton, motion, mesh = body_export(model, body)
    amass = AmassMotion(body.poses.reshape(body.num_frames, -1), body.trans, body.fps, body.betas, body.gender,
                        body.surface_model_type)
    return {"skeleton_motion": (skeleton, motion), "body_mesh": mesh, "amass": amass}


def export_people(points: Points3D, out: Path, settings: ExportSettings, bodies: dict | None = None) -> list[dict]:
    """Write the files of every person that was seen; return their manifest entries.

    Args:
        points: the take's 3D keypoints.
        out: the output folder.
        settings: ``[export]`` settings.
        bodies: {person: (body model, BodyMotion)} of fitted people (None: none); the others
            are exported with the keypoint skeleton.

    Returns:
        one dict per person seen: ``id``, ``frames_seen``, one key per format written (its file
        name) and ``files`` (all of them, in ``FORMATS`` order).
    """
    people = []
    for p in range(points.xyz.shape[1]):
        xyz = points.xyz[:, p]
        seen = np.isfinite(xyz).all(-1)
        if not seen.any():
            continue
        fitted = bodies.get(p) if bodies is not None else None
        written = export_person(xyz, points, p, out, settings, **(_body_files(*fitted) if fitted else {}))
        people.append({"id": p, "frames_seen": int(seen.any(-1).sum()), **written,
                       "files": [written[f] for f in FORMATS if f in written]})
        log.info("person %d: wrote %s", p, ", ".join(v for v in written.values() if isinstance(v, str)))
    return people

