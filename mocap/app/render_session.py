"""Session folders from the rendered studio (``mocap simulate --render``): the videos a
rig's cameras would record of body-model actors, the calibration, and the ground truth.

Layout: ``calibration.toml`` (the rig, lens included), ``videos/<cam>.mp4`` (mp4v),
``session.toml`` (fps, keypoint format, ``[detect] max_people`` = the number of actors,
``[simulate]`` description) and ``gt.npz``: the
keys :func:`mocap.app.studio.write_session` writes (``xyz`` and ``joint_names`` in the
session's format, ``joints``, ``local_R``, ``root_R``, ``root_pos``, ``camera_offsets``,
``camera_names``, ``heights_m``, ``fps``) plus everything
:func:`mocap.simulate.render.render_take` returns (``xyz_<fmt>``, ``xy_<fmt>``,
``visible_<fmt>`` per format, ``betas``, ``global_orient``, ``body_pose``, ``transl``...).
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import tomli_w

from ..errors import SimulationError, VideoError
from ..keypoints import get_format
from ..types import save_npz

log = logging.getLogger(__name__)

__all__ = ["RenderSpec", "crossing_actors", "render_session", "cached_render", "render_key",
           "write_rendered_session",
           "write_truth", "refresh_truth",
           "STUDIO_BOARD", "render_studio_day", "write_board_images",
           "write_floor_board_images"]


@dataclass(frozen=True)
class RenderSpec:
    """A rendered take to make.

    Attributes:
        rig: rig template name or file. motion, frames, fps, seed: the take (one actor; with
            ``actors`` = 2, two actors walking across each other's path). format: the keypoint
            format of ``gt.npz``'s ``xyz``. width_px: image width (height in proportion).
        engine, samples: Blender's renderer (``workbench`` or ``cycles``) and Cycles' samples.
        face: the actors' faces painted (eyes, brows, lips:
            :mod:`mocap.simulate.render.face_paint`); False: the plain skin of earlier takes.
    """

    rig: str = "studio4"
    motion: str = "walk"
    frames: int = 60
    fps: float = 30.0
    format: str = "body25"
    seed: int = 0
    actors: int = 1
    width_px: int = 480
    engine: str = "workbench"
    samples: int = 16
    face: bool = True


def crossing_actors(motion: str, seed: int, count: int) -> tuple:
    """``count`` body-model actors: one in the middle; with two, both offset sideways by
    0.5 m on either side of the centre so that their paths cross in the cameras' views; a
    third and fourth ahead and behind on the centre line, a fifth further aside (a crowd)."""
    from ..simulate.bodymodel import BodyActor
    if count < 1 or count > 5:
        raise SimulationError(f"--actors: expected 1 to 5, found {count}")
    if count == 1:
        return (BodyActor(motion=motion, seed=seed),)
    offsets = [(0.0, -0.5), (0.0, 0.5), (-0.8, 0.0), (0.8, 0.0), (0.0, 1.5)]
    return tuple(BodyActor(motion=motion, seed=seed + k, xy_offset_m=offsets[k])
                 for k in range(count))


def write_video_rgb(path: Path, frames: np.ndarray, fps: float) -> Path:
    """Write (F, H, W, 3) uint8 RGB frames as an mp4v ``.mp4``."""
    h, w = frames.shape[1:3]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (w, h),
                             True)
    if not writer.isOpened():
        raise VideoError(f"{path}: expected a writable video (codec mp4v), found none", path)
    try:
        for fr in frames:
            writer.write(cv2.cvtColor(fr, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    return path


def write_rendered_session(folder: "str | Path", rendered, fmt: str, info: dict) -> Path:
    """Write a :class:`mocap.simulate.render.RenderedTake` as a session folder (see the
    module docstring); returns the folder."""
    root = Path(folder)
    (root / "videos").mkdir(parents=True, exist_ok=True)
    rendered.rig.save(root / "calibration.toml")
    for cam, frames in zip(rendered.rig, rendered.images):
        write_video_rgb(root / "videos" / f"{cam.name}.mp4", frames, rendered.fps)
    kf = get_format(fmt)
    P = len(rendered.vertices)
    doc = {"take": {"fps": float(rendered.fps)},
           "detect": {"format": kf.name, "max_people": max(1, P)},
           "simulate": {"rendered": True, **info}}
    with open(root / "session.toml", "wb") as fh:
        tomli_w.dump(doc, fh)
    write_truth(root, rendered.truth, kf.name, rendered.fps, len(rendered.rig))
    log.info("rendered session of %d actor(s), %d cameras written to %s", P,
             len(rendered.rig), root)
    return root


def write_truth(root: Path, truth: dict, fmt: str, fps: float, cameras: int) -> Path:
    """Write ``gt.npz`` (see the module docstring) from a rendered take's truth."""
    kf = get_format(fmt)
    if f"xyz_{kf.name}" not in truth:
        raise SimulationError(f"format {kf.name!r}: the body model cannot place its keypoints")
    return save_npz(root / "gt.npz", xyz=truth[f"xyz_{kf.name}"],
                    joint_names=np.array(kf.joint_names), fps=np.array(fps),
                    camera_offsets=np.zeros(cameras, int),
                    **{k: v for k, v in truth.items() if k not in ("xyz",)})


def refresh_truth(folder: "str | Path") -> Path:
    """Recompute a rendered session's ``gt.npz`` from its ``[simulate]`` description (the
    actors, the true rig: ``calibration_truth.toml`` on a studio day, else
    ``calibration.toml``), without Blender: the images do not depend on where the truth
    places keypoints, so a session rendered before a change of keypoint definitions is
    brought up to date in seconds. Returns the path of ``gt.npz``.

    Raises:
        SimulationError: the folder is not a rendered session.
    """
    from calibration import Rig
    from ..body.anny_model import load_anny
    from ..simulate.bodymodel import BodyActor
    from ..simulate.render import animate_actors, take_truth
    root = Path(folder)
    sim = tomllib.loads((root / "session.toml").read_text()).get("simulate", {})
    if not sim.get("rendered") or "actors_json" not in sim:
        raise SimulationError(f"{root / 'session.toml'}: expected a rendered session "
                              f"([simulate] rendered = true, actors_json), found {sorted(sim)}")
    actors = [BodyActor(**{k: tuple(v) if isinstance(v, list) else v for k, v in a.items()})
              for a in json.loads(sim["actors_json"])]
    true_rig = root / "calibration_truth.toml"
    rig = Rig.load(true_rig if true_rig.is_file() else root / "calibration.toml")
    model = load_anny()
    anims = animate_actors(model, actors, int(sim["frames"]), float(sim["fps"]))
    truth = take_truth(model, rig, anims)
    return write_truth(root, truth, sim["format"], float(sim["fps"]), len(rig))


def render_session(spec: RenderSpec, folder: "str | Path") -> Path:
    """Render ``spec`` and write it as a session folder; returns it.

    Raises:
        BlenderMissingError: no Blender environment (``make setup-blender``).
    """
    from ..body.anny_model import load_anny
    from ..simulate import load_rig_template
    from ..simulate.render import RenderSettings, blender_python, render_take, scale_rig
    if spec.engine not in ("workbench", "cycles"):
        raise SimulationError(f"--engine: expected workbench or cycles, found {spec.engine!r}")
    if spec.width_px < 16:
        raise SimulationError(f"--width: expected at least 16 pixels, found {spec.width_px}")
    blender_python()                       # fail fast, before the body model is built
    rig = scale_rig(load_rig_template(spec.rig), spec.width_px)
    actors = crossing_actors(spec.motion, spec.seed, spec.actors)
    rendered = render_take(rig, load_anny(), actors, spec.frames, spec.fps,
                           RenderSettings(engine=spec.engine, samples=spec.samples,
                                          face=spec.face))
    info = {k: v for k, v in asdict(spec).items()}
    info["actors_json"] = json.dumps([asdict(a) for a in actors])
    return write_rendered_session(folder, rendered, spec.format, info)


#: The studio day's board: a ChArUco of 5 x 7 squares of 20 cm (1.0 x 1.4 m), large enough
#: to be found by two cameras 4 m away at once.
STUDIO_BOARD = {"kind": "charuco", "squares_x": 5, "squares_y": 7, "square_length_m": 0.2,
                "marker_length_m": 0.15, "dictionary": "DICT_4X4_50"}


def render_key(spec: RenderSpec) -> str:
    """The cache key of a rendered session: a digest of ``spec``. A plain-face take
    (``face = False``) keeps the key takes had before faces were painted, whose images it
    shares; a painted one gets a new key."""
    fields = asdict(spec)
    if not fields["face"]:
        del fields["face"]
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


def cached_render(spec: RenderSpec, root: "str | Path") -> tuple[Path, float]:
    """The rendered session of ``spec`` under ``root/<hash of spec>``, rendered once.

    A cached session gets its truth rewritten as defined now (:func:`refresh_truth`: the images
    do not depend on it). Returns the session folder and the render's wall seconds (NaN when
    it came from the cache)."""
    key = render_key(spec)
    folder = Path(root) / key
    if (folder / "gt.npz").is_file():
        refresh_truth(folder)
        return folder, float("nan")
    t0 = time.perf_counter()
    render_session(spec, folder)
    return folder, time.perf_counter() - t0


def write_board_images(folder: Path, rig, images: list) -> None:
    """``calibration/<cam>/<frame:06d>.png`` grey board images for ``mocap calibrate``."""
    for cam, frames in zip(rig, images):
        d = folder / "calibration" / cam.name
        d.mkdir(parents=True, exist_ok=True)
        for f, rgb in enumerate(frames):
            if not cv2.imwrite(str(d / f"{f:06d}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)):
                raise VideoError(f"{d / f'{f:06d}.png'}: expected a writable image", d)


def write_floor_board_images(root: Path, rig, spec: RenderSpec) -> Path:
    """Render the studio day's board lying on the floor, printed face up, at the origin
    (:func:`mocap.simulate.render.floor_board_pose`) into ``calibration/floor/<cam>.png``:
    ``mocap calibrate`` puts the world on it (Z up, the floor at z = 0), as a studio would.
    Returns the folder."""
    from calibration.boards import board_from_dict
    from ..simulate.render import RenderSettings, floor_board_pose, render_board_frames
    from .calibrate_board import FLOOR_FOLDER
    board = board_from_dict(dict(STUDIO_BOARD))
    images, _ = render_board_frames(rig, board, floor_board_pose(board)[None],
                                    RenderSettings(engine=spec.engine, samples=spec.samples,
                                          face=spec.face))
    d = root / "calibration" / FLOOR_FOLDER
    d.mkdir(parents=True, exist_ok=True)
    for cam, frames in zip(rig, images):
        if not cv2.imwrite(str(d / f"{cam.name}.png"), cv2.cvtColor(frames[0],
                                                                   cv2.COLOR_RGB2GRAY)):
            raise VideoError(f"{d / f'{cam.name}.png'}: expected a writable image", d)
    return d


def render_studio_day(spec: RenderSpec, folder: "str | Path", board_frames: int = 60) -> Path:
    """A studio day: the rendered take (:func:`render_session`) plus a ChArUco board
    (:data:`STUDIO_BOARD`) carried through the same scene, rendered by the same cameras into
    ``calibration/<cam>/`` with the board in ``session.toml [calibration.board]``, then laid
    on the floor (``calibration/floor/``: the world frame, :func:`write_floor_board_images`). The
    session's ``calibration.toml`` is then the one ``mocap calibrate`` makes from the board;
    the true rig is kept in ``calibration_truth.toml``."""
    from calibration.boards import board_from_dict
    from ..simulate import load_rig_template
    from ..simulate.render import (RenderSettings, carried_board_poses, render_board_frames,
                                   scale_rig)
    root = render_session(spec, folder)
    rig = scale_rig(load_rig_template(spec.rig), spec.width_px)
    board = board_from_dict(dict(STUDIO_BOARD))
    poses = carried_board_poses(rig, board, board_frames, spec.seed)
    images, corners = render_board_frames(rig, board, poses,
                                          RenderSettings(engine=spec.engine,
                                                         samples=spec.samples))
    write_board_images(root, rig, images)
    np.savez(root / "gt_board.npz", poses=poses, corners_px=corners)
    write_floor_board_images(root, rig, spec)
    (root / "calibration.toml").replace(root / "calibration_truth.toml")
    with open(root / "session.toml", "ab") as fh:
        tomli_w.dump({"calibration": {"board": dict(STUDIO_BOARD)}}, fh)
    log.info("studio day: %d board frames per camera in %s/calibration; run `mocap "
             "calibrate %s` next", board_frames, root, root)
    return root
