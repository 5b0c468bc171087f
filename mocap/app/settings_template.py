"""The commented ``session.toml`` template that ``mocap init`` writes.

The template is generated from the settings dataclasses of :mod:`mocap.settings`: one table
per stage, every key with its default and its documentation. The documentation is read from
the attribute docstrings (the string literal under each field) in the module's source with
:mod:`ast`, so the template never repeats text that could drift from the code.
"""
from __future__ import annotations

import ast
import dataclasses
import inspect
import typing
from pathlib import Path

import tomli_w

from exporters.atomic import atomic_write

from ..errors import SessionError
from ..settings import Settings

__all__ = ["attribute_docstrings", "settings_template", "write_settings_template"]

TEMPLATE_HEADER = """\
# session.toml: the settings of one motion-capture session, one table per stage.
# Written by `mocap init` from mocap/settings.py. Every key is optional: the value after
# `#key = ` is the default; remove the `#` to change it. Unknown tables and keys are
# rejected, with the closest valid name suggested. Units are in the key names.
#
# Next to this file the session holds: calibration.toml (the cameras), pose/<camera>/
# (OpenPose JSON per frame) or videos/<camera>.<ext>; `mocap run` writes out/.
"""


def attribute_docstrings(cls: type) -> dict[str, str]:
    """The docstring under each annotated field of a class, read from its source.

    Returns:
        ``{field name: cleaned docstring}`` for the fields that have one.
    """
    tree = ast.parse(inspect.getsource(inspect.getmodule(cls)))
    node = next((n for n in ast.walk(tree)
                 if isinstance(n, ast.ClassDef) and n.name == cls.__name__), None)
    if node is None:
        return {}
    docs = {}
    for stmt, after in zip(node.body, node.body[1:]):
        if (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)
                and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)):
            docs[stmt.target.id] = inspect.cleandoc(after.value.value)
    return docs


def _comment(text: str) -> list[str]:
    return [f"# {line}".rstrip() for line in text.splitlines()]


def _toml_literal(value) -> str:
    """A value as a one-line TOML literal (arrays inline, unlike ``tomli_w``'s default)."""
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_toml_literal(v) for v in value) + "]"
    return tomli_w.dumps({"v": value}).strip()[len("v = "):]


def _value_line(name: str, value) -> str:
    """``#name = <TOML literal of value>``: a default, commented out."""
    return f"#{name} = {_toml_literal(value)}"


def settings_template(settings_cls: "type | None" = None) -> str:
    """The commented ``session.toml`` template of a settings dataclass of stage tables.

    Args:
        settings_cls: a dataclass whose fields are the stage tables (default
            :class:`mocap.settings.Settings`).
    Returns:
        TOML text: every table present, every key commented out at its default, each
        preceded by its docstring as comment lines.
    """
    settings_cls = settings_cls or Settings
    hints = typing.get_type_hints(settings_cls)
    lines = [TEMPLATE_HEADER]
    for table in dataclasses.fields(settings_cls):
        lines += _table_lines(table.name, hints[table.name])
    return "\n".join(lines).rstrip() + "\n"


def _table_lines(name: str, cls: type) -> list[str]:
    """``[name]`` with every key of ``cls`` commented out at its default; fields that are
    dataclasses themselves become sub-tables ``[name.field]`` after the plain keys."""
    docs = attribute_docstrings(cls)
    defaults = cls()
    hints = typing.get_type_hints(cls)
    lines = [f"[{name}]"]
    lines += _comment(inspect.cleandoc(cls.__doc__)) if cls.__doc__ else []
    nested = []
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[f.name]):
            nested.append(f)
            continue
        lines.append("")
        lines += _comment(docs.get(f.name, "(undocumented)"))
        lines.append(_value_line(f.name, getattr(defaults, f.name)))
    lines += ["", ""]
    for f in nested:
        sub = _table_lines(f"{name}.{f.name}", hints[f.name])
        lines += [sub[0]] + _comment(docs.get(f.name, "(undocumented)")) + sub[1:]
    return lines


def write_settings_template(folder: "str | Path", force: bool = False) -> Path:
    """Create ``folder`` (if needed) and write ``folder/session.toml``, the template.

    Raises:
        SessionError: the file exists (and not ``force``), or ``folder`` is a file.
    """
    folder = Path(folder)
    path = folder / "session.toml"
    if path.exists() and not force:
        raise SessionError(f"{path}: already exists; pass --force to overwrite it")
    if folder.exists() and not folder.is_dir():
        raise SessionError(f"{folder}: expected a folder, found a file")
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "w", encoding="utf-8") as fh:
        fh.write(settings_template())
    return path
