"""The application layer: the only code that knows session folders and the command line.

* :mod:`.cli` and :mod:`.commands`: ``mocap <command>``, argument parsing only.
* :mod:`.session`: the session folder contract (:class:`~mocap.app.session.Session`).
* :mod:`.pipeline`: the stages connected to the session's files (``mocap run``), with
  skip and resume (:mod:`.stages`); :mod:`.steps`: one stage alone on a session folder.
* :mod:`.batch`: many sessions at once; :mod:`.viewer`: a session in rerun.
* :mod:`.calibrate_board`, :mod:`.calibrate_people`: a session's calibration; :mod:`.studio`:
  simulated sessions; :mod:`.settings_template`: the commented ``session.toml``.

Nothing is imported here, so that ``mocap --help`` stays light.
"""
