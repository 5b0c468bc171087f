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

Modules: ``document`` (the tree: ``Property``, ``FbxNode``, ``FbxDocument``, type codes and the
file's fixed bytes), ``encode`` (tree -> bytes, ``write_document``), ``decode`` (bytes -> tree,
``read_document``), ``object_model`` (the FBX object model's generic spellings, still nothing
of motion capture: object names ``"Name\\x00\\x01Class"`` (``object_name``), the
``Properties70`` entries ``P: name, type, label, flags, values...`` (``property70``) and the
time unit ``KTIME_PER_SECOND``) and ``dump`` (a readable text view).

``python -m exporters.fbx_format FILE.fbx`` prints a readable dump of any binary FBX file.
"""

from exporters.fbx_format.decode import decode_document, read_document
from exporters.fbx_format.document import (
    ALWAYS_NESTED,
    ARRAY_CODES,
    COMPRESS_MIN_BYTES,
    CREATION_TIME,
    FBX_VERSIONS,
    FILE_ID,
    FOOTER_ID,
    FOOTER_MAGIC,
    HEADER_MAGIC,
    READ_VERSIONS,
    SCALAR_CODES,
    FbxDocument,
    FbxNode,
    Property,
)
from exporters.fbx_format.dump import dump, main
from exporters.fbx_format.encode import encode_document, write_document
from exporters.fbx_format.object_model import (
    KTIME_PER_SECOND,
    object_name,
    properties70_values,
    property70,
    split_object_name,
)

__all__ = [
    "ALWAYS_NESTED",
    "ARRAY_CODES",
    "COMPRESS_MIN_BYTES",
    "CREATION_TIME",
    "FBX_VERSIONS",
    "FILE_ID",
    "FOOTER_ID",
    "FOOTER_MAGIC",
    "HEADER_MAGIC",
    "KTIME_PER_SECOND",
    "READ_VERSIONS",
    "SCALAR_CODES",
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
