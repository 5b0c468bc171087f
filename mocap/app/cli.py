"""Command line: ``mocap <command> [options]``; the commands live in :mod:`mocap.app.commands`.

A user's mistake prints one line (``error: ...``) and exits with status 2; no traceback. An
operating system's error (``out`` is a file, a full or read-only disk, a missing permission)
prints one line naming the path and the system's reason and exits with status 1 (the
traceback with ``-v``); files already written stay as they were (every write is atomic).

Building the parser stays cheap (no numpy, torch, OpenCV, body models or simulator): only the
command named on the command line gets its whole parser (some list choices that need heavy
modules, e.g. the simulator's motions); the others get a stub with their one-line help, which
is all ``mocap --help`` shows. Each command imports its implementation when it runs.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import pkgutil
import sys
from types import ModuleType
from typing import Iterable

from . import commands

# numpy asks the kernel for huge pages for its large arrays (madvise); where the kernel then
# compacts memory at the page fault (transparent_hugepage/defrag = madvise, a common default),
# the fresh arrays of a long take cost seconds of system time (10-minute take: `mocap
# triangulate` 1.9 -> 0.8 s of system time). numpy's documented switch, read when numpy
# loads (this module loads first); a value the user set wins.
os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")

#: Errors of a user's mistake, as (module, class): printed as one line, exit status 2. They
#: are looked up only in the modules already imported (an error class never imported cannot
#: have been raised), so that the CLI does not import them itself: ``calibration`` and
#: ``exporters`` load OpenCV and SciPy.
USER_ERRORS = (("mocap.errors", "MocapError"), ("calibration.errors", "CalibrationError"),
               ("exporters.errors", "ExportError"))
#: Options accepted before the command name.
GLOBAL_FLAGS = ("-v", "--verbose", "-q", "--quiet")


def command_names() -> list[str]:
    """The commands (modules of :mod:`mocap.app.commands`), in ``commands.ORDER``."""
    found = [m.name for m in pkgutil.iter_modules(commands.__path__) if not m.name.startswith("_")]
    rank = {n: i for i, n in enumerate(commands.ORDER)}
    return sorted(found, key=lambda n: (rank.get(n, len(rank)), n))


def command_module(name: str) -> ModuleType:
    """The module of command ``name`` (cheap to import: parsers only)."""
    return importlib.import_module(f"{commands.__name__}.{name}")


def selected_command(argv: "list[str]") -> "str | None":
    """The command named in ``argv`` (after the global flags), or None."""
    names = command_names()
    for arg in argv:
        if arg not in GLOBAL_FLAGS:
            return arg if arg in names else None
    return None


def build_parser(full: "Iterable[str] | None" = None) -> argparse.ArgumentParser:
    """The ``mocap`` parser.

    Args:
        full: the commands that get their whole parser (None: every command); the others get
            a stub with their one-line help (enough for ``mocap --help``).
    """
    parser = argparse.ArgumentParser(
        prog="mocap",
        description="Multi-camera markerless motion capture: calibrated cameras + 2D keypoint "
                    "detections -> 3D keypoints -> skeleton animation.",
        epilog="Start with `mocap demo`: it simulates a capture in the virtual studio, runs the "
               "whole pipeline and prints the error against the ground truth. "
               "`mocap COMMAND --help` explains each command.")
    parser.add_argument("-v", "--verbose", action="store_true", help="more log output")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    wanted = None if full is None else set(full)
    for name in command_names():
        module = command_module(name)
        if wanted is None or name in wanted:
            module.register(sub)
        else:
            sub.add_parser(name, help=module.HELP)
    for p in sub.choices.values():   # the global flags are also accepted after the command
        p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                       help="more log output")
        p.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                       help="only warnings and errors (no progress)")
    return parser


def is_user_error(exc: BaseException) -> bool:
    """Whether ``exc`` is a user's mistake (see :data:`USER_ERRORS`)."""
    for module, name in USER_ERRORS:
        loaded = sys.modules.get(module)
        if loaded is not None and isinstance(exc, getattr(loaded, name)):
            return True
    return False


def os_error_line(exc: OSError, session: "str | None" = None) -> str:
    """One line for an operating system's error: the path(s) and the system's reason (the
    session folder when the error names no path, e.g. a full disk during a write)."""
    reason = exc.strerror or str(exc)
    paths = [str(p) for p in (exc.filename, exc.filename2) if p is not None]
    if paths:
        return f"error: {' -> '.join(paths)}: {reason}"
    where = f" (writing under {session})" if session else ""
    return f"error: {reason}{where}"


def main(argv: "list[str] | None" = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = selected_command(argv)
    args = build_parser([command] if command else []).parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    import numpy as np   # not at the top: `mocap --help` never needs it
    np.seterr(all="ignore")
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        if is_user_error(exc):
            print(f"error: {exc}", file=sys.stderr)
            return 2
        logging.getLogger(__name__).debug("operating system error", exc_info=True)
        print(os_error_line(exc, getattr(args, "session", None)), file=sys.stderr)
        return 1
    except Exception as exc:
        if not is_user_error(exc):
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
