"""The BVH file format alone: a document model, a streaming writer and a parser.

This layer knows nothing of skeletons, axes or units; numbers are written and read exactly as
they are in the file. ``exporters.bvh`` maps ``Skeleton`` + ``Motion`` into a ``BvhDocument``.

A BVH file is a HIERARCHY (joints, each with an OFFSET from its parent, a list of CHANNELS and
either child joints or an ``End Site``) followed by MOTION: ``Frames: N``, ``Frame Time: dt``
(seconds) and N lines, each with one value per channel, in the order the channels appear in
the hierarchy (depth first).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TextIO

import numpy as np

from exporters.errors import FormatError

__all__ = ["CHANNEL_NAMES", "BvhJoint", "BvhDocument", "write_document", "parse_bvh"]

CHANNEL_NAMES = ("Xposition", "Yposition", "Zposition", "Xrotation", "Yrotation", "Zrotation")
"""The six channel names BVH knows (matched case-insensitively when reading)."""
_CHANNEL_BY_LOWER = {name.lower(): name for name in CHANNEL_NAMES}


@dataclass(frozen=True, eq=False)
class BvhJoint:
    """One joint of a BVH hierarchy, in file units.

    Attributes:
        name: the joint's name (written as one token: no whitespace, no braces).
        parent: index of the parent in ``BvhDocument.joints``; -1 for the root.
        offset: (3,) float64, file units: OFFSET from the parent (for the root, its rest position).
        channels: channel names from ``CHANNEL_NAMES``, in file order.
        end_site: (3,) float64 OFFSET of the joint's ``End Site``, or None.
    """

    name: str
    parent: int
    offset: np.ndarray
    channels: tuple[str, ...]
    end_site: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class BvhDocument:
    """A whole BVH file.

    Attributes:
        joints: joints in depth-first (file) order; every parent comes before its children.
        frame_time_s: seconds between frames (``Frame Time``), > 0.
        values: (F, C) float64, channel values per frame, columns in file order (joints in
            order, each joint's channels in order).
    """

    joints: tuple[BvhJoint, ...]
    frame_time_s: float
    values: np.ndarray

    def channel_columns(self) -> list[range]:
        """For each joint, the range of its columns in ``values``."""
        columns, start = [], 0
        for joint in self.joints:
            columns.append(range(start, start + len(joint.channels)))
            start += len(joint.channels)
        return columns


# ----------------------------------------------------------------------------- writing


def _number(value: float, decimals: int) -> str:
    """Fixed-point text of ``value`` ("-0.000" printed as "0.000")."""
    text = f"{value:.{decimals}f}"
    return text[1:] if text.startswith("-") and not text.strip("-0.") else text


def _hierarchy_lines(doc: BvhDocument, decimals: int) -> Iterator[str]:
    """The HIERARCHY section, one line at a time (tab-indented)."""
    children: dict[int, list[int]] = {i: [] for i in range(-1, len(doc.joints))}
    for i, joint in enumerate(doc.joints):
        children[joint.parent].append(i)

    def block(i: int, depth: int) -> Iterator[str]:
        joint, pad = doc.joints[i], "\t" * depth
        yield f"{pad}{'ROOT' if joint.parent < 0 else 'JOINT'} {joint.name}"
        yield f"{pad}{{"
        yield f"{pad}\tOFFSET " + " ".join(_number(v, decimals) for v in joint.offset)
        yield f"{pad}\tCHANNELS {len(joint.channels)}" + "".join(f" {c}" for c in joint.channels)
        for child in children[i]:
            yield from block(child, depth + 1)
        if joint.end_site is not None:
            yield f"{pad}\tEnd Site"
            yield f"{pad}\t{{"
            yield f"{pad}\t\tOFFSET " + " ".join(_number(v, decimals) for v in joint.end_site)
            yield f"{pad}\t}}"
        yield f"{pad}}}"

    yield "HIERARCHY"
    for root in children[-1]:
        yield from block(root, 0)


def _motion_rows(values: np.ndarray, decimals: int) -> Iterator[str]:
    """One text line per frame: the values separated by single spaces."""
    row_format = " ".join([f"%.{decimals}f"] * values.shape[1])
    for row in values:
        yield row_format % tuple(row)


def write_document(handle: TextIO, doc: BvhDocument, decimals: int = 6) -> None:
    """Write ``doc`` as BVH text to an open text file, streaming the frames.

    Args:
        handle: a text file opened for writing (open it with ``newline="\\n"`` for LF endings).
        doc: the document; channel names and joint names are written as given.
        decimals: digits after the decimal point for every number (fixed-point notation).
    """
    for line in _hierarchy_lines(doc, decimals):
        handle.write(line + "\n")
    handle.write("MOTION\n")
    handle.write(f"Frames: {doc.values.shape[0]}\n")
    handle.write(f"Frame Time: {doc.frame_time_s:.12f}\n")
    for line in _motion_rows(doc.values, decimals):
        handle.write(line + "\n")


# ----------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class _Token:
    text: str
    line: int  # 1-based


class _Tokens:
    """A cursor over the whitespace-separated tokens of the HIERARCHY section."""

    def __init__(self, tokens: list[_Token], source: str, last_line: int) -> None:
        self._tokens = tokens
        self._pos = 0
        self.source = source
        self.last_line = last_line

    def error(self, token: _Token | None, expected: str) -> FormatError:
        """A FormatError at ``token`` (or at the end of the hierarchy when None)."""
        if token is None:
            return FormatError(self.source, f"line {self.last_line}", expected, "the end of the hierarchy")
        return FormatError(self.source, f"line {token.line}", expected, repr(token.text))

    def next(self, expected: str) -> _Token:
        """Consume and return the next token; FormatError naming ``expected`` at the end."""
        if self._pos >= len(self._tokens):
            raise self.error(None, expected)
        token = self._tokens[self._pos]
        self._pos += 1
        return token

    def peek(self) -> _Token | None:
        """The next token without consuming it (None at the end)."""
        return self._tokens[self._pos] if self._pos < len(self._tokens) else None

    def keyword(self, word: str) -> _Token:
        """Consume the next token, which must be ``word`` (case-insensitive)."""
        token = self.next(repr(word))
        if token.text.lower() != word.lower():
            raise self.error(token, repr(word))
        return token

    def number(self, expected: str) -> float:
        """Consume a finite decimal number."""
        token = self.next(expected)
        try:
            value = float(token.text)
        except ValueError:
            raise self.error(token, expected) from None
        if not np.isfinite(value):
            raise self.error(token, expected)
        return value

    def name_after(self, keyword: _Token) -> str:
        """A joint name: every token on the keyword's line up to an optional ``{``."""
        parts = []
        while (token := self.peek()) is not None and token.line == keyword.line and token.text != "{":
            parts.append(self.next("a joint name").text)
        if not parts:
            raise self.error(self.peek(), f"a joint name after {keyword.text!r}")
        return " ".join(parts)


class _HierarchyParser:
    """Recursive-descent parser of HIERARCHY into a list of BvhJoint."""

    def __init__(self, tokens: _Tokens) -> None:
        self.tokens = tokens
        self.joints: list[BvhJoint] = []
        self.names: dict[str, int] = {}

    def parse(self) -> list[BvhJoint]:
        """HIERARCHY ROOT <joint> -- exactly one root."""
        self.tokens.keyword("HIERARCHY")
        self.joint(self.tokens.keyword("ROOT"), parent=-1)
        extra = self.tokens.peek()
        if extra is not None:
            raise self.tokens.error(extra, "'MOTION' after the root joint (one root only)")
        return self.joints

    def offset(self) -> np.ndarray:
        """OFFSET x y z (the keyword already consumed)."""
        return np.array([self.tokens.number(f"OFFSET value {axis}") for axis in "xyz"])

    def channels(self) -> tuple[str, ...]:
        """CHANNELS n name... (the keyword already consumed)."""
        count_token = self.tokens.next("a channel count")
        if not count_token.text.isdigit() or int(count_token.text) > 6:
            raise self.tokens.error(count_token, "a channel count from 0 to 6")
        names = []
        for _ in range(int(count_token.text)):
            token = self.tokens.next(f"{count_token.text} channel names")
            if token.text.lower() not in _CHANNEL_BY_LOWER:
                raise self.tokens.error(token, f"{count_token.text} channel names from {list(CHANNEL_NAMES)}")
            names.append(_CHANNEL_BY_LOWER[token.text.lower()])
        if len(set(names)) != len(names):
            raise self.tokens.error(count_token, "distinct channel names")
        return tuple(names)

    def end_site(self, end_token: _Token) -> np.ndarray:
        """End Site { OFFSET x y z } (``End`` already consumed)."""
        site = self.tokens.next("'Site' after 'End'")
        if site.text.lower() != "site" or site.line != end_token.line:
            raise self.tokens.error(site, "'Site' after 'End'")
        self.tokens.keyword("{")
        self.tokens.keyword("OFFSET")
        offset = self.offset()
        self.tokens.keyword("}")
        return offset

    def joint(self, keyword: _Token, parent: int) -> None:
        """<name> { OFFSET CHANNELS (JOINT|End Site)* } after ROOT/JOINT."""
        name = self.tokens.name_after(keyword)
        if name in self.names:
            raise self.tokens.error(keyword, f"a joint name not used before (joint {self.names[name]} is {name!r})")
        index = len(self.joints)
        self.names[name] = index
        self.joints.append(BvhJoint(name, parent, np.zeros(3), ()))
        self.tokens.keyword("{")
        offset, channels, end_site = None, (), None
        while True:
            token = self.tokens.next("'}' closing joint " + repr(name))
            word = token.text.lower()
            if word == "offset":
                offset = self.offset()
            elif word == "channels":
                channels = self.channels()
            elif word == "joint":
                self.joint(token, parent=index)
            elif word == "end" and end_site is None:
                end_site = self.end_site(token)
            elif word == "}":
                break
            else:
                raise self.tokens.error(token, "OFFSET, CHANNELS, JOINT, End Site or '}'")
        if offset is None:
            raise self.tokens.error(token, f"an OFFSET in joint {name!r}")
        self.joints[index] = BvhJoint(name, parent, offset, channels, end_site)


_FRAMES = re.compile(r"^\s*Frames\s*:\s*(\S+)\s*$", re.IGNORECASE)
_FRAME_TIME = re.compile(r"^\s*Frame\s+Time\s*:\s*(\S+)\s*$", re.IGNORECASE)


def _split_sections(lines: list[str], source: str) -> tuple[list[_Token], int]:
    """Tokens of the lines before MOTION, and the index of the MOTION line."""
    tokens: list[_Token] = []
    for i, line in enumerate(lines):
        words = line.split()
        if words and words[0].upper() == "MOTION":
            if len(words) > 1:
                raise FormatError(source, f"line {i + 1}", "'MOTION' alone on its line", repr(line.strip()))
            return tokens, i
        tokens.extend(_Token(word, i + 1) for word in words)
    raise FormatError(source, f"line {len(lines)}", "a 'MOTION' line", "the end of the file")


def _header_value(lines: list[str], index: int, pattern: re.Pattern[str], what: str, source: str) -> str:
    """The value captured by ``pattern`` on line ``index`` (0-based)."""
    if index >= len(lines):
        raise FormatError(source, f"line {len(lines)}", what, "the end of the file")
    match = pattern.match(lines[index])
    if match is None:
        raise FormatError(source, f"line {index + 1}", what, repr(lines[index].strip()))
    return match.group(1)


def _motion_header(lines: list[str], start: int, source: str) -> tuple[int, float, int]:
    """Parse ``Frames:`` and ``Frame Time:`` after MOTION; return (frames, frame_time, next line)."""
    index = start
    while index < len(lines) and not lines[index].strip():
        index += 1
    frames_text = _header_value(lines, index, _FRAMES, "'Frames: <count>'", source)
    if not frames_text.isdigit():
        raise FormatError(source, f"line {index + 1}", "a frame count (integer >= 0)", repr(frames_text))
    index += 1
    time_text = _header_value(lines, index, _FRAME_TIME, "'Frame Time: <seconds>'", source)
    try:
        frame_time = float(time_text)
    except ValueError:
        frame_time = float("nan")
    if not np.isfinite(frame_time) or frame_time <= 0:
        raise FormatError(source, f"line {index + 1}", "a frame time in seconds > 0", repr(time_text))
    return int(frames_text), frame_time, index + 1


def _first_bad_number(rows: list[tuple[int, str]]) -> tuple[int, str]:
    """(0-based line index, word) of the first word that is not a finite number."""
    for index, line in rows:
        for word in line.split():
            try:
                if np.isfinite(float(word)):
                    continue
            except ValueError:
                pass
            return index, word
    raise AssertionError("no bad number found")  # only called after a failed bulk parse


def _motion_values(lines: list[str], start: int, frames: int, channels: int, source: str) -> np.ndarray:
    """(frames, channels) values from the non-blank lines from ``start`` on, one frame per line."""
    rows: list[tuple[int, str]] = []
    for index in range(start, len(lines)):
        count = len(lines[index].split())
        if count == 0:
            continue
        if len(rows) == frames:
            raise FormatError(source, f"line {index + 1}", f"{frames} frame lines (as 'Frames:' says)", "more")
        if count != channels:
            raise FormatError(source, f"line {index + 1}", f"{channels} values (one per channel)", f"{count}")
        rows.append((index, lines[index]))
    if len(rows) < frames:
        raise FormatError(
            source, f"line {len(lines)} (end of file)", f"{frames} frame lines (as 'Frames:' says)", f"{len(rows)}"
        )
    try:
        values = np.array(" ".join(line for _, line in rows).split(), dtype=np.float64)
        finite = bool(np.all(np.isfinite(values)))
    except ValueError:
        finite = False
    if not finite:
        index, word = _first_bad_number(rows)
        raise FormatError(source, f"line {index + 1}", "finite numbers", repr(word))
    return values.reshape(frames, channels)


def parse_bvh(text: str, source: str = "<bvh>") -> BvhDocument:
    """Parse BVH text (LF or CRLF line endings; any channel order; ``End Site`` blocks).

    Args:
        text: the whole file.
        source: how the file is named in error messages (its path).

    Raises:
        FormatError: naming ``source``, the line, what was expected and what was found.
    """
    lines = text.splitlines()
    tokens, motion_index = _split_sections(lines, source)
    joints = _HierarchyParser(_Tokens(tokens, source, last_line=motion_index + 1)).parse()
    frames, frame_time, first_row = _motion_header(lines, motion_index + 1, source)
    channels = sum(len(joint.channels) for joint in joints)
    values = _motion_values(lines, first_row, frames, channels, source)
    return BvhDocument(tuple(joints), frame_time, values)
