"""``mocap view --save``: the recording holds the cameras, 2D, 3D, bones, mesh and video
frames of a session, read back from the .rrd file and compared with the artifacts."""
from __future__ import annotations

import sys
from collections import defaultdict

import numpy as np
import pytest

from mocap.app.cli import main as cli_main
from mocap.errors import MocapError
from mocap.app.pipeline import run
from mocap.app.studio import write_session
from mocap.simulate import Actor, ErrorModel, simulate_take
from mocap.types import Detections2D, Points3D, save_npz

rr = pytest.importorskip("rerun", reason="rerun-sdk (extra 'rerun') is not installed")
from rerun.chunk import RrdReader  # noqa: E402

F = 24
OFFSETS = [0, 2, 0, 0]            # cam2 runs 2 frames late (given in session.toml)
# the other export formats are tested with the exporters; BVH is enough here
ONLY_BVH = {"export": {"formats": ["bvh"]}}


@pytest.fixture(scope="module")
def viewed(tmp_path_factory, studio4):
    """A session with the pipeline's output, a moving mesh, a short video of a camera that
    runs late; saved as .rrd."""
    import cv2
    take = simulate_take(studio4, [Actor("walk", seed=4)], F, 30.0, "body25", ErrorModel(),
                         seed=1, camera_offsets=OFFSETS)
    root = write_session(tmp_path_factory.mktemp("view") / "s", studio4, take,
                         settings={**ONLY_BVH, "sync": {"offsets": OFFSETS}})
    run(root)
    # a tetrahedron riding on the first joint of person 0: (F, 4, 3) vertices, 4 faces
    pts = Points3D.load(root / "out" / "points3d.npz")
    tet = np.array([[0, 0, 0], [0.1, 0, 0], [0, 0.1, 0], [0, 0, 0.1]])
    verts = np.nan_to_num(pts.xyz[:, 0, 1])[:, None] + tet
    faces = np.array([[0, 1, 2], [0, 1, 3], [0, 2, 3], [1, 2, 3]])
    save_npz(root / "out" / "person0" / "mesh.npz", vertices=verts, faces=faces)
    W, H = studio4["cam2"].size_wh
    (root / "videos").mkdir()
    vw = cv2.VideoWriter(str(root / "videos" / "cam2.avi"), cv2.VideoWriter_fourcc(*"MJPG"),
                         30.0, (W // 8, H // 8))
    for f in range(5):
        vw.write(np.full((H // 8, W // 8, 3), 40 * f, np.uint8))
    vw.release()
    rrd = root.parent / "session.rrd"
    assert cli_main(["view", str(root), "--save", str(rrd), "--image-step", "2"]) == 0
    return root, rrd, verts, faces


def _read(rrd) -> dict:
    """{entity path: {"static": {column: value}, "frames": {frame: {column: value}}}}."""
    out = defaultdict(lambda: {"static": {}, "frames": defaultdict(dict)})
    for chunk in RrdReader(rrd).stream():
        batch = chunk.to_record_batch()
        cols = {n: batch.column(n).to_pylist() for n in batch.schema.names
                if not n.startswith("rerun.controls")}
        for i in range(batch.num_rows):
            row = {n: v[i] for n, v in cols.items() if n not in ("frame", "log_time")}
            if chunk.is_static:
                out[chunk.entity_path]["static"].update(row)
            else:
                out[chunk.entity_path]["frames"][cols["frame"][i]].update(row)
    return out


def test_rrd_holds_cameras_as_posed_pinholes(viewed, studio4):
    _, rrd, _, _ = viewed
    data = _read(rrd)
    for cam in studio4:
        pose = data[f"/world/cameras/{cam.name}"]["static"]
        np.testing.assert_allclose(pose["Transform3D:translation"][0], cam.center, atol=1e-5)
        R_world_from_cam = np.reshape(pose["Transform3D:mat3x3"][0], (3, 3), order="F")
        np.testing.assert_allclose(R_world_from_cam, cam.R_cam_from_world.T, atol=1e-6)
        pin = data[f"/world/cameras/{cam.name}/image"]["static"]
        np.testing.assert_allclose(np.reshape(pin["Pinhole:image_from_camera"][0], (3, 3),
                                              order="F"), cam.K, rtol=1e-6)
        assert pin["Pinhole:resolution"][0] == list(cam.size_wh)


def test_rrd_holds_the_3d_keypoints_bones_and_joint_names(viewed):
    root, rrd, _, _ = viewed
    data = _read(rrd)
    pts = Points3D.load(root / "out" / "points3d.npz")
    kp = data["/world/people/person0/keypoints"]
    assert sorted(kp["frames"]) == list(range(F))
    for f in (0, 7, F - 1):
        ok = np.isfinite(pts.xyz[f, 0]).all(-1)
        row = kp["frames"][f]
        assert row["Points3D:keypoint_ids"] == np.flatnonzero(ok).tolist()
        np.testing.assert_allclose(row["Points3D:positions"], pts.xyz[f, 0][ok], atol=1e-5)
    assert kp["static"]["Points3D:class_ids"] == [1]
    bones = data["/world/people/person0/bones"]["frames"][3]["LineStrips3D:strips"]
    assert len(bones) >= 20 and all(len(s) == 2 for s in bones)
    context = data["/"]["static"]["AnnotationContext:context"][0]
    by_class = {c["class_id"]: c["class_description"] for c in context}
    assert [k["label"] for k in by_class[1]["keypoint_annotations"]] == list(pts.joint_names)
    assert len(by_class[0]["keypoint_connections"]) > 10


def test_rrd_holds_the_2d_detections_of_every_camera(viewed):
    root, rrd, _, _ = viewed
    data = _read(rrd)
    from mocap.app.session import Session
    s = Session(root)
    det: Detections2D = s.detections(s.rig(), s.settings())     # as recorded, not re-timed
    for c, name in enumerate(det.camera_names):
        frames = data[f"/world/cameras/{name}/image/person0"]["frames"]
        o = OFFSETS[c]
        for f in (o, F // 2):                 # take frame f is the camera's frame f - o
            ok = (det.conf[c, f - o, 0] > 0) & np.isfinite(det.xy[c, f - o, 0]).all(-1)
            np.testing.assert_allclose(frames[f]["Points2D:positions"],
                                       det.xy[c, f - o, 0][ok], atol=1e-3)
        if o:
            assert frames[0]["Points2D:positions"] == []      # not recorded yet


def test_rrd_holds_the_mesh_and_the_video_frames(viewed, studio4):
    _, rrd, verts, faces = viewed
    data = _read(rrd)
    mesh = data["/world/people/person0/mesh"]
    assert np.array(mesh["static"]["Mesh3D:triangle_indices"]).tolist() == faces.tolist()
    np.testing.assert_allclose(mesh["frames"][5]["Mesh3D:vertex_positions"], verts[5],
                               atol=1e-5)
    video = data["/world/cameras/cam2/image/video"]["frames"]
    # every second take frame; the camera's frames 0, 2, 4 show take frames 2, 4, 6
    assert sorted(video) == [2, 4, 6]
    import cv2
    jpg = np.array(video[4]["EncodedImage:blob"][0], np.uint8)
    img = cv2.imdecode(jpg, cv2.IMREAD_COLOR)
    assert img.shape[1::-1] == tuple(studio4["cam2"].size_wh)   # resized to the calibration
    assert abs(float(img.mean()) - 80) < 3


def test_view_leaves_no_partial_file_on_error(tmp_path):
    (tmp_path / "s").mkdir()
    from mocap.app.viewer import view_session
    with pytest.raises(MocapError):
        view_session(tmp_path / "s", save=tmp_path / "x.rrd", image_step=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]


def test_view_without_rerun_says_how_to_install(monkeypatch):
    from mocap.app.viewer import require_rerun
    monkeypatch.setitem(sys.modules, "rerun", None)
    with pytest.raises(MocapError, match=r"mocap-studio\[rerun\]"):
        require_rerun()
