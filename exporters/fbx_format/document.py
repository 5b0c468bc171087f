"""The tree a binary FBX file holds (nodes, typed properties) and the file's fixed bytes.

Layout and type codes: see ``exporters.fbx_format``. Nothing here reads or writes bytes;
``encode`` and ``decode`` do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from exporters.errors import ExportError

__all__ = [
    "FBX_VERSIONS",
    "READ_VERSIONS",
    "HEADER_MAGIC",
    "FOOTER_ID",
    "FILE_ID",
    "CREATION_TIME",
    "FOOTER_MAGIC",
    "ALWAYS_NESTED",
    "COMPRESS_MIN_BYTES",
    "SCALAR_CODES",
    "ARRAY_CODES",
    "all_codes",
    "Property",
    "FbxNode",
    "FbxDocument",
]

FBX_VERSIONS = (7400, 7500)
"""Versions ``encode_document`` writes: 7400 (32-bit offsets) and 7500 (64-bit offsets)."""
READ_VERSIONS = range(7100, 8000)
"""Versions ``decode_document`` accepts (7.1 to 7.7; 64-bit offsets from 7500 on)."""
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
        code: the one-letter type code (see ``exporters.fbx_format``).
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
            raise ExportError(f"FBX property: expected a type code from {all_codes()}, found {code!r}")
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


def all_codes() -> list[str]:
    """Every type code, scalars, ``S``, ``R``, then arrays (as error messages list them)."""
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
