"""Calibration files.

:mod:`calibration.io.formats` (anipose and Pose2Sim TOML, the rig's own files),
:mod:`calibration.io.opencv_yaml` (OpenCV and EasyMocap YAML), :mod:`calibration.io.qualisys`
(Qualisys ``.qca.txt``), and :mod:`calibration.io.atomic`, the one atomic write every file
goes through (a file is complete or absent, never half-written).

Nothing is imported here (import the modules): :mod:`calibration.rig` reads and writes
through :mod:`calibration.io.formats`, while the other readers build a
:class:`~calibration.rig.Rig`.
"""
