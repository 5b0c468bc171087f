"""mocap: multi-camera markerless motion capture.

Stages (one module each): keypoint formats (:mod:`mocap.keypoints`), 2D detections
(:mod:`mocap.types`, :mod:`mocap.openpose`), triangulation (:mod:`mocap.triangulate`), temporal
filtering (:mod:`mocap.filter`), skeleton (:mod:`mocap.skeleton`), the pipeline
(:mod:`mocap.app.pipeline`) and the virtual studio (:mod:`mocap.simulate`).

Conventions: world frame right-handed, Z up, metres; cameras as OpenCV; missing data is NaN
plus a separate confidence; camera order is the rig's.
"""
__version__ = "0.1.0"
