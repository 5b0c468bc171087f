"""Files of the pipeline: other tools' files read and written, and the stages' own outputs,
kept apart from the pure computations.

* :mod:`.openpose`: OpenPose JSON folders (one file per frame) of 2D keypoints.
* :mod:`.importers`: 2D keypoints from COCO-style results JSON, DeepLabCut CSV/H5 and SLEAP
  analysis H5, each with its writer.
* :mod:`.fit_files`: a body fit's files (``person<N>/body.npz``, meshes) and manifest entries.

Import the submodules themselves (``from mocap.io.openpose import read_openpose_folder``):
this package imports nothing, so ``import mocap.io`` stays cheap.
"""
