"""A readable text view of a binary FBX file: ``dump`` and the ``python -m exporters.fbx_format`` tool."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator, Sequence

from exporters.errors import FormatError
from exporters.fbx_format.decode import read_document
from exporters.fbx_format.document import ARRAY_CODES, FbxDocument, FbxNode, Property
from exporters.fbx_format.object_model import split_object_name

__all__ = ["dump", "main"]


def _format_value(prop: Property, max_items: int) -> str:
    if prop.code in ARRAY_CODES:
        values = prop.value
        shown = ", ".join(f"{v:.9g}" if prop.code in "fd" else str(int(v)) for v in values[:max_items])
        more = f", ... ({values.size} values)" if values.size > max_items else ""
        return f"{prop.code}[{values.size}] {{{shown}{more}}}"
    if prop.code == "S":
        name, cls = split_object_name(prop.value)
        return repr(f"{name}::{cls}" if cls else name)
    if prop.code == "R":
        return f"R[{len(prop.value)}] {prop.value[:32].hex()}{'...' if len(prop.value) > 32 else ''}"
    return f"{prop.code} {prop.value!r}"


def _dump_lines(nodes: Iterable[FbxNode], depth: int, max_items: int) -> Iterator[str]:
    for node in nodes:
        values = ", ".join(_format_value(p, max_items) for p in node.properties)
        yield f"{'  ' * depth}{node.name}: {values}" + (" {" if node.children else "")
        if node.children:
            yield from _dump_lines(node.children, depth + 1, max_items)
            yield f"{'  ' * depth}}}"


def dump(doc: FbxDocument, *, max_items: int = 8) -> str:
    """A readable text view of a document: one line per node, children indented.

    Object names print as ``name::Class``; arrays show their type code, length and first
    ``max_items`` values.
    """
    lines = [f"; FBX {doc.version // 1000}.{doc.version % 1000 // 100} binary ({doc.version})"]
    lines.extend(_dump_lines(doc.nodes, 0, max_items))
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m exporters.fbx_format FILE [--items N]``: print ``dump`` of a binary FBX file."""
    parser = argparse.ArgumentParser(prog="python -m exporters.fbx_format", description=main.__doc__)
    parser.add_argument("file", help="binary FBX file")
    parser.add_argument("--items", type=int, default=8, help="array values shown per array (default 8)")
    args = parser.parse_args(argv)
    try:
        doc = read_document(args.file)
    except (FormatError, OSError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    sys.stdout.write(dump(doc, max_items=args.items))
    return 0
