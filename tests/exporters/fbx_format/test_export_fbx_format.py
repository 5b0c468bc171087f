"""The binary FBX layer alone: every property type, both versions, offsets, compression,
the footer, the dump tool, and the errors a damaged file raises."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from exporters.errors import ExportError, FormatError
from exporters.fbx_format.encode import COMPRESS_LEVEL
from exporters.fbx_format import (
    ALWAYS_NESTED,
    COMPRESS_MIN_BYTES,
    FOOTER_MAGIC,
    HEADER_MAGIC,
    FbxDocument,
    FbxNode,
    Property,
    decode_document,
    dump,
    encode_document,
    main,
    object_name,
    properties70_values,
    property70,
    read_document,
    split_object_name,
    write_document,
)


def _every_type(rng: np.random.Generator) -> FbxNode:
    """A node holding one property of every type code, with a nested child."""
    node = FbxNode("AllTypes", [
        Property.bool(True), Property("B", False), Property("Z", -7), Property.i16(-1234), Property.i32(2**31 - 1),
        Property.i64(-(2**62)), Property.f32(1.5), Property.f64(np.pi), Property.string("héllo\x00\x01Class"),
        Property.raw(bytes(range(256))),
        Property.array(rng.normal(size=50)), Property.array(rng.normal(size=3).astype(np.float32)),
        Property.array(rng.integers(-(2**40), 2**40, size=100)), Property.array(np.arange(-5, 95, dtype=np.int32)),
        Property.array(rng.random(70) > 0.5), Property.array(np.arange(200, dtype=np.uint8)),
    ])
    node.add("Child", Property.string("")).add("Grandchild", Property.i32(3))
    node.add("EmptyChild")
    return node


def _same_property(a: Property, b: Property) -> None:
    assert a.code == b.code
    if isinstance(a.value, np.ndarray):
        assert b.value.dtype == a.value.dtype
        np.testing.assert_array_equal(a.value, b.value)
    else:
        assert type(a.value) is type(b.value) and a.value == b.value


def _same_node(a: FbxNode, b: FbxNode) -> None:
    assert a.name == b.name and len(a.properties) == len(b.properties) and len(a.children) == len(b.children)
    for pa, pb in zip(a.properties, b.properties, strict=True):
        _same_property(pa, pb)
    for ca, cb in zip(a.children, b.children, strict=True):
        _same_node(ca, cb)


@pytest.mark.parametrize("version", [7400, 7500])
@pytest.mark.parametrize("compress", [True, False])
def test_every_property_type_round_trips(rng, version: int, compress: bool) -> None:
    doc = FbxDocument(version, [_every_type(rng), FbxNode("Last", [Property.i32(1)])])
    back = decode_document(encode_document(doc, compress=compress))
    assert back.version == version
    for a, b in zip(doc.nodes, back.nodes, strict=True):
        _same_node(a, b)


@pytest.mark.parametrize("version", [7400, 7500])
def test_header_offsets_and_footer(rng, version: int) -> None:
    """Walk the records by hand: end offsets point at the next record, null records where stated."""
    doc = FbxDocument(version, [FbxNode("A", [Property.i32(5)]), FbxNode("B"), _every_type(rng),
                                FbxNode("AnimationLayer", [Property.i64(1)])])
    data = encode_document(doc)
    assert data.startswith(HEADER_MAGIC) and struct.unpack_from("<I", data, 23)[0] == version
    meta = struct.Struct("<3Q" if version >= 7500 else "<3I")
    null = meta.size + 1
    offset, ends = 27, []
    for node in doc.nodes:
        end, count, length = meta.unpack_from(data, offset)
        assert count == len(node.properties)
        name_length = data[offset + meta.size]
        assert data[offset + null:offset + null + name_length] == node.name.encode()
        nested = bool(node.children) or not node.properties or node.name in ALWAYS_NESTED
        assert (data[end - null:end] == bytes(null)) == nested
        ends.append(end)
        offset = end
    assert data[offset:offset + null] == bytes(null)  # the top-level list ends with a null record
    footer = data[offset + null:]
    assert footer.endswith(FOOTER_MAGIC)
    assert struct.unpack_from("<I", footer, len(footer) - 16 - 120 - 4)[0] == version
    assert footer[-136:-16] == bytes(120)
    assert (len(data) - 16 - 120 - 4) % 16 == 0  # the version sits on a 16-byte boundary


def test_arrays_are_compressed_above_the_threshold() -> None:
    small = np.arange(COMPRESS_MIN_BYTES // 8, dtype=np.float64)  # exactly the threshold: raw
    large = np.zeros(1000)                                       # highly compressible
    data = encode_document(FbxDocument(7400, [FbxNode("S", [Property.array(small)]),
                                              FbxNode("L", [Property.array(large)])]))
    raw_header = struct.pack("<3I", small.size, 0, small.nbytes)
    assert raw_header in data
    position = data.index(struct.pack("<3I", large.size, 1, len(zlib.compress(large.tobytes(), COMPRESS_LEVEL))))
    assert position > 0
    assert len(data) < 8000 // 4  # the large array did not go in raw


def test_output_is_deterministic(rng) -> None:
    doc = FbxDocument(7400, [_every_type(rng)])
    assert encode_document(doc) == encode_document(doc)


def test_write_and_read_a_file(tmp_path: Path, rng) -> None:
    doc = FbxDocument(7500, [_every_type(rng)])
    write_document(tmp_path / "x.fbx", doc)
    _same_node(read_document(tmp_path / "x.fbx").nodes[0], doc.nodes[0])
    assert [p.name for p in tmp_path.iterdir()] == ["x.fbx"]  # no temporary file left


def test_object_names_and_properties70() -> None:
    assert object_name("pelvis", "Model") == "pelvis\x00\x01Model"
    assert split_object_name("pelvis\x00\x01Model") == ("pelvis", "Model")
    assert split_object_name("plain") == ("plain", "")
    table = FbxNode("Properties70", [], [
        property70("UpAxis", "int", "Integer", "", 1),
        property70("Lcl Translation", "Lcl Translation", "", "A", 1.0, 2.0, 3.0),
        property70("TimeSpanStop", "KTime", "Time", "", 46186158000),
        property70("Name", "KString", "", "", "Take"),
    ])
    values = properties70_values(FbxNode("Parent", [], [table]))
    assert values == {"UpAxis": [1], "Lcl Translation": [1.0, 2.0, 3.0], "TimeSpanStop": [46186158000],
                      "Name": ["Take"]}
    assert [p.code for p in table.children[2].properties] == ["S", "S", "S", "S", "L"]
    assert [p.code for p in table.children[0].properties][-1] == "I"


def test_dump_tool_prints_the_tree(tmp_path: Path, rng, capsys) -> None:
    doc = FbxDocument(7400, [FbxNode("Model", [Property.i64(7), Property.string(object_name("hip", "Model"))],
                                     [FbxNode("Values", [Property.array(np.arange(20.0))])])])
    write_document(tmp_path / "d.fbx", doc)
    assert main([str(tmp_path / "d.fbx"), "--items", "3"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "; FBX 7.4 binary (7400)"
    assert "Model: L 7, 'hip::Model' {" in out
    assert "  Values: d[20] {0, 1, 2, ... (20 values)}" in out
    assert dump(doc) == dump(read_document(tmp_path / "d.fbx"))
    assert main([str(tmp_path / "missing.fbx")]) == 2


# ----------------------------------------------------------------------------- errors


def test_property_values_are_checked() -> None:
    with pytest.raises(ExportError, match=r"FBX property I: expected a value in"):
        Property.i32(2**31)
    with pytest.raises(ExportError, match=r"FBX property S: expected str"):
        Property("S", b"bytes")
    with pytest.raises(ExportError, match=r"FBX array: expected dtype"):
        Property.array(np.zeros(3, dtype=np.complex64))
    with pytest.raises(ExportError, match=r"expected a type code"):
        Property("Q", 1)
    with pytest.raises(ExportError, match=r"values do not fit"):
        Property("i", np.array([2**40]))


def test_bad_node_name_and_version() -> None:
    with pytest.raises(ExportError, match=r"node name 'x+': expected 1 to 255 ASCII bytes, found 256"):
        encode_document(FbxDocument(7400, [FbxNode("x" * 256)]))
    with pytest.raises(ExportError, match=r"FBX version: expected one of \[7400, 7500\], found 7300"):
        encode_document(FbxDocument(7300, []))


def _valid_bytes() -> bytes:
    node = FbxNode("Node", [Property.i32(1), Property.array(np.arange(100.0))], [FbxNode("Child", [Property.i32(2)])])
    return encode_document(FbxDocument(7400, [node]))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: b"; FBX 7.4.0 project file\n" + d,
         r"x\.fbx, byte 0: expected the binary FBX magic .*found an ASCII FBX file"),
        (lambda d: d[:23] + struct.pack("<I", 6100) + d[27:],
         r"byte 23: expected an FBX version from 7100 to 7999, found 6100"),
        (lambda d: d[:60], r"x\.fbx, byte \d+: expected .* found the end of the file"),
        (lambda d: d[:27] + struct.pack("<I", 30) + d[31:],
         r"byte 27: expected node 'Node' ending within its scope .*found end offset 30"),
        (lambda d: d[:44] + b"Q" + d[45:], r"byte 44: expected a property type code from .* found 'Q'"),
    ],
)
def test_damaged_files_name_file_and_byte(damage, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        decode_document(damage(_valid_bytes()), "x.fbx")


def test_corrupt_compressed_array_is_reported() -> None:
    data = bytearray(_valid_bytes())
    header = struct.pack("<3I", 100, 1, 0)[:8]
    at = bytes(data).index(header) + 12
    data[at:at + 8] = b"\xff" * 8
    with pytest.raises(FormatError, match=r"expected zlib-compressed array data, found corrupt data"):
        decode_document(bytes(data), "x.fbx")


def test_missing_null_record_is_reported() -> None:
    data = bytearray(_valid_bytes())
    (end,) = struct.unpack_from("<I", data, 27)
    data[end - 13] = 1  # the null record closing the children of "Node"
    with pytest.raises(FormatError, match=r"expected a null record closing the children of node 'Node'"):
        decode_document(bytes(data), "x.fbx")
