"""``mocap init``: the commented session.toml template generated from mocap.settings."""
from __future__ import annotations

import dataclasses
import re
import tomllib
import typing
from dataclasses import dataclass

import pytest

from mocap.app.cli import main as cli_main
from mocap.app.settings_template import attribute_docstrings, settings_template
from mocap.app.session import Session
from mocap.settings import Settings, load_settings, settings_from_dict

VALUE = re.compile(r"^#(\w+) = (.*)$")


def _tables():
    hints = typing.get_type_hints(Settings)
    return [(f.name, hints[f.name]) for f in dataclasses.fields(Settings)]


def test_template_loads_to_the_defaults():
    assert settings_from_dict(tomllib.loads(settings_template())) == Settings()


def test_template_with_every_value_uncommented_is_valid_and_gives_the_defaults(tmp_path):
    """Every commented default is a valid TOML value of the field's type."""
    text = "\n".join(VALUE.sub(r"\1 = \2", line) for line in settings_template().splitlines())
    doc = tomllib.loads(text)
    for name, cls in _tables():
        assert set(doc[name]) == {f.name for f in dataclasses.fields(cls)}
    path = tmp_path / "session.toml"
    path.write_text(text)
    assert load_settings(path) == Settings()


def test_template_documents_every_key_with_its_docstring():
    text = settings_template()
    for name, cls in _tables():
        block = text.split(f"[{name}]\n", 1)[1].split("\n[", 1)[0]
        docs = attribute_docstrings(cls)
        for f in dataclasses.fields(cls):
            assert f.name in docs, f"[{name}] {f.name} has no docstring in mocap/settings.py"
            commented = "\n".join(f"# {line}".rstrip() for line in docs[f.name].splitlines())
            if dataclasses.is_dataclass(f.type) or dataclasses.is_dataclass(
                    typing.get_type_hints(cls)[f.name]):
                assert f"[{name}.{f.name}]\n{commented}\n" in text   # a sub-table
            else:
                assert f"{commented}\n#{f.name} = " in block


def test_attribute_docstrings_reads_the_string_under_each_field():
    docs = attribute_docstrings(_Example)
    assert docs == {"a": "First line.\nSecond line, dedented.", "c": "Third."}


@dataclass(frozen=True)
class _Example:
    """Not a field's docstring."""

    a: int = 1
    """First line.
    Second line, dedented."""
    b: str = "x"
    c: tuple[int, ...] = (1, 2)
    """Third."""


def test_init_command_writes_refuses_to_overwrite_and_forces(tmp_path, capsys):
    folder = tmp_path / "new_session"
    assert cli_main(["init", str(folder)]) == 0
    path = folder / "session.toml"
    assert path.read_text() == settings_template()
    assert Session(folder).settings() == Settings()
    path.write_text("[take]\nfps = 50.0\n")
    assert cli_main(["init", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and str(path) in err
    assert path.read_text() == "[take]\nfps = 50.0\n"
    assert cli_main(["init", str(folder), "--force"]) == 0
    assert path.read_text() == settings_template()
    assert list(folder.iterdir()) == [path]          # no temporary file left behind


def test_an_edited_template_with_a_typo_is_rejected_with_a_suggestion(tmp_path):
    from mocap.errors import SettingsError
    text = settings_template().replace("#fps = ", "fsp = ", 1)
    path = tmp_path / "session.toml"
    path.write_text(text)
    with pytest.raises(SettingsError, match="did you mean 'fps'"):
        load_settings(path)
