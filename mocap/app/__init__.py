"""The application layer: the only code that knows session folders and the command line.

* :mod:`.cli` and :mod:`.commands`: ``mocap <command>``, argument parsing only.
* :mod:`.session`: the session folder contract (:class:`~mocap.app.session.Session`).
* :mod:`.pipeline`: the stages connected to the session's files (``mocap run``), with
  skip and resume (:mod:`.stages`); :mod:`.steps`: one stage alone on a session folder.
* :mod:`.detections`: the session's 2D detections (``pose/`` files, else detection on
  ``videos/``); :mod:`.bodies`: the fit's files (body model, ``person<p>/body.npz``) and the
  bodies read back for an export; :mod:`.report`: the report read from and written to the
  session (``out/report.html``).
* :mod:`.batch`: many sessions at once; :mod:`.viewer`: a session in rerun.
* :mod:`.calibrate_board`, :mod:`.calibrate_people`: a session's calibration; :mod:`.studio`:
  simulated sessions (:func:`~.studio.write_session`); :mod:`.settings_template`: the
  commented ``session.toml``.

Nothing is imported here, so that ``mocap --help`` stays light.
"""
