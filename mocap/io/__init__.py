"""Other tools' files of 2D keypoints, read and written (the session's own files are the app
layer's, :mod:`mocap.app`).

* :mod:`.openpose`: OpenPose JSON folders (one file per frame) of 2D keypoints.
* :mod:`.importers`: 2D keypoints from COCO-style results JSON, DeepLabCut CSV/H5 and SLEAP
  analysis H5, each with its writer.
* :mod:`.checks`: what every reader checks: frame numbers in file names, numbers where
  keypoint numbers belong, coordinates no camera can see (made missing).

Import the submodules themselves (``from mocap.io.openpose import read_openpose_folder``):
this package imports nothing, so ``import mocap.io`` stays cheap.
"""
