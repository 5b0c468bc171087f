"""FBX files of a ``Skeleton`` + ``Motion`` (+ a skinned mesh): ``write_fbx`` and ``read_fbx``.

The mapping onto the binary layer ``exporters.fbx_format`` (which knows nothing of motion
capture), in modules:

- ``writer``: Skeleton + Motion (+ mesh) -> FBX (``write_fbx``, ``skeleton_motion_to_fbx``;
  what the file holds is described there);
- ``objects``: the FBX objects the writer builds (models, curves, poses, header nodes);
- ``reader``: FBX -> Skeleton + Motion (+ mesh), for round trips (``read_fbx``, ``fbx_to_scene``);
- ``scene``: what both share (``FbxScene``, ``AXIS_SETTINGS``, ``TIME_MODES``).
"""

from exporters.euler import unwrapped_euler_xyz
from exporters.fbx.reader import fbx_to_scene, read_fbx
from exporters.fbx.scene import AXIS_SETTINGS, TIME_MODES, FbxScene
from exporters.fbx.writer import bone_frames, skeleton_motion_to_fbx, write_fbx

__all__ = [
    "FbxScene",
    "TIME_MODES",
    "AXIS_SETTINGS",
    "write_fbx",
    "read_fbx",
    "skeleton_motion_to_fbx",
    "fbx_to_scene",
    "bone_frames",
    "unwrapped_euler_xyz",
]
