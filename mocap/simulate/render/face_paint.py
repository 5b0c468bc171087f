"""A face a face detector can read: eyes, brows and lips painted on the body model's mesh.

The rendered body's skin is one colour; a detector looking at it must guess where the eyes
and the mouth are. This module picks the mesh faces to paint, in numpy, on the model's
mean-shape rest mesh, from the body's own anatomy: the same joints and vertices the truth's
eye and mouth keypoints come from (:mod:`mocap.body.anny_model`, :func:`mocap.body.regressors.
add_face_landmarks`). The painting is a property of the body (a face index list), so it
follows every shape and pose through skinning, and nothing in it looks at a detector.

Parts (:data:`FACE_PARTS`, colours in :class:`~.scene.ActorLook`):

- ``sclera``: the eyeballs (the faces the eye bones skin: Anny has one 28 mm ball per eye
  behind the lids' opening);
- ``iris``: the ball's faces within :data:`IRIS_RADIUS_M` of its front pole (the eye bone's
  head, the ball's centre, plus the ball's radius along the body's forward axis: the gaze
  straight ahead), dark: iris and pupil. On Anny the truth's eye keypoint lies on the ball
  too, about 3 mm above that pole (its regressor's vertices include the upper lid's);
- ``brow``: front-facing skin in a band above each eye, from above its inner corner to past its
  outer corner (:data:`BROW_BAND`, in eye widths: the distance between the truth's inner and
  outer eye corners);
- ``lips``: front-facing skin in an ellipse between the truth's mouth corners
  (:data:`LIP_HEIGHT`: its vertical half-axis over the half-width of the mouth).

The proportions are a human face's (an iris 12 mm across, brows 14-20 mm above the pupil,
lips about 16 mm tall for a 50 mm mouth), stated once here.
"""
from __future__ import annotations

import numpy as np

from ...body.model import BodyModel, body_axes
from ...body.regressors import spec_rest_position

__all__ = ["FACE_PARTS", "IRIS_RADIUS_M", "BROW_BAND", "LIP_HEIGHT", "FaceAnatomy",
           "face_anatomy", "paint_faces", "face_paint"]

#: The painted parts, in the order of their colour rows after the body's.
FACE_PARTS = ("sclera", "iris", "brow", "lips")
#: Radius of the iris (and pupil) disc on the eyeball, metres (a human iris is ~12 mm across).
IRIS_RADIUS_M = 0.006
#: The brow band above an eye, in eye widths from the eye keypoint: (lowest, highest) along the
#: face's up axis and (innermost, outermost) sideways (negative: toward the nose).
BROW_BAND = ((0.50, 0.72), (-0.40, 0.70))
#: The lips' vertical half-axis over the mouth's half-width (corner to corner / 2).
LIP_HEIGHT = 0.33
#: Skin faces are painted only where they face forward (cosine of the angle between their
#: normal and the face's forward axis at least this) and lie no further back than this
#: behind the landmark (metres): this keeps the band off the ears and the back of the head.
_FRONT_COS = 0.3
_DEPTH_M = 0.03
_UNPAINTED = -1


class FaceAnatomy:
    """Where the face's landmarks sit on the rest mesh, metres, model frame.

    Attributes:
        eyes: (2, 3) the truth's left and right eye keypoints (on the eyeballs' fronts).
        eye_centres: (2, 3) the eye bones' heads (the eyeballs' centres).
        eye_width_m: distance between an eye's inner and outer corner keypoints (mean of both).
        mouth: (2, 3) the truth's left and right mouth corners.
        forward, left, up: (3,) the body's axes (:func:`mocap.body.model.body_axes`).
        eye_bones: the eye bones' indices in the model's joints (left, right).
    """

    def __init__(self, eyes, eye_centres, eye_width_m, mouth, axes, eye_bones):
        self.eyes = np.asarray(eyes, float)
        self.eye_centres = np.asarray(eye_centres, float)
        self.eye_width_m = float(eye_width_m)
        self.mouth = np.asarray(mouth, float)
        self.forward, self.left, self.up = np.asarray(axes, float).T
        self.eye_bones = tuple(int(b) for b in eye_bones)


def face_anatomy(model: BodyModel) -> "FaceAnatomy | None":
    """The face landmarks of ``model`` (None when it lacks the eye bones or the keypoints:
    such a body is rendered with a plain face)."""
    kp = model.keypoints
    need = [f"{s}_{n}" for s in ("left", "right") for n in ("eye", "eye_inner", "eye_outer",
                                                            "mouth")]
    bones = [n for n in ("eye.L", "eye.R") if n in model.joint_names]
    if any(n not in kp for n in need) or len(bones) < 2:
        return None
    pos = {n: spec_rest_position(model, kp[n]) for n in need}
    J = model.joint_template.numpy()
    idx = [model.joint_names.index(b) for b in bones]
    width = np.mean([np.linalg.norm(pos[f"{s}_eye_outer"] - pos[f"{s}_eye_inner"])
                     for s in ("left", "right")])
    return FaceAnatomy(eyes=[pos["left_eye"], pos["right_eye"]], eye_centres=J[idx],
                       eye_width_m=width, mouth=[pos["left_mouth"], pos["right_mouth"]],
                       axes=body_axes(model), eye_bones=idx)


def _face_frames(verts: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T, 3) centroids and (T, 3) unit normals (counter-clockwise winding) of the faces."""
    tri = verts[faces]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    return tri.mean(1), n


def _eyeballs(anat: FaceAnatomy, centroids: np.ndarray, face_bone: np.ndarray) -> np.ndarray:
    """(T,) paint of the eyeball faces: sclera, or iris where the face lies within the iris
    radius of the ball's front pole (gaze straight ahead)."""
    out = np.full(len(centroids), _UNPAINTED)
    front = anat.forward
    for centre, bone in zip(anat.eye_centres, anat.eye_bones):
        ball = face_bone == bone
        if not ball.any():
            continue
        d = centroids - centre
        radius = np.linalg.norm(d, axis=1)
        ball_radius = float(np.median(radius[ball]))
        cos_edge = np.sqrt(max(0.0, 1.0 - (IRIS_RADIUS_M / ball_radius) ** 2))
        iris = ball & (d @ front >= cos_edge * radius)
        out[ball] = FACE_PARTS.index("sclera")
        out[iris] = FACE_PARTS.index("iris")
    return out


def _local(anat: FaceAnatomy, centroids: np.ndarray, origin: np.ndarray, outward: float):
    """Centroids in a landmark's frame: (sideways, up, forward) offsets (T,) each, metres;
    sideways positive away from the face's midline when ``outward`` is +1 (the left side)."""
    d = centroids - origin
    return outward * (d @ anat.left), d @ anat.up, d @ anat.forward


def _skin(anat: FaceAnatomy, centroids: np.ndarray, normals: np.ndarray,
          skin: np.ndarray) -> np.ndarray:
    """(T,) paint of the brows and lips on front-facing skin faces."""
    out = np.full(len(centroids), _UNPAINTED)
    front = skin & (normals @ anat.forward >= _FRONT_COS)
    w = anat.eye_width_m
    (lo, hi), (inner, outer) = BROW_BAND
    for eye, outward in zip(anat.eyes, (1.0, -1.0)):
        side, up, fwd = _local(anat, centroids, eye, outward)
        brow = front & (up >= lo * w) & (up <= hi * w) & (side >= inner * w) & \
            (side <= outer * w) & (fwd >= -_DEPTH_M)
        out[brow] = FACE_PARTS.index("brow")
    centre = anat.mouth.mean(0)
    half = 0.5 * np.linalg.norm(anat.mouth[0] - anat.mouth[1])
    side, up, fwd = _local(anat, centroids, centre, 1.0)
    lips = front & ((side / half) ** 2 + (up / (LIP_HEIGHT * half)) ** 2 <= 1.0) & \
        (fwd >= -_DEPTH_M)
    out[lips] = FACE_PARTS.index("lips")
    return out


def paint_faces(anat: FaceAnatomy, verts: np.ndarray, faces: np.ndarray,
                face_bone: np.ndarray, skin: np.ndarray) -> np.ndarray:
    """Which face part (index into :data:`FACE_PARTS`, -1: none) each mesh face shows.

    Args:
        anat: the face's landmarks (:func:`face_anatomy`), in the frame of ``verts``.
        verts: (V, 3) rest vertices, metres. faces: (T, 3) vertex indices.
        face_bone: (T,) the bone skinning each face most (eyeballs: the eye bones).
        skin: (T,) bool, the faces left uncovered by clothes.
    Returns:
        (T,) int64.
    """
    centroids, normals = _face_frames(np.asarray(verts, float), np.asarray(faces))
    balls = _eyeballs(anat, centroids, np.asarray(face_bone))
    paint = _skin(anat, centroids, normals, np.asarray(skin, bool) & (balls < 0))
    return np.where(balls >= 0, balls, paint)


def face_paint(model: BodyModel, face_part: np.ndarray) -> np.ndarray:
    """(T,) face part of each face of ``model``'s mesh (-1: none; all -1 for a model without
    the landmarks), on its mean-shape rest mesh.

    Args:
        face_part: (T,) the clothing part of each face (0: skin; :func:`~.scene.face_parts`).
    """
    faces = np.asarray(model.faces, np.int64)
    anat = face_anatomy(model)
    if anat is None:
        return np.full(len(faces), _UNPAINTED)
    W = np.asarray(model.weights.detach().numpy() if hasattr(model.weights, "detach")
                   else model.weights)
    face_bone = W[faces].sum(1).argmax(1)
    return paint_faces(anat, model.template.numpy(), faces, face_bone,
                       np.asarray(face_part) == 0)
