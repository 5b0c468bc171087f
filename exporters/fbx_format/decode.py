"""Decoding: the bytes of a binary FBX file (7.1 to 7.7) -> an ``FbxDocument``.

Errors are ``FormatError`` naming the file, the byte offset, what was expected and what was
found. Layout: ``exporters.fbx_format``.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from exporters.errors import FormatError
from exporters.fbx_format.document import (
    ARRAY_CODES,
    HEADER_MAGIC,
    READ_VERSIONS,
    SCALAR_CODES,
    FbxDocument,
    FbxNode,
    Property,
    all_codes,
)

__all__ = ["decode_document", "read_document"]


class _Decoder:
    """Parses node records from a bytes buffer; errors name the byte offset."""

    def __init__(self, data: bytes, version: int, source: str) -> None:
        self.data = data
        self.source = source
        self.wide = version >= 7500
        self.meta = struct.Struct("<3Q" if self.wide else "<3I")
        self.record_head = self.meta.size + 1

    def error(self, offset: int, expected: str, found: str) -> FormatError:
        return FormatError(self.source, f"byte {offset}", expected, found)

    def need(self, offset: int, size: int, what: str) -> None:
        if offset + size > len(self.data):
            raise self.error(offset, f"{size} bytes of {what}", f"the end of the file after {len(self.data) - offset}")

    def scalar(self, code: str, offset: int) -> tuple[Any, int]:
        fmt = struct.Struct(SCALAR_CODES[code])
        self.need(offset, fmt.size, f"a {code} value")
        return fmt.unpack_from(self.data, offset)[0], offset + fmt.size

    def array(self, code: str, offset: int) -> tuple[np.ndarray, int]:
        self.need(offset, 12, "an array header")
        count, encoding, length = struct.unpack_from("<3I", self.data, offset)
        offset += 12
        self.need(offset, length, f"array {code!r} data")
        blob = self.data[offset:offset + length]
        dtype = ARRAY_CODES[code]
        if encoding == 1:
            try:
                blob = zlib.decompress(blob)
            except zlib.error as exc:
                raise self.error(offset, "zlib-compressed array data", f"corrupt data ({exc})") from None
        elif encoding != 0:
            raise self.error(offset - 8, "array encoding 0 (raw) or 1 (zlib)", str(encoding))
        if len(blob) != count * dtype.itemsize:
            raise self.error(offset, f"{count} x {dtype.itemsize} bytes of array {code!r}", f"{len(blob)} bytes")
        values = np.frombuffer(blob, dtype=dtype).astype(dtype.newbyteorder("="))
        return (values.astype(bool) if code == "b" else values), offset + length

    def property(self, offset: int) -> tuple[Property, int]:
        self.need(offset, 1, "a property type code")
        code = chr(self.data[offset])
        offset += 1
        if code in SCALAR_CODES:
            value, offset = self.scalar(code, offset)
        elif code in ("S", "R"):
            self.need(offset, 4, f"the length of a {code} property")
            (length,) = struct.unpack_from("<I", self.data, offset)
            offset += 4
            self.need(offset, length, f"a {code} property")
            blob = self.data[offset:offset + length]
            value = blob.decode("utf-8", "surrogateescape") if code == "S" else bytes(blob)
            offset += length
        elif code in ARRAY_CODES:
            value, offset = self.array(code, offset)
        else:
            raise self.error(offset - 1, f"a property type code from {all_codes()}", repr(code))
        return Property(code, value), offset

    def is_null(self, offset: int) -> bool:
        return self.data[offset:offset + self.record_head] == b"\x00" * self.record_head

    def node(self, offset: int, limit: int) -> tuple[FbxNode, int]:
        """Parse the record at ``offset``; ``limit`` is the end of the enclosing scope."""
        self.need(offset, self.record_head, "a node record header")
        end, count, props_length = self.meta.unpack_from(self.data, offset)
        name_length = self.data[offset + self.meta.size]
        start = offset + self.record_head
        self.need(start, name_length, "a node name")
        name = self.data[start:start + name_length].decode("ascii", "replace")
        if end > len(self.data):
            raise self.error(offset, f"node {name!r} ending at byte {end}",
                             f"the end of the file at byte {len(self.data)}")
        if not start + name_length <= end <= limit:
            raise self.error(offset, f"node {name!r} ending within its scope (byte {limit})", f"end offset {end}")
        offset = start + name_length
        props_end = offset + props_length
        node = FbxNode(name)
        for _ in range(count):
            prop, offset = self.property(offset)
            node.properties.append(prop)
        if offset != props_end:
            raise self.error(offset, f"node {name!r} properties ending at byte {props_end}", f"byte {offset}")
        if offset < end:
            while offset < end - self.record_head:
                child, offset = self.node(offset, end - self.record_head)
                node.children.append(child)
            if offset != end - self.record_head or not self.is_null(offset):
                raise self.error(offset, f"a null record closing the children of node {name!r}", "other bytes")
            offset = end
        return node, offset


def decode_document(data: bytes, source: str = "<fbx>") -> FbxDocument:
    """Parse the bytes of a binary FBX file (versions 7.1 to 7.7).

    Args:
        data: the whole file.
        source: how the file is named in error messages.

    Raises:
        FormatError: naming ``source``, the byte offset, what was expected and what was found
            (an ASCII FBX file is named as such).
    """
    data = bytes(data)
    if not data.startswith(HEADER_MAGIC[:18]):
        found = "an ASCII FBX file" if data.lstrip()[:1] in (b";", b"F") else repr(data[:18])
        raise FormatError(source, "byte 0", "the binary FBX magic 'Kaydara FBX Binary'", found)
    if len(data) < len(HEADER_MAGIC) + 4 or data[:len(HEADER_MAGIC)] != HEADER_MAGIC:
        raise FormatError(source, "byte 18", "the binary FBX header", repr(data[18:len(HEADER_MAGIC)]))
    (version,) = struct.unpack_from("<I", data, len(HEADER_MAGIC))
    if version not in READ_VERSIONS:
        raise FormatError(source, f"byte {len(HEADER_MAGIC)}", "an FBX version from 7100 to 7999", str(version))
    decoder = _Decoder(data, version, source)
    offset = len(HEADER_MAGIC) + 4
    nodes = []
    while True:
        decoder.need(offset, decoder.record_head, "a node record or the closing null record")
        if decoder.is_null(offset):
            break
        node, offset = decoder.node(offset, len(data))
        nodes.append(node)
    return FbxDocument(version, nodes)


def read_document(path: str | os.PathLike[str]) -> FbxDocument:
    """Read a binary FBX file (``decode_document`` on its bytes)."""
    return decode_document(Path(path).read_bytes(), str(path))
