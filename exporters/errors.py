"""Typed errors raised by the exporters package.

Every error is a ``ValueError`` (a user's data or file is wrong, not the program), so a
command line can catch ``ExportError`` and print its one-line message. Messages name what
was checked (the joint, the frame, the file and line), what was expected and what was found.
"""

from __future__ import annotations

__all__ = ["ExportError", "SkeletonError", "MotionError", "FormatError"]


class ExportError(ValueError):
    """Base class of every error raised by ``exporters``."""


class SkeletonError(ExportError):
    """A skeleton is malformed: parents out of order, several roots, bad offsets, names."""


class MotionError(ExportError):
    """A motion is malformed: NaN or infinite values, non-rotations, shapes, fps."""


class FormatError(ExportError):
    """A file cannot be parsed.

    The message names the file, the line (or key), what was expected and what was found.
    """

    def __init__(self, source: str, where: str, expected: str, found: str) -> None:
        self.source = source
        self.where = where
        self.expected = expected
        self.found = found
        super().__init__(f"{source}, {where}: expected {expected}, found {found}")
