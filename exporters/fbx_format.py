"""The binary FBX format alone (versions 7.4 and 7.5): nodes, typed properties, offsets.

This layer knows nothing of skeletons, animation or motion capture: it writes and reads a tree
of named nodes, each with a list of typed properties and a list of child nodes, exactly as
they are in the file. ``exporters.fbx`` maps a ``Skeleton`` + ``Motion`` into such a tree.

File layout (little endian throughout)::

    header   "Kaydara FBX Binary  \\x00" 0x1A 0x00, uint32 version (7400 or 7500)
    nodes    the top-level node records, then one null record
    footer   16-byte id, 4 zero bytes, zero padding to a 16-byte boundary (16 bytes when
             already aligned), uint32 version, 120 zero bytes, 16-byte closing magic

A node record::

    end_offset       uint32 (7.4) / uint64 (7.5): absolute file offset of the record's end
    num_properties   uint32 / uint64
    properties_len   uint32 / uint64: bytes of the property list
    name_len, name   uint8, ASCII bytes
    properties       each: 1-byte type code, then the value (see ``SCALAR_CODES``, ``ARRAY_CODES``)
    children         child node records, then a null record (13 / 25 zero bytes)

The null record closing the children is written when a node has children, when it has no
properties, and for the node names in ``ALWAYS_NESTED`` (the FBX SDK expects it there); readers
go by ``end_offset`` and accept any of these. Arrays are ``uint32 count, uint32 encoding (0 raw,
1 zlib), uint32 byte length`` followed by the data; arrays larger than ``COMPRESS_MIN_BYTES``
are zlib-compressed, as the FBX SDK does.

Type codes: ``C`` 1-byte bool/char (the FBX SDK's bool), ``B`` 1-byte bool (as Blender writes),
``Z`` int8, ``Y`` int16, ``I`` int32, ``L`` int64, ``F`` float32, ``D`` float64, ``S`` string
(uint32 length + bytes, no terminator), ``R`` raw bytes; arrays ``b`` bool, ``c`` uint8, ``i``
int32, ``l`` int64, ``f`` float32, ``d`` float64.

Besides the binary layer this module holds the FBX object model's generic spellings (still
nothing of motion capture): object names ``"Name\\x00\\x01Class"`` (``object_name``), the
``Properties70`` entries ``P: name, type, label, flags, values...`` (``property70``) and the
time unit ``KTIME_PER_SECOND``.

``python -m exporters.fbx_format FILE.fbx`` prints a readable dump of any binary FBX file.
"""

from __future__ import annotations

import os
import struct
import sys
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from exporters.atomic import atomic_write
from exporters.errors import ExportError, FormatError

__all__ = [
    "FBX_VERSIONS",
    "KTIME_PER_SECOND",
    "Property",
    "FbxNode",
    "FbxDocument",
    "encode_document",
    "decode_document",
    "write_document",
    "read_document",
    "object_name",
    "split_object_name",
    "property70",
    "properties70_values",
    "dump",
    "main",
]

FBX_VERSIONS = (7400, 7500)
"""Versions ``encode_document`` writes: 7400 (32-bit offsets) and 7500 (64-bit offsets)."""
READ_VERSIONS = range(7100, 8000)
"""Versions ``decode_document`` accepts (7.1 to 7.7; 64-bit offsets from 7500 on)."""
KTIME_PER_SECOND = 46_186_158_000
"""FBX time unit (KTime ticks) per second."""
HEADER_MAGIC = b"Kaydara FBX Binary  \x00\x1a\x00"
"""The 23 bytes that open every binary FBX file (the uint32 version follows)."""
FOOTER_ID = b"\xfa\xbc\xab\x09\xd0\xc8\xd4\x66\xb1\x76\xfb\x83\x1c\xf7\x26\x7e"
"""Footer id matching ``FILE_ID`` and ``CREATION_TIME`` (the FBX SDK checks the three agree)."""
FILE_ID = b"\x28\xb3\x2a\xeb\xb6\x24\xcc\xc2\xbf\xc8\xb0\x2a\xa9\x2b\xfc\xf1"
"""Value of the top-level ``FileId`` node that goes with ``FOOTER_ID``."""
CREATION_TIME = "1970-01-01 10:00:00:000"
"""Value of the top-level ``CreationTime`` node that goes with ``FOOTER_ID``."""
FOOTER_MAGIC = b"\xf8\x5a\x8c\x6a\xde\xf5\xd9\x7e\xec\xe9\x0c\xe3\x75\x8f\x29\x0b"
"""The 16 bytes that close every binary FBX file."""
ALWAYS_NESTED = frozenset({"AnimationStack", "AnimationLayer"})
"""Node names whose record always ends with a null record, even without children."""
COMPRESS_MIN_BYTES = 128
"""Arrays with more data bytes than this are zlib-compressed (encoding 1)."""

SCALAR_CODES = {"C": "<B", "B": "<?", "Z": "<b", "Y": "<h", "I": "<i", "L": "<q", "F": "<f", "D": "<d"}
"""Scalar type code -> struct format of its value."""
ARRAY_CODES = {"b": np.dtype("<u1"), "c": np.dtype("<u1"), "i": np.dtype("<i4"), "l": np.dtype("<i8"),
               "f": np.dtype("<f4"), "d": np.dtype("<f8")}
"""Array type code -> element dtype in the file."""
_INT_RANGES = {"Z": (-(2**7), 2**7 - 1), "Y": (-(2**15), 2**15 - 1), "I": (-(2**31), 2**31 - 1),
               "L": (-(2**63), 2**63 - 1), "C": (0, 255)}


# ----------------------------------------------------------------------------- document model


@dataclass(frozen=True, eq=False)
class Property:
    """One typed property of a node.

    Attributes:
        code: the one-letter type code (see the module docstring).
        value: ``bool`` for ``B`` (and ``C`` built with ``Property.bool``: read back as int 0/1),
            ``int`` for ``C Z Y I L``, ``float`` for ``F D``, ``str`` for ``S`` (UTF-8; bytes that
            are not UTF-8 round-trip through surrogate escapes), ``bytes`` for ``R``, a 1-D
            ``numpy`` array for the array codes.
    """

    code: str
    value: Any

    def __post_init__(self) -> None:
        code, value = self.code, self.value
        if code in _INT_RANGES:
            if isinstance(value, bool):
                value = int(value)
            if not isinstance(value, (int, np.integer)):
                raise ExportError(f"FBX property {code}: expected an integer, found {type(value).__name__}")
            low, high = _INT_RANGES[code]
            if not low <= int(value) <= high:
                raise ExportError(f"FBX property {code}: expected a value in [{low}, {high}], found {value}")
            value = int(value)
        elif code == "B":
            value = bool(value)
        elif code in ("F", "D"):
            if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
                raise ExportError(f"FBX property {code}: expected a number, found {type(value).__name__}")
            value = float(value)
        elif code == "S":
            if not isinstance(value, str):
                raise ExportError(f"FBX property S: expected str, found {type(value).__name__}")
        elif code == "R":
            if not isinstance(value, (bytes, bytearray)):
                raise ExportError(f"FBX property R: expected bytes, found {type(value).__name__}")
            value = bytes(value)
        elif code in ARRAY_CODES:
            value = np.ascontiguousarray(np.asarray(value).reshape(-1))
            if code == "b":
                value = value.astype(bool)
            elif value.dtype != ARRAY_CODES[code].newbyteorder("="):
                cast = value.astype(ARRAY_CODES[code].newbyteorder("="))
                if np.issubdtype(cast.dtype, np.integer) and not np.array_equal(cast, value):
                    raise ExportError(f"FBX array {code}: values do not fit in {cast.dtype}")
                value = cast
        else:
            raise ExportError(f"FBX property: expected a type code from {_all_codes()}, found {code!r}")
        object.__setattr__(self, "value", value)

    # Constructors, one per type code, so that the code is always explicit.
    @classmethod
    def bool(cls, value: bool) -> Property:
        """``C``: a 1-byte boolean as the FBX SDK writes it (1 or 0)."""
        return cls("C", 1 if value else 0)

    @classmethod
    def i16(cls, value: int) -> Property:
        """``Y``: int16."""
        return cls("Y", value)

    @classmethod
    def i32(cls, value: int) -> Property:
        """``I``: int32."""
        return cls("I", value)

    @classmethod
    def i64(cls, value: int) -> Property:
        """``L``: int64 (object ids, KTime)."""
        return cls("L", value)

    @classmethod
    def f32(cls, value: float) -> Property:
        """``F``: float32."""
        return cls("F", value)

    @classmethod
    def f64(cls, value: float) -> Property:
        """``D``: float64."""
        return cls("D", value)

    @classmethod
    def string(cls, value: str) -> Property:
        """``S``: a string."""
        return cls("S", value)

    @classmethod
    def raw(cls, value: bytes) -> Property:
        """``R``: raw bytes."""
        return cls("R", value)

    @classmethod
    def array(cls, values: np.ndarray) -> Property:
        """An array property, its code from the dtype: float64 ``d``, float32 ``f``, int64 ``l``,
        int32 ``i``, bool ``b``, uint8 ``c`` (other dtypes: ExportError)."""
        values = np.asarray(values)
        codes = {"f8": "d", "f4": "f", "i8": "l", "i4": "i", "b1": "b", "u1": "c"}
        key = f"{values.dtype.kind}{values.dtype.itemsize}"
        if key not in codes:
            raise ExportError(f"FBX array: expected dtype float64/float32/int64/int32/bool/uint8, found {values.dtype}")
        return cls(codes[key], values)

    def __repr__(self) -> str:
        if self.code in ARRAY_CODES:
            return f"Property({self.code!r}, array[{self.value.size}])"
        return f"Property({self.code!r}, {self.value!r})"


def _all_codes() -> list[str]:
    return [*SCALAR_CODES, "S", "R", *ARRAY_CODES]


@dataclass(eq=False)
class FbxNode:
    """A node: a name, typed properties and child nodes.

    Attributes:
        name: ASCII, at most 255 bytes.
        properties: the node's properties, in file order.
        children: child nodes, in file order.
    """

    name: str
    properties: list[Property] = field(default_factory=list)
    children: list[FbxNode] = field(default_factory=list)

    def add(self, name: str, *properties: Property) -> FbxNode:
        """Append a child node with these properties; return the child."""
        child = FbxNode(name, list(properties))
        self.children.append(child)
        return child

    def find(self, name: str) -> FbxNode | None:
        """The first child called ``name``, or None."""
        return next((child for child in self.children if child.name == name), None)

    def find_all(self, name: str) -> list[FbxNode]:
        """Every child called ``name``, in file order."""
        return [child for child in self.children if child.name == name]

    @property
    def values(self) -> list[Any]:
        """The properties' values, in order."""
        return [p.value for p in self.properties]


@dataclass(eq=False)
class FbxDocument:
    """A whole binary FBX file.

    Attributes:
        version: 7400 or 7500 to write (any 7100-7700 when read).
        nodes: the top-level nodes, in file order.
    """

    version: int
    nodes: list[FbxNode]

    def find(self, name: str) -> FbxNode | None:
        """The first top-level node called ``name``, or None."""
        return next((node for node in self.nodes if node.name == name), None)


# ----------------------------------------------------------------------------- FBX object-model spellings


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


# ----------------------------------------------------------------------------- encoding


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
                data = zlib.compress(data, 6)
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
    """The bytes of a binary FBX file holding ``doc`` (layout: module docstring).

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
    data = encode_document(doc, compress=compress)
    with atomic_write(path, "wb") as handle:
        handle.write(data)


# ----------------------------------------------------------------------------- decoding


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
            raise self.error(offset - 1, f"a property type code from {_all_codes()}", repr(code))
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


# ----------------------------------------------------------------------------- dump tool


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
    import argparse

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


if __name__ == "__main__":
    sys.exit(main())
