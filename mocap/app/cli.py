"""Command line: ``mocap <command> [options]``; the commands live in :mod:`mocap.app.commands`.

A user's mistake prints one line (``error: ...``) and exits with status 2; no traceback.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

import numpy as np

from calibration import CalibrationError
from exporters import ExportError

from . import commands
from ..errors import MocapError

USER_ERRORS = (MocapError, CalibrationError, ExportError)


def _command_modules() -> list[str]:
    found = [m.name for m in pkgutil.iter_modules(commands.__path__) if not m.name.startswith("_")]
    rank = {n: i for i, n in enumerate(commands.ORDER)}
    return sorted(found, key=lambda n: (rank.get(n, len(rank)), n))


def build_parser() -> argparse.ArgumentParser:
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
    for name in _command_modules():
        importlib.import_module(f"{commands.__name__}.{name}").register(sub)
    for p in sub.choices.values():   # the global flags are also accepted after the command
        p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                       help="more log output")
        p.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                       help="only warnings and errors (no progress)")
    return parser


def main(argv: "list[str] | None" = None) -> int:
    args = build_parser().parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    np.seterr(all="ignore")
    try:
        return int(args.func(args) or 0)
    except USER_ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
