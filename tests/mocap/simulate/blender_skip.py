"""The skip of the rendering tests: they need ``.venv-blender``; under CI (``CI`` set) a
missing Blender environment is a failure, not a skip (the set-up must have made it)."""
from __future__ import annotations

import os

import pytest


def have_blender() -> bool:
    """Whether the Blender environment is there (or CI, where it must be)."""
    from mocap.errors import BlenderMissingError
    from mocap.simulate.render import blender_python
    try:
        blender_python()
        return True
    except BlenderMissingError:
        return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


#: The marks of a rendering test (a module's ``pytestmark``): ``blender``, skipped without the
#: Blender environment (not in CI).
BLENDER_MARKS = [pytest.mark.blender,
                 pytest.mark.skipif(not have_blender(),
                                    reason="no .venv-blender (make setup-blender)")]


def needs_blender(test):
    """:data:`BLENDER_MARKS` on one test function."""
    for mark in BLENDER_MARKS:
        test = mark(test)
    return test
