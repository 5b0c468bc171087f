"""The rendered studio: body-model actors (faces painted: eyes, brows, lips,
:mod:`.face_paint`) rendered by Blender (run as a subprocess in its own environment,
``make setup-blender``) through a rig's cameras, lens distortion applied exactly afterwards,
with ground truth for every keypoint format, joint rotations, shape and each camera's 2D
truth and visibility. Session folders from it: :mod:`mocap.app.render_session`.
"""
from .board import board_quad, carried_board_poses, floor_board_pose, render_board_frames
from .driver import blender_python, render_fingerprint, run_blender
from .lens_remap import apply_lens, lens_maps
from .face_paint import FACE_PARTS, face_paint
from .scene import (BODY_PARTS, LOOKS, PART_NAMES, ActorLook, blender_camera, face_parts,
                    painted_parts, render_camera, scale_camera, scale_rig, vertex_parts)
from .take import (RenderedTake, RenderSettings, animate_actors, keypoint_truth,
                   project_truth, render_take, take_truth)
from .visibility import keypoint_visibility

__all__ = ["ActorLook", "BODY_PARTS", "FACE_PARTS", "face_paint", "painted_parts", "animate_actors", "apply_lens", "blender_camera", "blender_python",
           "board_quad", "carried_board_poses", "face_parts", "floor_board_pose", "keypoint_truth",
           "keypoint_visibility", "lens_maps",
           "LOOKS", "PART_NAMES", "project_truth", "render_board_frames", "render_camera",
           "render_fingerprint", "render_take", "RenderedTake", "RenderSettings",
           "run_blender", "scale_camera", "scale_rig", "take_truth", "vertex_parts"]
