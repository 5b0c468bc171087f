"""OpenSim scaling and inverse kinematics of each person from virtual markers on the fitted
body or from the filtered 3D keypoints.

Pose2Sim's model, marker sets and setup files (:func:`mocap.datasets.pose2sim_opensim_setup`),
OpenSim's own ScaleTool and InverseKinematicsTool (the ``opensim`` wheel):

- :mod:`.markers`: which marker set serves a keypoint format, the markers from the keypoints,
  the frames that can be solved and the upright frames the model is scaled from (pure numpy);
- :mod:`.virtual`: virtual markers on a fitted body (``[opensim] markers = "body"``, the
  default), and :mod:`.placement`: Pose2Sim's model adapted to that body, carrying them;
- :mod:`.tools`: the OpenSim tools on files;
- :mod:`.person`: one person, into a work folder;
- :mod:`.people`: every person in parallel processes, moved into ``out/person<N>/`` all or
  nothing.
"""
from .markers import MARKER_SETS, MarkerSet, marker_set_for, markers_from_keypoints
from .people import person_entry, solve_people
from .person import PERSON_FILES, PersonJob, solve_person
from .tools import MODEL_FILE, read_sto

__all__ = ["MARKER_SETS", "MarkerSet", "marker_set_for", "markers_from_keypoints",
           "person_entry", "solve_people", "PERSON_FILES", "PersonJob", "solve_person",
           "MODEL_FILE", "read_sto"]
