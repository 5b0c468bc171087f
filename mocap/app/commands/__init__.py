"""One module per ``mocap`` subcommand.

Each module defines ``register(subparsers)``, which adds its parser and sets ``func`` (a
function of the parsed arguments returning the exit status). :mod:`mocap.app.cli` finds the
modules here by itself, so adding a command never touches the CLI's code. ``ORDER`` only
decides the order in ``mocap --help``.
"""
ORDER = ("demo", "run", "simulate", "calibrate", "detect", "sync", "associate", "triangulate",
         "fit", "export", "report", "view", "batch", "init", "models")
