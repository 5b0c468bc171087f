"""A JSON folder's fingerprint (the detection cache's key): the digest the first version
computed (rows of (size, mtime) tuples), so caches written before stay valid; it changes when
a file is added, rewritten or touched."""
from __future__ import annotations

import hashlib
import os

import numpy as np

from mocap.io.openpose import folder_fingerprint


def fingerprint_reference(folder):
    entries = sorted((e.name, e.stat()) for e in os.scandir(folder) if e.name.endswith(".json"))
    digest = hashlib.sha256("\0".join(name for name, _ in entries).encode())
    digest.update(np.array([(st.st_size, st.st_mtime_ns) for _, st in entries],
                           np.int64).tobytes())
    return digest.hexdigest()


def test_fingerprint_is_the_first_versions_digest_and_sees_changes(tmp_path):
    assert folder_fingerprint(tmp_path) == fingerprint_reference(tmp_path)     # empty
    for k in range(30):
        (tmp_path / f"cam_{k:012d}_keypoints.json").write_text('{"people": []}' + " " * k)
    (tmp_path / "notes.txt").write_text("not a frame")
    first = folder_fingerprint(tmp_path)
    assert first == fingerprint_reference(tmp_path)
    path = tmp_path / "cam_000000000007_keypoints.json"
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1000))              # touched
    touched = folder_fingerprint(tmp_path)
    assert touched != first and touched == fingerprint_reference(tmp_path)
    path.write_text('{"people": [ ]}')                                         # rewritten
    assert folder_fingerprint(tmp_path) not in (first, touched)
