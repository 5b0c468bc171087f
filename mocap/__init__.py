"""mocap: multi-camera markerless motion capture.

The map is ``docs/architecture.md``. Core: :mod:`mocap.errors`, :mod:`mocap.settings`,
:mod:`mocap.types`, :mod:`mocap.keypoints`, :mod:`mocap.geometry`, :mod:`mocap.io`. Stages,
pure functions of arrays and settings: :mod:`mocap.detect`, :mod:`mocap.sync`,
:mod:`mocap.associate`, :mod:`mocap.triangulate`, :mod:`mocap.filter`, :mod:`mocap.body`,
:mod:`mocap.fit`, :mod:`mocap.export`, :mod:`mocap.report`. The virtual studio:
:mod:`mocap.simulate`. Session folders and the command line: :mod:`mocap.app` only.

Conventions: world frame right-handed, Z up, metres; cameras as OpenCV; missing data is NaN
plus a separate confidence; camera order is the rig's.

Nothing is imported here, so that ``import mocap`` (and ``mocap --help``) stays light.
"""
__version__ = "0.1.0"
