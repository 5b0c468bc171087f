"""Hypothesis strategies that break a valid file, for the fuzz tests of every file reader.

Imported by bare name from ``tests/*/**/test_fuzz_*.py`` (``tests/conftest.py`` puts this
folder on ``sys.path``). It imports nothing of the project, so calibration tests may use it.

The property every fuzz test checks: a reader given any bytes returns a result or raises one
of the library's typed errors (:func:`typed_or_result`), never another exception.
"""
from __future__ import annotations

import math
import os
import re
from typing import Any, Callable

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

#: Settings of every fuzz test: reproducible (derandomized), no per-example deadline, and
#: small enough for the whole fuzz set to run in well under a minute. ``FUZZ_EXAMPLES=2000``
#: in the environment searches longer (and, random then, finds new inputs on every run).
_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "0"))
FUZZ = settings(max_examples=_EXAMPLES or 60, deadline=None, derandomize=not _EXAMPLES, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])

#: Replacement text for a number: non-finite, huge, tiny, negative, zero, not a number at all.
BAD_NUMBERS = ("nan", "NaN", "inf", "-inf", "1e309", "-1e309", "1e308", "1e-320", "-1",
               "0", "-0", "99999999999999999999999", "", "x", "1.5", "1e5", "4294967296",
               "-2147483649", "0x10", "true", "[]", "{}", '"s"')

#: Replacement values in a parsed JSON/TOML tree (wrong types and odd numbers).
BAD_VALUES: tuple[Any, ...] = (None, True, False, "", "x", [], {}, [[]], [None], 0, -1, 1e308,
                               -1e308, 2 ** 64, -(2 ** 63) - 1, math.nan, math.inf, -math.inf,
                               1.5, [1, 2], [[1, 2], [3]], {"a": 1}, ["x", "y", "z"],
                               [math.nan] * 3, [1e308] * 9)

_NUMBER = re.compile(rb"-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?")


def _flip(data: bytes, draw) -> bytes:
    if not data:
        return data
    i = draw(st.integers(0, len(data) - 1))
    return data[:i] + bytes([data[i] ^ draw(st.integers(1, 255))]) + data[i + 1:]


def _truncate(data: bytes, draw) -> bytes:
    return data[:draw(st.integers(0, max(len(data) - 1, 0)))]


def _insert(data: bytes, draw) -> bytes:
    i = draw(st.integers(0, len(data)))
    return data[:i] + draw(st.binary(min_size=1, max_size=16)) + data[i:]


def _delete(data: bytes, draw) -> bytes:
    if not data:
        return data
    i = draw(st.integers(0, len(data) - 1))
    return data[:i] + data[i + draw(st.integers(1, 64)):]


def _duplicate(data: bytes, draw) -> bytes:
    if not data:
        return data
    i = draw(st.integers(0, len(data) - 1))
    j = min(len(data), i + draw(st.integers(1, 64)))
    return data[:j] + data[i:j] + data[j:]


def _swap_lines(data: bytes, draw) -> bytes:
    lines = data.split(b"\n")
    if len(lines) < 2:
        return data
    i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
    lines[i], lines[j] = lines[j], lines[i]
    return b"\n".join(lines)


def _bad_number(data: bytes, draw) -> bytes:
    spans = [m.span() for m in _NUMBER.finditer(data)]
    if not spans:
        return data
    a, b = spans[draw(st.integers(0, len(spans) - 1))]
    return data[:a] + draw(st.sampled_from(BAD_NUMBERS)).encode() + data[b:]


def _u32(data: bytes, draw) -> bytes:
    """Overwrite 4 bytes with a boundary integer (lengths, counts, offsets in binary files)."""
    if len(data) < 4:
        return data
    i = draw(st.integers(0, len(data) - 4))
    value = draw(st.sampled_from((0, 1, 2, 3, 0x7FFFFFFF, 0xFFFFFFFF, 0x80000000, 1 << 20)))
    return data[:i] + value.to_bytes(4, "little") + data[i + 4:]


_MUTATIONS = (_flip, _truncate, _insert, _delete, _duplicate, _swap_lines, _bad_number, _u32)


@st.composite
def mutated(draw, valid: bytes, max_mutations: int = 3) -> bytes:
    """``valid`` with 1..max_mutations random mutations, or an empty file, or binary junk."""
    kind = draw(st.integers(0, 19))
    if kind == 0:
        return b""
    if kind == 1:
        return draw(st.binary(max_size=512))
    data = valid
    for _ in range(draw(st.integers(1, max_mutations))):
        data = draw(st.sampled_from(_MUTATIONS))(data, draw)
    return data


def _paths(tree: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path (tuple of keys / indices) into a JSON-like tree, the root excluded."""
    out = []
    items = tree.items() if isinstance(tree, dict) else enumerate(tree) if isinstance(tree, list) else ()
    for key, value in items:
        out.append(prefix + (key,))
        out.extend(_paths(value, prefix + (key,)))
    return out


def _replace(tree: Any, path: tuple, value: Any, delete: bool) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(tree, dict):
        out = dict(tree)
        if delete and not rest:
            del out[head]
        else:
            out[head] = _replace(tree[head], rest, value, delete)
        return out
    out = list(tree)
    if delete and not rest:
        del out[head]
    else:
        out[head] = _replace(tree[head], rest, value, delete)
    return out


@st.composite
def mutated_tree(draw, tree: Any, max_mutations: int = 2,
                 values: "tuple[Any, ...]" = BAD_VALUES) -> Any:
    """A JSON/TOML-like tree with values replaced by wrong types, odd numbers or deleted."""
    for _ in range(draw(st.integers(1, max_mutations))):
        paths = _paths(tree)
        if not paths:
            return draw(st.sampled_from(values))
        path = draw(st.sampled_from(paths))
        delete = draw(st.integers(0, 4)) == 0
        tree = _replace(tree, path, draw(st.sampled_from(values)), delete)
    return tree


def typed_or_result(read: Callable[[], Any], typed: "type | tuple[type, ...]") -> Any:
    """Call ``read``; a typed error is an accepted answer (returns None), any other exception
    propagates (and fails the property)."""
    try:
        return read()
    except typed:
        return None
