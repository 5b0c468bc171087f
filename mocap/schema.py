"""Typed TOML tables: a table -> a frozen dataclass, every value checked against its field.

A field's annotation says what it accepts:

* ``float``, ``int``, ``str``, ``bool``, ``tuple[X, ...]`` (a TOML array, or a comma-separated
  string), or a dataclass (a sub-table, ``[table.field]``);
* ``typing.Literal["a", "b"]``: one of these values (``tuple[Literal[...], ...]``: each item);
* ``typing.Annotated[X, rule, ...]``: an X for which every rule holds, a rule being a
  :class:`Range` of numbers or a :class:`Rule` (a test, and what it expects).

A rule between keys (a cut-off below the take's Nyquist frequency, a marker smaller than its
square) is a function of the table listed in the class's ``RULES``: it returns what is wrong,
naming both keys and their values, or None (see :func:`check_rules`).

This is where values are checked, once, when a file is read: :func:`build_table` raises
:class:`~mocap.errors.SettingsError` with one line naming the file, the table and the key,
what was expected and what was found (``session.toml [fit] body = 'smpl-x'; expected one of
'anny', 'smpl', 'smplh', 'smplx'``). :func:`check_fields` checks a table built in code (for
example settings changed by command-line options) the same way.
"""
from __future__ import annotations

import dataclasses
import difflib
import functools
import math
import types
import typing
from dataclasses import dataclass
from typing import Any, Callable

from .errors import SettingsError

__all__ = ["Range", "Rule", "POSITIVE", "NON_NEGATIVE", "UNIT_INTERVAL", "at_least",
           "build_table", "check_fields", "check_rules", "value_problem", "suggest",
           "CheckedTable"]


@dataclass(frozen=True)
class Range:
    """The numbers a setting allows: from ``low`` to ``high`` (None: unbounded), each bound
    included unless ``low_open`` / ``high_open``. NaN and infinities are never in a range."""

    low: "float | None" = None
    high: "float | None" = None
    low_open: bool = False
    high_open: bool = False

    def ok(self, value) -> bool:
        if not math.isfinite(value):
            return False
        above = self.low is None or value > self.low or (not self.low_open and value == self.low)
        below = (self.high is None or value < self.high
                 or (not self.high_open and value == self.high))
        return bool(above and below)

    def __str__(self) -> str:
        if self.high is None:
            return f"{'>' if self.low_open else '>='} {self.low:g}"
        if self.low is None:
            return f"{'<' if self.high_open else '<='} {self.high:g}"
        return (f"in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}"
                f"{')' if self.high_open else ']'}")


@dataclass(frozen=True)
class Rule:
    """Any other condition on a value: ``test(value)`` holds; ``expected`` says what that
    means (for messages: "expected <expected>")."""

    test: Callable[[Any], bool]
    expected: str

    def ok(self, value) -> bool:
        return bool(self.test(value))

    def __str__(self) -> str:
        return self.expected


POSITIVE = Range(0, low_open=True)
"""Numbers > 0."""
NON_NEGATIVE = Range(0)
"""Numbers >= 0."""
UNIT_INTERVAL = Range(0, 1)
"""Numbers in [0, 1] (fractions, confidences)."""


def at_least(low: float) -> Range:
    """Numbers >= ``low``."""
    return Range(low)


def suggest(name: str, options) -> str:
    """`` (did you mean 'x'?)`` for the option closest to a misspelt ``name``, else ``""``."""
    close = difflib.get_close_matches(name, list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _split(hint) -> tuple[Any, tuple]:
    """(the type, the rules) of an annotation (rules from ``Annotated``)."""
    if typing.get_origin(hint) is typing.Annotated:
        base, *rules = typing.get_args(hint)
        return base, tuple(rules)
    return hint, ()


def _literal_type(hint):
    """The Python type of a Literal's values (str, int or bool), else the hint itself."""
    if typing.get_origin(hint) is typing.Literal:
        return type(typing.get_args(hint)[0])
    return hint


def _coerce(value, hint, where: str):
    """``value`` as the type ``hint`` names (int -> float, string -> tuple), or raise."""
    hint = _literal_type(_split(hint)[0])
    origin = typing.get_origin(hint)
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint in (int, str, bool) and type(value) is hint:
        return value
    if origin is tuple and isinstance(value, (list, tuple)):
        (inner, *_rest) = typing.get_args(hint)
        return tuple(_coerce(v, inner, where) for v in value)
    if origin is tuple and isinstance(value, str):                # "a, b" or "1, 2.5"
        (inner, *_rest) = typing.get_args(hint)
        items = tuple(s.strip() for s in value.split(",") if s.strip())
        return tuple(_coerce(_number(v, inner), inner, where) for v in items)
    if dataclasses.is_dataclass(hint) and isinstance(value, dict):  # a nested table
        return build_table(hint, value, _subtable(where))
    name = getattr(hint, "__name__", str(hint))
    raise SettingsError(f"{where}: expected {name}, found {type(value).__name__} {value!r}")


def _number(text: str, hint):
    """``text`` as the number ``hint`` names (int or float), else ``text`` unchanged (a
    string, or what :func:`_coerce` then reports as the wrong type)."""
    base = _split(hint)[0]
    try:
        return base(text) if base in (int, float) else text
    except ValueError:
        return text


def value_problem(value, hint) -> "str | None":
    """What ``hint`` expects that ``value`` (already of its type) is not, or None."""
    base, rules = _split(hint)
    if typing.get_origin(base) is typing.Literal and value not in typing.get_args(base):
        return "one of " + ", ".join(map(repr, typing.get_args(base)))
    if typing.get_origin(base) is tuple and isinstance(value, (tuple, list)):
        (inner, *_rest) = typing.get_args(base)
        for item in value:
            problem = value_problem(item, inner)
            if problem is not None:
                return f"every item {problem}, found {item!r}"
    for rule in rules:
        if not rule.ok(value):
            finite = not (isinstance(rule, Range) and not math.isfinite(value))
            return str(rule) if finite else f"a finite number {rule}"
    return None


def _subtable(where: str) -> str:
    """``"f [calibration].board"`` -> ``"f [calibration.board]"`` (a nested table's name)."""
    head, sep, key = where.rpartition("].")
    return f"{head}.{key}]" if sep else where


def _check(value, raw, hint, where: str, key: str) -> None:
    problem = value_problem(value, hint)
    if problem is not None:
        shown = list(raw) if isinstance(raw, tuple) else raw
        raise SettingsError(f"{where} {key} = {shown!r}; expected {problem}")


def build_table(cls, table: dict, where: str):
    """A ``cls`` (a frozen dataclass) from a parsed TOML table, every value checked.

    Args:
        cls: the dataclass; its annotations say what each key accepts (see the module).
        table: {key: value} as read from TOML; keys left out keep their defaults.
        where: the file and table, for messages (``"path/session.toml [fit]"``).
    Raises:
        SettingsError: an unknown key (with the closest valid one), a value of the wrong type,
            or one its annotation does not allow, naming ``where`` and the key.
    """
    hints = typing.get_type_hints(cls, include_extras=True)
    names = [f.name for f in dataclasses.fields(cls)]
    values = {}
    for key, raw in table.items():
        if key not in names:
            raise SettingsError(f"{where}: unknown key {key!r}{suggest(key, names)}; valid keys: "
                                f"{', '.join(names)}")
        values[key] = _coerce(raw, hints[key], f"{where}.{key}")
        _check(values[key], raw, hints[key], where, key)
    check_rules(cls, values, where)
    return cls(**values)


def check_rules(cls, values: dict, where: str) -> None:
    """Check the rules between keys of a table (``cls.RULES``) on its values.

    Args:
        cls: a settings dataclass; ``RULES`` (if any) holds functions of a table (anything
            with its fields as attributes) that return what is wrong, naming the keys and their
            values (``"marker_length_m = 0.2 and square_length_m = 0.1; expected ..."``), or
            None.
        values: {key: value}, already checked one by one; keys left out take their defaults.
        where: the file and table, for messages (``"path/session.toml [calibration.board]"``).
    Raises:
        SettingsError: ``"<where> <what is wrong>"`` for the first rule broken.
    """
    rules = getattr(cls, "RULES", ())
    if not rules:
        return
    table = types.SimpleNamespace(**{f.name: values[f.name] if f.name in values else _default(f)
                                     for f in dataclasses.fields(cls)})
    for rule in rules:
        problem = rule(table)
        if problem is not None:
            raise SettingsError(f"{where} {problem}")


def _default(f: dataclasses.Field):
    return f.default_factory() if f.default is dataclasses.MISSING else f.default


def check_fields(obj, where: str) -> None:
    """Check a table built in code as :func:`build_table` checks one read from a file.

    Args:
        obj: an instance of a settings dataclass (nested dataclasses are checked too).
        where: what to name in messages (``"[fit]"``, ``"--body"``...).
    Raises:
        SettingsError: the first field whose value its annotation does not allow.
    """
    hints = _hints(type(obj))
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            check_fields(value, f"{where[:-1]}.{f.name}]" if where.endswith("]") else where)
        else:
            _check(value, value, hints[f.name], where, f.name)


@functools.lru_cache(maxsize=None)
def _hints(cls) -> dict:
    """A dataclass's annotations with their ``Annotated`` rules (read once per class)."""
    return typing.get_type_hints(cls, include_extras=True)


class CheckedTable:
    """Base of a settings table (a frozen dataclass): its values are checked when it is built,
    whether from ``session.toml`` (:func:`build_table`, whose messages also name the file) or
    in code (``dataclasses.replace``, command-line options), so that no stage checks them
    again. ``TABLE`` names the table in messages (``"fit"`` -> ``[fit] body = ...``);
    ``RULES`` are its rules between keys (see :func:`check_rules`)."""

    TABLE: typing.ClassVar[str] = ""
    RULES: typing.ClassVar[tuple] = ()

    def __post_init__(self) -> None:
        check_fields(self, f"[{self.TABLE}]")
        check_rules(type(self), {f.name: getattr(self, f.name) for f in dataclasses.fields(self)},
                    f"[{self.TABLE}]")
