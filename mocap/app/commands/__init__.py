"""One module per ``mocap`` subcommand: argument parsing only.

Each module defines ``HELP`` (its one-line help) and ``register(subparsers)``, which adds its
parser and sets ``func`` (a function of the parsed arguments returning the exit status).
``func`` calls into :mod:`mocap.app` (or a stage) and prints the result; it imports them when
it runs, so that importing a command module stays cheap (``mocap --help`` imports every one).
:mod:`mocap.app.cli` finds the modules here by itself, so adding a command never touches the
CLI's code. ``ORDER`` only decides the order in ``mocap --help``.
"""
ORDER = ("demo", "run", "simulate", "calibrate", "detect", "sync", "associate", "triangulate",
         "fit", "export", "report", "view", "batch", "init", "models")
