"""Pose2Sim's OpenSim model adapted to a fitted body and carrying its virtual markers
(``[opensim] markers = "body"``, :mod:`mocap.opensim.virtual`). Four steps, on the model of
the pinned pose2sim wheel (``Model_Pose2Sim_simple.osim``):

1. Scaling (geometry and mass): each OpenSim body by the ratio of the body's segment length
   to the model's, between joint centres (:data:`MODEL_LENGTHS`, :data:`SCALED_BODIES`).
2. Joints like the body model's (:func:`_anatomical_hinges`): the knees pure hinges about the
   femur's medio-lateral axis (Pose2Sim's knee couples up to 15 degrees of tibial rotation and
   millimetres of translation to flexion), the ankle about the tibia's medio-lateral axis and
   the subtalar joint about the foot's nearest axis (Pose2Sim's are oblique).
3. Joint centres on the body's (:func:`_joints_on_body`, :data:`JOINT_CENTRES`): hips, knees,
   ankles, lumbar, neck, shoulders, elbows and wrists at the body's neutral joint positions,
   so that each model segment turns about the same points as the body's.
4. Markers: with every coordinate at zero (legs straight, feet flat, arms hanging) and the hip
   joints' midpoint at the origin, each marker is placed on its OpenSim body
   (:data:`OSIM_BODIES`) at the body's neutral-pose spot. The model standing at zero then
   carries the body's neutral markers exactly: OpenSim's zero angles are the body's neutral
   pose (the zero of the ISB angles). Coordinates no marker sees (toes, wrists) stay at zero
   in IK; they are not locked: OpenSim's IK with locked coordinates ran 5 times slower.

The coordinate names stay Pose2Sim's (``hip_flexion_r``, ``knee_angle_r``, ``ankle_angle_r``).
``opensim`` is imported inside the functions (an optional dependency, heavy to import).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import OpenSimError
from .tools import MODEL_FILE, import_opensim, quiet_stdout, tool_errors

__all__ = ["OSIM_BODIES", "MODEL_LENGTHS", "SCALED_BODIES", "BODY_TO_GROUND",
           "osim_body", "scale_and_place"]

#: (segment, side) of :data:`mocap.opensim.virtual.MARKER_SEGMENTS` -> the OpenSim body.
OSIM_BODIES = {("pelvis", ""): "pelvis", ("trunk", ""): "torso", ("head", ""): "head",
               **{(seg, side): f"{body}_{side[0]}" for side in ("left", "right")
                  for seg, body in (("thigh", "femur"), ("shank", "tibia"), ("foot", "calcn"),
                                    ("upper_arm", "humerus"), ("forearm", "radius"))}}

#: length name -> the two joint-centre sets between which the model's length is measured
#: (each a tuple of OpenSim joints whose parent frames are averaged); right side.
MODEL_LENGTHS = {"hip_width": (("hip_r",), ("hip_l",)),
                 "thigh": (("hip_r",), ("walker_knee_r",)),
                 "shank": (("walker_knee_r",), ("ankle_r",)),
                 "trunk": (("hip_r", "hip_l"), ("acromial_r", "acromial_l")),
                 "upper_arm": (("acromial_r",), ("elbow_r",)),
                 "forearm": (("elbow_r",), ("radius_hand_r",))}

#: OpenSim body (side suffix dropped) -> the length its scale follows.
SCALED_BODIES = {"pelvis": "hip_width", "sacrum": "hip_width", "femur": "thigh",
                 "tibia": "shank", "talus": "shank", "calcn": "shank", "toes": "shank",
                 "torso": "trunk", "head": "trunk", "humerus": "upper_arm",
                 "ulna": "forearm", "radius": "forearm", "hand": "forearm"}

#: (3, 3) from the body frame (x forward, y left, z up) to OpenSim's ground (X forward,
#: Y up, Z right).
BODY_TO_GROUND = np.array([[1.0, 0, 0], [0, 0, 1.0], [0, -1.0, 0]])


def osim_body(segment: str, side: str) -> str:
    """The OpenSim body a marker on ``segment`` of ``side`` rides on (a pelvis or trunk
    marker of one side rides on the one pelvis or torso)."""
    return OSIM_BODIES.get((segment, side)) or OSIM_BODIES[(segment, "")]


def _zero_pose(osim, model):
    """A realised state of ``model`` with every coordinate (pelvis translation included) 0."""
    state = model.initSystem()
    coords = model.getCoordinateSet()
    for i in range(coords.getSize()):
        coords.get(i).setValue(state, 0.0, False)
    model.assemble(state)
    model.realizePosition(state)
    return state


def _joint_centre(model, state, joints) -> np.ndarray:
    """(3,) mean ground position of the joints' parent frames, metres."""
    js = model.getJointSet()
    p = [js.get(j).getParentFrame().getPositionInGround(state) for j in joints]
    return np.mean([[v.get(k) for k in range(3)] for v in p], 0)


def model_lengths(osim, model) -> dict:
    """The model's segment lengths (:data:`MODEL_LENGTHS`), metres."""
    state = _zero_pose(osim, model)
    return {name: float(np.linalg.norm(_joint_centre(model, state, a)
                                       - _joint_centre(model, state, b)))
            for name, (a, b) in MODEL_LENGTHS.items()}


def _scale(osim, model, lengths: dict, mass_kg: float) -> None:
    """Scale ``model`` in place: each body by its length's ratio body / model (uniform)."""
    ratio = {k: lengths[k] / v for k, v in model_lengths(osim, model).items()}
    scales = osim.ScaleSet()
    bodies = model.getBodySet()
    for i in range(bodies.getSize()):
        name = bodies.get(i).getName()
        key = SCALED_BODIES.get(name.rsplit("_", 1)[0] if name[-2:] in ("_r", "_l") else name)
        if key is None:
            continue
        s = osim.Scale()
        s.setSegmentName(name)
        s.setScaleFactors(osim.Vec3(ratio[key]))
        s.setApply(True)
        scales.cloneAndAppend(s)
    state = model.initSystem()
    model.scale(state, scales, True, float(mass_kg))


def _euler_xyz(R: np.ndarray) -> np.ndarray:
    """(3,) OpenSim's body-fixed X-Y-Z angles (radians) of a rotation R = Rx(a) Ry(b) Rz(c)."""
    return np.array([np.arctan2(-R[1, 2], R[2, 2]), np.arcsin(np.clip(R[0, 2], -1, 1)),
                     np.arctan2(-R[0, 1], R[0, 0])])


def _rot_xyz(angles) -> np.ndarray:
    """(3, 3) Rx(a) Ry(b) Rz(c) of OpenSim's body-fixed X-Y-Z angles (radians)."""
    a, b, c = angles
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return rx @ ry @ rz


def snapped(R: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """R turned (by the smallest rotation) so that ``R @ axis`` lies on the nearest signed
    coordinate axis; R (3, 3), axis (3,) unit."""
    v = R @ axis
    t = np.zeros(3)
    k = int(np.argmax(np.abs(v)))
    t[k] = np.sign(v[k])
    w = np.cross(v, t)
    s, c = np.linalg.norm(w), float(v @ t)
    if s < 1e-12:
        return R
    K = np.array([[0, -w[2], w[1]], [w[2], 0, -w[0]], [-w[1], w[0], 0]]) / s
    return (np.eye(3) + s * K + (1 - c) * K @ K) @ R


def _frames_on_axes(osim, joint, axis: np.ndarray) -> None:
    """Turn both offset frames of ``joint`` (the same orientation) so that its rotation axis
    ``axis`` (joint frame) lies on the nearest axis of the parent body."""
    o = joint.get_frames(0).get_orientation()
    angles = _euler_xyz(snapped(_rot_xyz([o.get(k) for k in range(3)]), axis))
    for i in (0, 1):
        joint.upd_frames(i).set_orientation(osim.Vec3(*(float(a) for a in angles)))


def _anatomical_hinges(osim, model) -> None:
    """The knees as pure hinges and the ankle and subtalar axes on the segments' own axes
    (medio-lateral; antero-posterior), like the body model's joints: Pose2Sim's knee couples
    up to 15 degrees of tibial rotation and a few millimetres of translation to flexion, and
    its ankle and subtalar axes are oblique, which the body's segments do not follow."""
    joints = model.updJointSet()
    for side in ("r", "l"):
        knee = osim.CustomJoint.safeDownCast(joints.get(f"walker_knee_{side}"))
        st = knee.upd_SpatialTransform()
        for i in (1, 2, 3, 4):                        # coupled rotations and translations
            st.updTransformAxis(i).set_function(osim.Constant(0.0))
        _frames_on_axes(osim, knee, np.array([1.0, 0, 0]))
        ankle = osim.CustomJoint.safeDownCast(joints.get(f"ankle_{side}"))
        st = ankle.upd_SpatialTransform()
        st.updTransformAxis(0).setAxis(osim.Vec3(0, 0, 1))
        st.updTransformAxis(2).setAxis(osim.Vec3(1, 0, 0))
        _frames_on_axes(osim, joints.get(f"subtalar_{side}"), np.array([0, 0, 1.0]))


#: OpenSim joints (in tree order) -> the body's joint (canonical name) whose neutral position
#: becomes the joint's centre; the joints not named keep the scaled model's offsets.
JOINT_CENTRES = {"hip_r": "right_hip", "hip_l": "left_hip", "walker_knee_r": "right_knee",
                 "walker_knee_l": "left_knee", "ankle_r": "right_ankle", "ankle_l": "left_ankle",
                 "back": "spine1", "head_torso": "head", "acromial_r": "right_shoulder",
                 "acromial_l": "left_shoulder", "elbow_r": "right_elbow", "elbow_l": "left_elbow",
                 "radius_hand_r": "right_wrist", "radius_hand_l": "left_wrist"}


def _translation(frame) -> np.ndarray:
    t = frame.get_translation()
    return np.array([t.get(k) for k in range(3)])


def _joints_on_body(osim, model, joints: dict) -> None:
    """Move the model's joint centres (:data:`JOINT_CENTRES`) onto the body's neutral joint
    positions (``joints``: canonical name -> (3,) metres, body frame, origin mid-hips).

    At all coordinates zero every body of the model is aligned with the ground and a joint
    whose two offset frames share one orientation adds no rotation, so a child body's origin
    is its parent's plus the parent frame's translation minus the child frame's: each joint's
    parent translation is set to put the joint centre on the body's, its child translation to
    zero (the child body's origin at the joint centre). The pelvis keeps its origin's place
    relative to the hip joints' midpoint."""
    js = model.updJointSet()
    hips = [_translation(js.get(f"hip_{s}").get_frames(0)) for s in ("r", "l")]
    origin = {"pelvis": -0.5 * (hips[0] + hips[1])}
    for i in range(js.getSize()):
        joint = js.get(i)
        parent = joint.getParentFrame().findBaseFrame().getName()
        child = joint.getChildFrame().findBaseFrame().getName()
        if parent not in origin:                     # the ground
            continue
        pf, cf = joint.upd_frames(0), joint.upd_frames(1)
        if joint.getName() in JOINT_CENTRES:
            target = BODY_TO_GROUND @ np.asarray(joints[JOINT_CENTRES[joint.getName()]], float)
            pf.set_translation(osim.Vec3(*(target - origin[parent])))
            cf.set_translation(osim.Vec3(0.0, 0.0, 0.0))
        origin[child] = origin[parent] + _translation(pf) - _translation(cf)


def _place_markers(osim, model, names, segments, neutral: np.ndarray) -> None:
    """Replace the model's markers by the virtual ones at their neutral spots
    (``neutral`` (M, 3) metres, body frame) on the model standing at zero."""
    state = _zero_pose(osim, model)
    hips = _joint_centre(model, state, ("hip_r", "hip_l"))
    ground = model.getGround()
    where = []
    for name, seg, p in zip(names, segments, neutral):
        body = model.getBodySet().get(osim_body(*seg))
        g = hips + BODY_TO_GROUND @ np.asarray(p, float)
        loc = ground.findStationLocationInAnotherFrame(state, osim.Vec3(*g), body)
        where.append((name, body, [loc.get(k) for k in range(3)]))
    markers = model.updMarkerSet()
    markers.clearAndDestroy()
    for name, body, loc in where:
        model.addMarker(osim.Marker(name, body, osim.Vec3(*loc)))
    model.finalizeConnections()


def scale_and_place(lengths: dict, joints: dict, names, segments, neutral: np.ndarray,
                    out_osim: Path, mass_kg: float, who: str, setup_dir: Path) -> None:
    """Write ``out_osim``: Pose2Sim's model (from ``setup_dir``) scaled to the body's
    ``lengths`` (:func:`mocap.opensim.virtual.segment_lengths`) carrying the markers ``names``
    (on ``segments``) at their ``neutral`` (M, 3) spots (see the module docstring).

    Raises:
        OpenSimError: naming ``who``, when OpenSim fails.
    """
    osim = import_opensim()
    with tool_errors("scaling to the fitted body", who), quiet_stdout():
        model = osim.Model(str(setup_dir / MODEL_FILE))
        _scale(osim, model, lengths, mass_kg)
        _anatomical_hinges(osim, model)
        _joints_on_body(osim, model, joints)
        model.printToXML(str(out_osim))           # the scaled geometry, read back whole
        model = osim.Model(str(out_osim))
        _place_markers(osim, model, names, segments, neutral)
        model.printToXML(str(out_osim))
    if not out_osim.is_file():
        raise OpenSimError(f"{who}: OpenSim scaling wrote no model")
