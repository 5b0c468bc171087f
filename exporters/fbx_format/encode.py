"""Encoding: an ``FbxDocument`` -> the bytes of a binary FBX file (layout: ``exporters.fbx_format``)."""

from __future__ import annotations

import os
import struct
import zlib

from exporters.atomic import atomic_write_bytes
from exporters.errors import ExportError
from exporters.fbx_format.document import (
    ALWAYS_NESTED,
    ARRAY_CODES,
    COMPRESS_MIN_BYTES,
    FBX_VERSIONS,
    FOOTER_ID,
    FOOTER_MAGIC,
    HEADER_MAGIC,
    SCALAR_CODES,
    FbxDocument,
    FbxNode,
    Property,
)

__all__ = ["encode_document", "write_document", "COMPRESS_LEVEL"]

COMPRESS_LEVEL = 1
"""zlib level of compressed arrays: level 1 deflates a take's animation curves about four
times faster than the default 6, the file a few per cent larger (any level reads the same)."""


class _Encoder:
    """Serialises nodes into a bytearray, patching each record's end offset afterwards."""

    def __init__(self, version: int, compress: bool) -> None:
        self.wide = version >= 7500
        self.meta = struct.Struct("<3Q" if self.wide else "<3I")
        self.null_record = b"\x00" * (self.meta.size + 1)
        self.compress = compress
        self.out = bytearray()

    def property(self, prop: Property) -> None:
        out, code, value = self.out, prop.code, prop.value
        out += code.encode("ascii")
        if code in SCALAR_CODES:
            out += struct.pack(SCALAR_CODES[code], value)
        elif code == "S":
            data = value.encode("utf-8", "surrogateescape")
            out += struct.pack("<I", len(data)) + data
        elif code == "R":
            out += struct.pack("<I", len(value)) + value
        else:
            data = value.astype(ARRAY_CODES[code]).tobytes()
            encoding = 1 if self.compress and len(data) > COMPRESS_MIN_BYTES else 0
            if encoding:
                data = zlib.compress(data, COMPRESS_LEVEL)
            out += struct.pack("<3I", value.size, encoding, len(data)) + data

    def node(self, node: FbxNode) -> None:
        name = node.name.encode("ascii")
        if not name or len(name) > 255:
            raise ExportError(f"FBX node name {node.name!r}: expected 1 to 255 ASCII bytes, found {len(name)}")
        start = len(self.out)
        self.out += bytes(self.meta.size) + bytes([len(name)]) + name
        props_start = len(self.out)
        for prop in node.properties:
            self.property(prop)
        props_length = len(self.out) - props_start
        for child in node.children:
            self.node(child)
        if node.children or not node.properties or node.name in ALWAYS_NESTED:
            self.out += self.null_record
        if not self.wide and len(self.out) >= 2**32:
            raise ExportError(f"FBX 7400: file larger than 4 GiB at node {node.name!r}; write version 7500")
        self.meta.pack_into(self.out, start, len(self.out), len(node.properties), props_length)


def _footer(offset: int, version: int) -> bytes:
    """The footer written after the top-level null record that ends at ``offset``."""
    head = FOOTER_ID + b"\x00" * 4
    position = offset + len(head)
    pad = (-position) % 16 or 16
    return head + b"\x00" * pad + struct.pack("<I", version) + b"\x00" * 120 + FOOTER_MAGIC


def encode_document(doc: FbxDocument, *, compress: bool = True) -> bytes:
    """The bytes of a binary FBX file holding ``doc`` (layout: ``exporters.fbx_format``).

    Args:
        doc: version 7400 or 7500 and the top-level nodes.
        compress: zlib-compress arrays larger than ``COMPRESS_MIN_BYTES`` (default True).

    Raises:
        ExportError: an unsupported version or a node name that is not 1-255 ASCII bytes.
    """
    if doc.version not in FBX_VERSIONS:
        raise ExportError(f"FBX version: expected one of {list(FBX_VERSIONS)}, found {doc.version!r}")
    encoder = _Encoder(doc.version, compress)
    encoder.out += HEADER_MAGIC + struct.pack("<I", doc.version)
    for node in doc.nodes:
        encoder.node(node)
    encoder.out += encoder.null_record
    encoder.out += _footer(len(encoder.out), doc.version)
    return bytes(encoder.out)


def write_document(path: str | os.PathLike[str], doc: FbxDocument, *, compress: bool = True) -> None:
    """Encode ``doc`` and write it to ``path`` atomically (complete file or nothing)."""
    atomic_write_bytes(path, encode_document(doc, compress=compress))
