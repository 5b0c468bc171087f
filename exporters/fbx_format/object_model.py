"""The FBX object model's generic spellings (still nothing of motion capture).

Object names ``"Name\\x00\\x01Class"`` (``object_name``, ``split_object_name``), the
``Properties70`` entries ``P: name, type, label, flags, values...`` (``property70``,
``properties70_values``) and the time unit ``KTIME_PER_SECOND``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from exporters.errors import ExportError
from exporters.fbx_format.document import FbxNode, Property

__all__ = ["KTIME_PER_SECOND", "object_name", "split_object_name", "property70", "properties70_values"]

KTIME_PER_SECOND = 46_186_158_000
"""FBX time unit (KTime ticks) per second."""


def object_name(name: str, cls: str) -> str:
    """The FBX spelling of an object's name and class: ``"name\\x00\\x01Class"``."""
    return f"{name}\x00\x01{cls}"


def split_object_name(text: str) -> tuple[str, str]:
    """``"name\\x00\\x01Class"`` -> ``("name", "Class")``; a plain name gives ``(text, "")``."""
    name, _, cls = text.partition("\x00\x01")
    return name, cls


def property70(name: str, type_name: str, label: str, flags: str, *values: Any) -> FbxNode:
    """One ``P`` entry of a ``Properties70`` node.

    Args:
        name: the property name (e.g. "Lcl Translation").
        type_name, label: the FBX property type and its label (e.g. "double", "Number").
        flags: "" or "A" (animatable), "A+" (animated), "U" (user)...
        values: Python ``int`` (written as I, or L for type "KTime"/"ULongLong"), ``float``
            (D) or ``str`` (S), or ready ``Property`` objects.
    """
    node = FbxNode("P", [Property.string(name), Property.string(type_name), Property.string(label),
                         Property.string(flags)])
    long_types = {"KTime", "ULongLong", "LongLong"}
    for value in values:
        if isinstance(value, Property):
            node.properties.append(value)
        elif isinstance(value, bool):
            node.properties.append(Property.i32(int(value)))
        elif isinstance(value, (int, np.integer)):
            node.properties.append(Property.i64(int(value)) if type_name in long_types else Property.i32(int(value)))
        elif isinstance(value, (float, np.floating)):
            node.properties.append(Property.f64(float(value)))
        elif isinstance(value, str):
            node.properties.append(Property.string(value))
        else:
            raise ExportError(f"Properties70 {name!r}: expected int, float or str values, found {type(value).__name__}")
    return node


def properties70_values(node: FbxNode | None) -> dict[str, list[Any]]:
    """``{name: [values...]}`` of the ``P`` entries of a ``Properties70`` child of ``node``."""
    if node is None:
        return {}
    table = node if node.name == "Properties70" else node.find("Properties70")
    if table is None:
        return {}
    return {str(p.values[0]): p.values[4:] for p in table.find_all("P") if len(p.values) >= 4}
