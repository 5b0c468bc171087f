"""Keypoint format tables: consistent names, bones, symmetric pairs, a tree for export."""
import numpy as np
import pytest

from mocap.errors import KeypointFormatError
from mocap.keypoints import FORMATS, body_part, convert_keypoints, get_format
from mocap.simulate.body import LANDMARK_NAMES

REQUIRED = ("coco17", "body25", "body25b", "halpe26", "blazepose33", "h36m17", "smpl24")
SIZES = {"coco17": 17, "body25": 25, "body25b": 25, "halpe26": 26, "blazepose33": 33,
         "h36m17": 17, "smpl24": 24}


@pytest.mark.parametrize("name", REQUIRED)
def test_format_sizes(name):
    assert get_format(name).num_joints == SIZES[name]


@pytest.mark.parametrize("name", REQUIRED)
def test_bones_name_real_or_virtual_joints(name):
    f = get_format(name)
    known = set(f.joint_names) | set(f.virtual)
    for a, b in f.bones:
        assert a in known and b in known, (name, a, b)
    for v, (a, b) in f.virtual.items():
        assert a in f.joint_names and b in f.joint_names


@pytest.mark.parametrize("name", REQUIRED)
def test_left_right_pairs_are_symmetric(name):
    f = get_format(name)
    perm = f.flip_permutation
    assert np.array_equal(perm[perm], np.arange(f.num_joints))
    for a, b in f.lr_pairs:
        assert f.joint_names[a].replace("left_", "") == f.joint_names[b].replace("right_", "")
    lefts = [n for n in f.joint_names if n.startswith("left_")]
    assert len(lefts) == len(f.lr_pairs)


@pytest.mark.parametrize("name", REQUIRED)
def test_tree_is_connected_with_one_root(name):
    f = get_format(name)
    names, parents = f.tree
    assert parents[0] == -1 and (parents[1:] >= 0).all()
    assert all(parents[j] < j for j in range(1, len(parents)))
    assert set(f.joint_names) <= set(names)
    assert names[0] == f.root


@pytest.mark.parametrize("name", REQUIRED)
def test_every_joint_exists_in_the_virtual_studio(name):
    assert set(get_format(name).joint_names) <= set(LANDMARK_NAMES)


def test_native_names_of_openpose_body25():
    f = get_format("body25")
    assert f.native_names[:9] == ("Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder",
                                  "LElbow", "LWrist", "MidHip")
    assert f.index("LHeel") == 21 and f.index("left_heel") == 21


def test_convert_keeps_shared_joints_and_fills_the_rest():
    src = get_format("body25")
    x = np.arange(25 * 2, dtype=float).reshape(25, 2)
    y = convert_keypoints(x, "body25", "coco17")
    dst = get_format("coco17")
    for j, n in enumerate(dst.joint_names):
        assert np.array_equal(y[j], x[src.joint_names.index(n)])
    back = convert_keypoints(y, "coco17", "body25")
    assert np.isnan(back[src.index("MidHip")]).all()


def test_unknown_format_names_the_choices():
    with pytest.raises(KeypointFormatError, match="unknown keypoint format 'body26'.*body25"):
        get_format("body26")


def test_aliases():
    assert get_format("BODY_25B") is FORMATS["body25b"]
    assert get_format("coco").name == "coco17"


def test_rigid_bones_exclude_chords_across_the_spine():
    """Bone-length consistency holds only where a bone keeps its length: landmark formats
    drop the neck-pelvis, neck-shoulder and neck-nose chords; kinematic formats keep all."""
    body25 = get_format("body25")
    names = {tuple(sorted((body25.joint_names[a], body25.joint_names[b])))
             for a, b in body25.rigid_bone_indices}
    assert ("left_hip", "left_knee") in names and ("left_elbow", "left_wrist") in names
    assert ("neck", "pelvis") not in names and ("left_shoulder", "neck") not in names
    assert ("neck", "nose") not in names
    for f in ("smpl24", "h36m17"):
        np.testing.assert_array_equal(get_format(f).rigid_bone_indices, get_format(f).bone_indices)
    for f in ("coco17", "body25", "blazepose33", "halpe26", "body25b", "coco18"):
        rigid = {tuple(b) for b in get_format(f).rigid_bone_indices.tolist()}
        assert rigid and rigid <= {tuple(b) for b in get_format(f).bone_indices.tolist()}


def test_part_weights_count_each_rigid_part_once():
    """Every format's keypoints on one rigid part (head, each hand, each foot) weigh 1 in all;
    a keypoint alone on its part weighs 1."""
    assert body_part("left_eye_outer") == "head" and body_part("nose") == "head"
    assert body_part("right_thumb") == "right_hand" and body_part("left_heel") == "left_foot"
    assert body_part("left_knee") == "left_knee"
    for fmt in FORMATS.values():
        w = fmt.part_weights
        assert w.shape == (fmt.num_joints,) and (w > 0).all() and (w <= 1).all(), fmt.name
        parts = [body_part(n) for n in fmt.joint_names]
        for part in set(parts):
            total = sum(wi for wi, p in zip(w, parts) if p == part)
            assert abs(total - 1.0) < 1e-12, (fmt.name, part, total)
    bp = FORMATS["blazepose33"]
    assert bp.part_weights[bp.index("nose")] == pytest.approx(1 / 11)
    assert bp.part_weights[bp.index("left_hip")] == 1.0
    assert FORMATS["coco17"].part_weights[FORMATS["coco17"].index("left_ear")] == pytest.approx(0.2)
